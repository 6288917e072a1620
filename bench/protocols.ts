/**
 * Protocol analysis benchmark (`npm run bench:protocols`), two figures with their baselines:
 *
 * 1. Throughput: pcap-analyze (the compiled CLI, events to /dev/null) on a mixed capture, beside
 *    `tshark -r capture -T ek` on the same file. The capture is the six real loopback captures
 *    (DNS, HTTP, TLS, SMTP, SIP, ICMP) repeated with each copy on its own addresses and 100 s
 *    later, so every copy is new flows. Target: at least 5x tshark's packets per second.
 * 2. Memory: peak RSS of pcap-analyze on 1,000,000 half-open TCP connections (SYN only, distinct
 *    4-tuples) followed by real traffic. Target: at most 300 MB.
 *
 * Options: --copies N (default 400), --syns N (default 1000000), --keep (leave the captures in
 * bench/results). Figures are one run on a shared machine: compare ratios, not absolutes.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PcapFileWriter, readPcapFile } from '../src/formats/pcap/pcap-file.js';
import { buildFrame } from '../test/support/frame-builder.js';
import { RESULTS_DIR, ROOT, buildDist, table } from './lib.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const COPIES = opt('copies', 400);
const SYNS = opt('syns', 1_000_000);
const FIXTURES = join(ROOT, 'test/fixtures/protocols');

async function fixturePackets(): Promise<{ tsNs: bigint; data: Buffer }[]> {
  const all: { tsNs: bigint; data: Buffer }[] = [];
  for (const f of readdirSync(FIXTURES)
    .filter((n) => n.endsWith('.pcap'))
    .sort())
    for await (const p of readPcapFile(readFileSync(join(FIXTURES, f))))
      all.push({ tsNs: p.tsNs, data: Buffer.from(p.data) });
  return all.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
}

/** Rewrites loopback addresses (both ends) to copy-specific ones: 127.0.0.1 → 10.a.b.1, ::1 → fd00::a:b. */
function relocate(frame: Buffer, copy: number): Buffer {
  const b = Buffer.from(frame);
  const type = b.readUInt16BE(12);
  if (type === 0x0800) {
    for (const at of [26, 30]) {
      b[at] = 10;
      b[at + 1] = (copy >> 8) & 0xff;
      b[at + 2] = copy & 0xff;
      b[at + 3] = 1;
    }
  } else if (type === 0x86dd) {
    for (const at of [22, 38]) {
      b.fill(0, at, at + 16);
      b[at] = 0xfd;
      b[at + 14] = (copy >> 8) & 0xff;
      b[at + 15] = copy & 0xff;
    }
  }
  return b;
}

async function writeMixed(path: string): Promise<number> {
  const base = await fixturePackets();
  const w = new PcapFileWriter(createWriteStream(path));
  for (let c = 0; c < COPIES; c++) {
    const shift = BigInt(c) * 100_000_000_000n;
    for (const p of base) await w.writePacket(p.tsNs + shift, relocate(p.data, c));
  }
  await w.end();
  return w.packets;
}

async function writeSynFlood(path: string): Promise<number> {
  const w = new PcapFileWriter(createWriteStream(path));
  const t0 = 1_700_000_000_000_000_000n;
  for (let i = 0; i < SYNS; i++) {
    const src = Uint8Array.from([10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]);
    const frame = buildFrame({
      ip: { version: 4, src, dst: Uint8Array.from([192, 0, 2, 1]) },
      l4: {
        proto: 'tcp',
        srcPort: 1024 + (i % 60000),
        dstPort: i % 2 === 0 ? 443 : 8000 + (i % 1000),
        seq: i * 7919,
        flags: 2,
      },
    });
    await w.writePacket(t0 + BigInt(i) * 10_000n, frame); // 100,000 SYNs per second of packet time
  }
  // then real traffic, which must still be analyzed
  for (const p of await fixturePackets())
    await w.writePacket(t0 + BigInt(SYNS) * 10_000n + (p.tsNs % 1_000_000_000_000n), p.data);
  await w.end();
  return w.packets;
}

