/**
 * The live sensor and its consumer on the real stack (issue 13's must-show).
 *
 * Real traffic on loopback (curl against an HTTP server started here, on a port of its own, so a
 * BPF filter keeps everyone else's traffic out) is captured live by `pcap-replay --interface lo`
 * into a 3-partition topic while a parallel `tcpdump -i lo -w` captures the same filter. Then
 * `pcap-tail` of the topic piped into `tshark -r -` must show the same frames (bytes) at the same
 * µs times as `tcpdump -r` of the parallel capture, in time order although the packets were spread
 * over partitions. `--max-packets`, SIGINT and a reader that goes away must leave a valid pcap
 * stream (tshark and capinfos read it without error). tcpdump needs root.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { metronPcapValue } from '../../src/formats/pcap/pcap-record.js';
import { createTopic, kafkaClient, produce, type TestRecord, tsKey, udpFrame } from '../helpers/ingest.js';
import { type PcapPacketRead, parsePcap, REPO, readPcap, run, shellQuote, tsharkNoise } from '../helpers/query.js';
import { ensureStack, uniqueName } from '../helpers/stack.js';

const ep = ensureStack();
const brokers = ep.kafkaBrokers;
const isRoot = process.getuid?.() === 0;
const TSX = import.meta.resolve('tsx');
const work = mkdtempSync(join(tmpdir(), 'i13-sensor-live-'));
after(() => rmSync(work, { recursive: true, force: true }));

const cli = (name: 'replay' | 'pcap-tail'): string[] => ['--import', TSX, `${REPO}src/cli/${name}.ts`];
const tailCommand = (args: readonly string[]): string =>
  [process.execPath, ...cli('pcap-tail'), '-b', brokers, ...args].map(shellQuote).join(' ');
const bash = (script: string, timeoutMs = 120_000) =>
  run('bash', ['-o', 'pipefail', '-c', script], { timeoutMs, cwd: work });
const tail = (args: readonly string[], timeoutMs = 120_000) =>
  run(process.execPath, [...cli('pcap-tail'), '-b', brokers, ...args], { timeoutMs });

/** A long-running child whose stderr we watch for a line. */
class Child {
  readonly proc: ChildProcess;
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(command: string, args: readonly string[], stdin: 'ignore' | 'pipe' = 'ignore') {
    this.proc = spawn(command, args, { stdio: [stdin, 'ignore', 'pipe'] });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (s: string) => {
      this.stderr += s;
    });
    this.exited = once(this.proc, 'close').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stderr)) {
      if (this.proc.exitCode !== null) throw new Error(`exited before ${pattern}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} after ${timeoutMs} ms: ${this.stderr}`);
      await sleep(50);
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Same packets regardless of the order of packets with the same µs time (a merge may swap those). */
function canonical(ps: readonly PcapPacketRead[]): string[] {
  return ps.map((p) => `${p.tsMicro}:${p.origLen}:${p.data.toString('hex')}`).sort();
}

/**
 * Pairs two captures of the same traffic by frame bytes (on loopback TCP every frame is unique: its
 * sequence numbers and TCP timestamps differ) and returns the time differences in µs, or throws
 * when the frames are not the same set.
 */
function timeDifferencesUs(ours: readonly PcapPacketRead[], theirs: readonly PcapPacketRead[], what: string): number[] {
  const byFrame = new Map<string, bigint[]>();
  for (const p of theirs) {
    const k = `${p.origLen}:${p.data.toString('hex')}`;
    byFrame.set(k, [...(byFrame.get(k) ?? []), p.tsMicro]);
  }
  assert.equal(ours.length, theirs.length, `${what}: packet counts`);
  return ours.map((p, i) => {
    const times = byFrame.get(`${p.origLen}:${p.data.toString('hex')}`);
    assert.ok(times?.length, `${what}: packet ${i} (${p.tsMicro} µs) is not in the other capture`);
    const t = times.shift()!;
    return Number(p.tsMicro - t);
  });
}

const maxAbs = (xs: readonly number[]): number => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const exact = (xs: readonly number[]): number => xs.filter((x) => x === 0).length;

function assertTimeOrdered(ps: readonly PcapPacketRead[], what: string): void {
  for (let i = 1; i < ps.length; i++)
    assert.ok(ps[i - 1].tsNs <= ps[i].tsNs, `${what}: packet ${i} is earlier than packet ${i - 1}`);
}

/** The topic's records (key = µs time), sorted by time: what pcap-tail must show. */
async function topicRecords(topic: string): Promise<Array<{ us: bigint }>> {
  const consumer = kafkaClient(brokers).consumer({ groupId: uniqueName('i13-check') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  await admin.disconnect();
  const out: Array<{ us: bigint }> = [];
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        out.push({ us: message.key!.readBigUInt64BE(0) });
        if (out.length === total) resolve();
      },
    });
  });
  await consumer.disconnect();
  return out.sort((a, b) => (a.us < b.us ? -1 : a.us > b.us ? 1 : 0));
}