/**
 * Runs a command under /usr/bin/time: CPU seconds (user + system), wall seconds and peak RSS (MB).
 * Rates use CPU time: on a shared machine wall time measures the neighbours' load as much as the tool.
 */
function measure(cmd: string, args: string[]): { seconds: number; wall: number; rssMb: number; stderr: string } {
  const started = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS_KB=%M CPU=%U+%S', cmd, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr.slice(-500)}`);
  const kb = Number(/MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? Number.NaN);
  const cpu = /CPU=([\d.]+)\+([\d.]+)/.exec(r.stderr);
  const seconds = cpu ? Number(cpu[1]) + Number(cpu[2]) : wall;
  return { seconds, wall, rssMb: kb / 1024, stderr: r.stderr };
}

async function main(): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  buildDist();
  const cli = join(ROOT, 'bin/pcap-analyze');
  const mixed = join(RESULTS_DIR, 'protocols-mixed.pcap');
  const flood = join(RESULTS_DIR, 'protocols-syn-flood.pcap');
  try {
    const packets = await writeMixed(mixed);
    const mb = statSync(mixed).size / 1e6;
    process.stderr.write(`mixed capture: ${packets} packets, ${mb.toFixed(1)} MB\n`);
    const ours = measure(process.execPath, [cli, '-i', mixed, '-o', '/dev/null']);
    const events = /(\d+) events/.exec(ours.stderr)?.[1] ?? '?';
    const tshark = measure('tshark', ['-r', mixed, '-T', 'ek']);
    const ourPps = packets / ours.seconds;
    const tsharkPps = packets / tshark.seconds;

    const syns = await writeSynFlood(flood);
    process.stderr.write(`syn flood capture: ${syns} packets\n`);
    const floodRun = measure(process.execPath, [cli, '-i', flood, '-o', '/dev/null', '--stats']);
    const floodEvents = /(\d+) events/.exec(floodRun.stderr)?.[1] ?? '?';

    console.log(`\nprotocol analysis, ${packets} packets (${COPIES} copies of the six loopback captures)\n`);
    console.log(
      table(
        ['run', 'CPU s', 'wall s', 'packets/CPU s', 'peak RSS MB', 'vs tshark'],
        [
          [
            `pcap-analyze (${events} events)`,
            ours.seconds.toFixed(2),
            ours.wall.toFixed(2),
            ourPps.toFixed(0),
            ours.rssMb.toFixed(0),
            `${(ourPps / tsharkPps).toFixed(1)}x`,
          ],
          [
            'tshark -T ek (baseline)',
            tshark.seconds.toFixed(2),
            tshark.wall.toFixed(2),
            tsharkPps.toFixed(0),
            tshark.rssMb.toFixed(0),
            '1.0x',
          ],
        ],
      ),
    );
    console.log(`target: >= 5x tshark's packets/s -> ${ourPps / tsharkPps >= 5 ? 'met' : 'NOT met'}\n`);
    console.log(
      table(
        ['half-open flood', 'packets', 'CPU s', 'peak RSS MB', 'events'],
        [
          [
            `${SYNS} SYNs + real traffic`,
            String(syns),
            floodRun.seconds.toFixed(2),
            floodRun.rssMb.toFixed(0),
            floodEvents,
          ],
        ],
      ),
    );
    console.log(`target: peak RSS <= 300 MB -> ${floodRun.rssMb <= 300 ? 'met' : 'NOT met'}`);
    const statsLine = floodRun.stderr.split('\n').find((l) => l.startsWith('{'));
    if (statsLine) {
      const st = JSON.parse(statsLine);
      console.log(`half-open entries evicted: ${st.tcpHalfOpenEvicted}, full connections: ${st.tcpConnections}`);
    }
  } finally {
    if (!argv.includes('--keep')) {
      rmSync(mixed, { force: true });
      rmSync(flood, { force: true });
    }
  }
}

await main();