async function capinfosCount(file: string): Promise<number> {
  const r = await run('capinfos', ['-c', '-M', file]);
  assert.equal(r.code, 0, `capinfos ${file}: ${r.stderr}`);
  assert.equal(r.stderr.trim(), '', 'capinfos reads it without complaint');
  const m = /Number of packets:\s+(\d+)/.exec(r.stdout.toString());
  assert.ok(m, r.stdout.toString());
  return Number(m[1]);
}

describe('live sensor on loopback → topic → pcap-tail', { skip: !isRoot && 'tcpdump needs root' }, () => {
  const topic = uniqueName('i13-live');
  const refPath = join(work, 'reference.pcap');
  let server: Server;
  let port = 0;
  let reference: PcapPacketRead[] = [];
  let tailed: PcapPacketRead[] = [];

  before(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`pcapline live sensor test ${req.url} ${'x'.repeat(2000)}\n`);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    await createTopic(brokers, topic, 3);
  });
  after(() => server?.close());

  test('pcap-replay --interface lo captures what a parallel tcpdump captures; pcap-tail | tshark -r - shows the same frames and µs times', async (t) => {
    const filter = `tcp port ${port}`;
    // Two plain tcpdumps bracket the sensor: one opened before it, one after. The kernel stamps a
    // loopback packet separately for each capture socket, as it hands it to them one by one, so
    // two parallel captures differ by a µs or two; the sensor's socket sits between the two.
    const refDump = new Child('tcpdump', ['-i', 'lo', '-U', '-n', '-w', refPath, filter]);
    await refDump.waitFor(/listening on lo/);
    const baselinePath = join(work, 'baseline.pcap');
    const sensor = new Child(process.execPath, [
      ...cli('replay'),
      '--interface',
      'lo',
      '--filter',
      filter,
      '-t',
      topic,
      '-b',
      brokers,
      '--stats-interval',
      '1',
    ]);
    let baseDump: Child | null = null;
    try {
      await sensor.waitFor(/reading tcpdump on lo, publishing to/);
      await sleep(300);
      baseDump = new Child('tcpdump', ['-i', 'lo', '-U', '-n', '-w', baselinePath, filter]);
      await baseDump.waitFor(/listening on lo/);
      await sleep(500);
      for (let i = 0; i < 20; i++) {
        const r = await run('curl', [
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          `http://127.0.0.1:${port}/req-${i}`,
        ]);
        assert.equal(r.stdout.toString(), '200', `curl ${i}: ${r.stderr}`);
      }
      await sleep(2500); // tcpdump's kernel buffer timeout is 1 s: every packet is out of the kernel
      await sensor.waitFor(/packets in [1-9]/, 30_000); // the periodic status line
    } finally {
      sensor.proc.kill('SIGINT');
      refDump.proc.kill('SIGINT');
      baseDump?.proc.kill('SIGINT');
    }
    const [s, ref] = await Promise.all([sensor.exited, refDump.exited, baseDump?.exited]);
    assert.equal(s.code, 0, `pcap-replay exits 0 on SIGINT: ${sensor.stderr}`);
    assert.equal(ref.code, 0, refDump.stderr);

    // The oracle: tcpdump -r of the parallel capture.
    const refRead = await run('tcpdump', ['-r', refPath, '-w', '-']);
    assert.equal(refRead.code, 0, refRead.stderr);
    reference = parsePcap(refRead.stdout, 'tcpdump -r reference').packets;
    assert.ok(reference.length >= 20 * 6, `20 HTTP exchanges on the wire (${reference.length} packets)`);
    const sent = /sent (\d+) packets to/.exec(sensor.stderr);
    assert.ok(sent, sensor.stderr);
    assert.equal(Number(sent[1]), reference.length, `every captured packet acknowledged: ${sensor.stderr}`);
    assert.match(sensor.stderr, /capture: captured \d+, received by filter \d+, dropped by kernel 0/);

    // The packets were spread over the partitions by key hash.
    const admin = kafkaClient(brokers).admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    assert.ok(offsets.filter((p) => Number(p.high) > 0).length >= 2, 'more than one partition holds packets');

    // pcap-tail | tshark -r -: tshark writes back what it read, so frames and times can be compared byte for byte.
    const viaTshark = await bash(`${tailCommand(['-t', topic])} | tshark -r - -F pcap -w -`);
    assert.equal(viaTshark.code, 0, viaTshark.stderr);
    assert.match(
      viaTshark.stderr,
      new RegExp(`pcap-tail: wrote ${reference.length} packets from ${topic} \\(end of topic\\)`),
    );
    assert.equal(tsharkNoise(viaTshark.stderr.replace(/^pcap-tail: .*$/gm, '')), '', 'tshark reads the stream cleanly');
    const ours = parsePcap(viaTshark.stdout, 'pcap-tail | tshark').packets;
    tailed = ours;
    assertTimeOrdered(ours, 'pcap-tail (3 partitions merged)');
    // Same frames, byte for byte (and orig_len); times paired by frame.
    const vsReference = timeDifferencesUs(ours, reference, 'pcap-tail vs tcpdump -r (opened before)');
    const after = parsePcap((await run('tcpdump', ['-r', baselinePath, '-w', '-'])).stdout).packets;
    const vsAfter = timeDifferencesUs(ours, after, 'pcap-tail vs tcpdump -r (opened after)');
    const refVsAfter = timeDifferencesUs(reference, after, 'tcpdump vs tcpdump');
    t.diagnostic(
      `${ours.length} packets; pcap-tail vs tcpdump opened before: ${exact(vsReference)} same µs, max |Δ| ${maxAbs(vsReference)} µs; ` +
        `vs tcpdump opened after: ${exact(vsAfter)} same µs, max |Δ| ${maxAbs(vsAfter)} µs; ` +
        `the two tcpdumps: ${exact(refVsAfter)} same µs, max |Δ| ${maxAbs(refVsAfter)} µs`,
    );
    // Each of our times lies between the two tcpdumps' times for the same frame.
    for (let i = 0; i < ours.length; i++) {
      const lo = Math.min(0, vsReference[i] - vsAfter[i]);
      const hi = Math.max(0, vsReference[i] - vsAfter[i]);
      // vsReference = ours - ref, vsAfter = ours - after: ours within [ref, after] ⇔ the signs differ (or one is 0).
      assert.ok(
        Math.sign(vsReference[i]) * Math.sign(vsAfter[i]) <= 0,
        `packet ${i}: ${vsReference[i]} µs from the earlier tcpdump, ${vsAfter[i]} µs from the later one (${lo}..${hi})`,
      );
    }
    assert.ok(maxAbs(vsReference) <= Math.max(2, maxAbs(refVsAfter)), 'within the tcpdump-vs-tcpdump spread');

    // What tshark shows of pcap-tail's stream, field for field, is what it shows of the topic's
    // records written straight from the sensor's time keys (no 1 µs socket jitter in between).
    const fields = [
      '-T',
      'fields',
      '-e',
      'frame.time_epoch',
      '-e',
      'frame.len',
      '-e',
      'tcp.srcport',
      '-e',
      'tcp.flags',
    ];
    const shown = await bash(`${tailCommand(['-t', topic, '-q'])} | tshark -n -r - ${fields.join(' ')}`);
    assert.equal(shown.code, 0, shown.stderr);
    const shownLines = shown.stdout.toString().trim().split('\n');
    assert.equal(shownLines.length, reference.length);
    const fromTopic = await topicRecords(topic);
    assert.deepEqual(
      shownLines.map((l) => l.split('\t')[0]),
      fromTopic.map((r) => `${r.us / 1_000_000n}.${String(r.us % 1_000_000n).padStart(6, '0')}000`),
      'tshark shows each record at its key time, in time order',
    );
  });

  test('--max-packets leaves a valid pcap stream (tshark on the pipe, capinfos on the file)', async () => {
    assert.ok(reference.length > 10, 'needs the live capture');
    const piped = await bash(
      `${tailCommand(['-t', topic, '--max-packets', '7', '-q'])} | tshark -r - -T fields -e frame.number`,
    );
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(tsharkNoise(piped.stderr), '');
    assert.equal(piped.stdout.toString().trim().split('\n').length, 7);
    const file = join(work, 'max.pcap');
    const r = await tail(['-t', topic, '--max-packets', '7', '-o', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote 7 packets .*--max-packets reached/);
    assert.equal(await capinfosCount(file), 7);
    assert.deepEqual(
      canonical((await readPcap(file)).packets),
      canonical(tailed.slice(0, 7)),
      'the first 7 packets in time order',
    );
  });

  test('stdin: tcpdump -r | pcap-replay -i - with ns keys; pcap-tail writes a ns pcap with the same packets', async () => {
    assert.ok(reference.length > 10, 'needs the live capture');
    const topic2 = uniqueName('i13-stdin');
    await createTopic(brokers, topic2, 2);
    const replayCmd = [
      process.execPath,
      ...cli('replay'),
      '-i',
      '-',
      '-t',
      topic2,
      '-b',
      brokers,
      '--granularity',
      'NANOSECONDS',
    ]
      .map(shellQuote)
      .join(' ');
    const pub = await bash(`tcpdump -r ${shellQuote(refPath)} -w - 2>/dev/null | ${replayCmd}`);
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stderr, new RegExp(`sent ${reference.length} packets to ${topic2}`));
    const out = join(work, 'ns.pcap');
    const r = await tail(['-t', topic2, '--granularity', 'NANOSECONDS', '--time-stamp-precision', 'nano', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const ns = await readPcap(out);
    assert.equal(ns.nanos, true);
    assert.deepEqual(canonical(ns.packets), canonical(reference), 'exactly the file fed in, at the same µs');
    assert.ok(
      ns.packets.every((p) => p.tsNs % 1000n === 0n),
      'µs capture times, exact in ns',
    );
    assert.equal(await capinfosCount(out), reference.length);
  });
});

describe('pcap-tail on a larger topic', () => {
  const topic = uniqueName('i13-big');
  const PACKETS = 30_000;
  const BASE_US = 1_800_000_000_000_000n;
  let good = 0;

  before(async () => {
    await createTopic(brokers, topic, 3);
    const records: TestRecord[] = [];
    for (let i = 0; i < PACKETS; i++) {
      const p = i % 3;
      // Every 1000th record is malformed (a 4-byte key, then an empty value): counted and skipped.
      if (i % 1000 === 500) records.push({ partition: p, key: Buffer.alloc(4), value: udpFrame(`bad${i}`) });
      else if (i % 1000 === 900)
        records.push({ partition: p, key: tsKey(BASE_US + BigInt(i)), value: Buffer.alloc(0) });
      else {
        records.push({ partition: p, key: tsKey(BASE_US + BigInt(i)), value: udpFrame(`pkt${i}`, 40000, 53, 100) });
        good++;
      }
    }
    await produce(brokers, topic, records, 5000);
  });

  test('reads every good packet in time order, counts and skips the malformed ones', async () => {
    const r = await tail(['-t', topic]);
    assert.equal(r.code, 0, r.stderr);
    const pcap = parsePcap(r.stdout, 'pcap-tail');
    assert.equal(pcap.packets.length, good);
    assertTimeOrdered(pcap.packets, 'pcap-tail');
    assert.match(r.stderr, /skipped malformed record \(partition \d, offset \d+\): bad-key-length/);
    assert.match(
      r.stderr,
      /skipped 60 malformed records \((bad-key-length 30, empty-value 30|empty-value 30, bad-key-length 30)\)/,
    );
    assert.ok(r.stderr.split('\n').filter((l) => l.includes('skipped malformed record')).length <= 6, 'rate-limited');
  });

  test('starts at an offset per partition, N before the end, or a time', async () => {
    const one = parsePcap((await tail(['-t', topic, '--offset', '1:9990'])).stdout).packets;
    assert.equal(one.length, 10, 'partition 1 from offset 9990: its last 10 records');
    assert.ok(one.every((p) => Number(p.tsMicro - BASE_US) % 3 === 1));
    const last = parsePcap((await tail(['-t', topic, '--offset=-5'])).stdout).packets;
    assert.equal(last.length, 15, '5 from the end of each of 3 partitions');
    const since = await tail(['-t', topic, '--since', '10m', '-q']);
    assert.equal(parsePcap(since.stdout).packets.length, good, 'produced in the last 10 minutes: all of it');
    const future = await tail(['-t', topic, '--since', String(Date.now() + 3_600_000)]);
    assert.equal(future.code, 0, future.stderr);
    assert.equal(parsePcap(future.stdout).packets.length, 0, 'nothing yet: an empty but valid pcap');
  });

  test('SIGINT in the middle of a --follow run leaves a valid capture of complete records', async () => {
    const file = join(work, 'sigint.pcap');
    const c = new Child(process.execPath, [
      ...cli('pcap-tail'),
      '-b',
      brokers,
      '-t',
      topic,
      '--follow',
      '--offset',
      'beginning',
      '-o',
      file,
    ]);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        if (statSync(file).size > 64 * 1024) break;
      } catch {}
      await sleep(20);
    }
    c.proc.kill('SIGINT');
    const { code } = await c.exited;
    assert.equal(code, 0, c.stderr);
    assert.match(c.stderr, /pcap-tail: wrote \d+ packets from .* \(stopped\)/);
    const n = await capinfosCount(file);
    assert.ok(n > 0 && n <= good, `${n} packets`);
    assert.equal((await readPcap(file)).packets.length, n, 'complete records only');
  });

  test('a reader that goes away (| head) ends it quietly with exit 0', async () => {
    const r = await bash(
      `${tailCommand(['-t', topic])} | head -c 5000 > /dev/null; echo "status \${PIPESTATUS[0]}" >&2`,
    );
    assert.match(r.stderr, /status 0/);
    assert.match(r.stderr, /the reader closed the stream/);
    assert.doesNotMatch(r.stderr, /EPIPE|Error/);
  });

  test('FROM_VALUE records (one-packet pcaps) and ms keys', async () => {
    const t = uniqueName('i13-value');
    await createTopic(brokers, t, 1);
    const frames = Array.from({ length: 20 }, (_, i) => udpFrame(`v${i}`));
    const base = 1_800_000_000_000_000_000n;
    await produce(brokers, t, [
      ...frames.map((f, i) => ({ partition: 0, key: null, value: metronPcapValue(base + BigInt(i) * 1_000_000n, f) })),
      { partition: 0, key: null, value: Buffer.from('garbage') },
    ]);
    const r = await tail(['-t', t, '--scheme', 'FROM_VALUE']);
    assert.equal(r.code, 0, r.stderr);
    const ps = parsePcap(r.stdout).packets;
    assert.equal(ps.length, 20);
    assert.ok(ps.every((p, i) => p.data.equals(frames[i]) && p.tsNs === base + BigInt(i) * 1_000_000n));
    assert.match(r.stderr, /skipped 1 malformed records/);

    const ms = uniqueName('i13-ms');
    await createTopic(brokers, ms, 1);
    await produce(brokers, ms, [{ partition: 0, key: tsKey(1_800_000_000_123n), value: frames[0] }]);
    const m = parsePcap((await tail(['-t', ms, '--granularity', 'MILLISECONDS'])).stdout).packets;
    assert.equal(m[0].tsMicro, 1_800_000_000_123_000n);
  });
});

describe('sensor CLI errors: one line, exit 2', () => {
  const oneLine = (r: { code: number | null; stderr: string }, pattern: RegExp) => {
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  };
  const replay = (args: readonly string[], input?: Buffer) =>
    run(process.execPath, [...cli('replay'), '-b', brokers, ...args], { timeoutMs: 60_000, input });

  test('pcap-tail: unknown -X key, no such topic', async () => {
    oneLine(await tail(['-t', 'whatever', '-X', 'message.timeout.ms=5']), /-X message\.timeout\.ms: unknown/);
    oneLine(await tail(['-t', uniqueName('i13-missing')]), /no such topic/);
  });

  test('pcap-replay: a bad interface, a bad filter, stdin that is not a pcap', {
    skip: !isRoot && 'needs root',
  }, async () => {
    oneLine(await replay(['--interface', 'i13nosuch0', '-t', 'x']), /tcpdump: .*(No such device|doesn't exist)/i);
    oneLine(await replay(['--interface', 'lo', '--filter', 'tcp port', '-t', 'x']), /tcpdump: .*syntax error/);
    oneLine(
      await replay(['-i', '-', '-t', 'x'], Buffer.from('this is not a capture at all')),
      /stdin: not a pcap file/,
    );
    oneLine(await replay(['-i', '-', '--loop', '2', '-t', 'x']), /--loop applies to a file/);
  });
});
