/**
 * `npm run demo [-- --capture file.pcap] [--partitions N] [--packets-per-file N]`
 *
 * The main job end to end on a real stack: bring up Kafka + HDFS (scripts/stack.sh; skipped when
 * KAFKA_BROKERS and WEBHDFS_URL point at a running cluster, e.g. docker-compose.yml), replay a
 * bundled capture into a fresh topic as a packet sensor would, run the topology in this process
 * until every record is consumed, stop it (which seals and commits), then show the files written
 * and pcap-inspector's lines for one of them. The stack is left running.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { applyConfig, defaultConfig } from '../src/config/topology-config.js';
import { replay } from '../src/sensor/replay.js';
import { endpoints, type Endpoints } from '../src/lib/endpoints.js';
import { createLogger } from '../src/lib/log.js';
import { openStorage, parseStorageUri } from '../src/storage/index.js';
import { Topology, type SealedFile } from '../src/topology.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { Kafka, logLevel } = kafkajs;

class DemoError extends Error {}

const say = (line = ''): void => void process.stdout.write(`${line}\n`);
const step = (n: number, what: string): void => say(`\n==> ${n}/5 ${what}`);
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function args() {
  const { values } = parseArgs({
    options: {
      capture: { type: 'string', default: `${ROOT}data/demo.pcap` },
      partitions: { type: 'string', default: '2' },
      'packets-per-file': { type: 'string', default: '1000' },
    },
    strict: true,
  });
  const partitions = Number(values.partitions);
  const perFile = Number(values['packets-per-file']);
  if (!Number.isInteger(partitions) || partitions < 1) throw new DemoError('--partitions needs a positive integer');
  if (!Number.isInteger(perFile) || perFile < 1) throw new DemoError('--packets-per-file needs a positive integer');
  if (!existsSync(values.capture!)) throw new DemoError(`capture ${values.capture} not found`);
  return { capture: values.capture!, partitions, perFile };
}

/** Our own stack unless the user pointed us at theirs (same rule as the integration tests). */
function stack(): { ep: Endpoints; external: boolean } {
  const external = Boolean(process.env.KAFKA_BROKERS && process.env.WEBHDFS_URL);
  if (!external) execFileSync('bash', [`${ROOT}scripts/stack.sh`, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
  return { ep: endpoints(), external };
}

/** Resolves once the topology has consumed `expected` records; rejects on a fatal error or timeout. */
function drained(topology: Topology, expected: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const onFatal = (err: Error) => finish(err);
    const timer = setInterval(() => {
      const m = topology.metrics;
      if (m.recordsIn >= expected) finish();
      else if (Date.now() - started > timeoutMs) {
        finish(
          new DemoError(
            `only ${m.recordsIn} of ${expected} records consumed after ${secs(timeoutMs)}; see the warnings above`,
          ),
        );
      }
    }, 100);
    function finish(err?: Error) {
      clearInterval(timer);
      topology.off('fatal', onFatal);
      if (err) reject(err);
      else resolve();
    }
    topology.on('fatal', onFatal);
  });
}

/** Runs pcap-inspector as a user would (a separate process, reading straight from WebHDFS). */
function inspect(url: string, n: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', `${ROOT}src/cli/inspector.ts`, '-i', url, '-n', String(n)],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const opts = args();
  // replay() uses kafkajs's default partitioner on purpose; its v2 notice is noise here.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

  step(1, 'stack');
  const { ep, external } = stack();
  const brokers = ep.kafkaBrokers.split(',');
  say(`kafka ${ep.kafkaBrokers}, hdfs ${ep.webhdfsUrl}${external ? ' (from KAFKA_BROKERS / WEBHDFS_URL)' : ''}`);

  const runId = `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const topic = `pcap-demo-${runId}`;
  const out = `${ep.webhdfsUrl}/demo/${runId}/pcap`;

  step(2, `replay ${basename(opts.capture)} into a fresh topic`);
  const admin = new Kafka({ clientId: 'pcapline-demo', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: opts.partitions }], waitForLeaders: true });
    const tReplay = Date.now();
    const sent = await replay({
      input: opts.capture,
      topic,
      brokers,
      granularity: 'MICROSECONDS',
      rate: 0,
      loop: 1,
      batch: 1000,
    });
    if (sent === 0) throw new DemoError(`${opts.capture} holds no packets`);
    say(
      `${sent} packets -> topic ${topic} (${opts.partitions} partitions) in ${secs(Date.now() - tReplay)}; key = µs timestamp, value = frame`,
    );

    step(3, `run the topology until the topic is drained -> ${out}`);
    const config = defaultConfig(process.env);
    applyConfig(config, {
      'spout.kafka.topic.pcap': topic,
      'kafka.bootstrap.servers': ep.kafkaBrokers,
      'kafka.group.id': topic,
      'kafka.pcap.start': 'EARLIEST',
      'kafka.pcap.numPackets': String(opts.perFile),
      'kafka.pcap.out': out,
      // The demo seals by stopping, not by waiting for idle partitions.
      'kafka.pcap.idleTimeoutMS': '0',
      'pcap.stats.intervalMS': '0',
      'pcap.instance.id': 'demo',
    });
    const sealed: SealedFile[] = [];
    let bad = 0;
    const tIngest = Date.now();
    const topology = await Topology.start(config, {
      log: createLogger('pcap-topology', process.env.LOG_LEVEL ?? 'warn'),
    });
    topology.on('sealed', (f: SealedFile) => sealed.push(f));
    topology.on('bad-record', () => bad++);
    try {
      await drained(topology, sent, 120_000);
    } finally {
      await topology.stop(); // seals the open files and commits their offsets
    }
    const ingestMs = Date.now() - tIngest;

    // Durable and committed: every partition's committed offset is its end offset.
    const [committed] = await admin.fetchOffsets({ groupId: topic, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const behind = ends.filter((e) => committed.partitions.find((p) => p.partition === e.partition)?.offset !== e.high);
    if (behind.length)
      throw new DemoError(
        `offsets not committed to the end on partitions ${behind.map((e) => e.partition).join(', ')}`,
      );
    const packets = sealed.reduce((n, f) => n + f.count, 0);
    if (packets + bad !== sent) throw new DemoError(`${packets} packets stored + ${bad} bad records != ${sent} sent`);
    say(
      `consumed ${sent} records, sealed ${sealed.length} files, committed every partition to its end, in ${secs(ingestMs)}`,
    );

    step(4, 'files written');
    // What a Metron-style listing of kafka.pcap.out sees: only finished data files.
    const { root, path } = parseStorageUri(out);
    const storage = openStorage(root);
    const listed = new Map<string, number>();
    try {
      for await (const e of storage.list(path))
        if (e.type === 'file' && !/^[._]/.test(e.name)) listed.set(e.name, e.length);
    } finally {
      await storage.close();
    }
    sealed.sort((a, b) => a.partition - b.partition || (a.firstOffset < b.firstOffset ? -1 : 1));
    const name = (f: SealedFile) => basename(f.dataPath);
    const width = Math.max(...sealed.map((f) => name(f).length));
    say(`${'file'.padEnd(width)}  part  offsets        packets      bytes`);
    for (const f of sealed) {
      const offsets = `${f.firstOffset}-${f.lastOffset}`;
      say(
        `${name(f).padEnd(width)}  ${String(f.partition).padStart(4)}  ${offsets.padEnd(13)}  ${String(f.count).padStart(7)}  ${String(f.bytes).padStart(9)}`,
      );
      if (listed.get(name(f)) !== f.bytes)
        throw new DemoError(
          `${name(f)}: the listing of ${out} shows ${listed.get(name(f)) ?? 'no such file'}, expected ${f.bytes} bytes`,
        );
    }
    const bytes = sealed.reduce((n, f) => n + f.bytes, 0);
    say(
      `${sealed.length} files, ${packets} packets, ${mb(bytes)}; the listing of ${path} shows exactly these ${listed.size} files (indexes and state are under _index/ and _state/)`,
    );

    const first = sealed[0];
    const url = `${ep.webhdfsUrl}${first.dataPath}`;
    step(5, `pcap-inspector -i ${url} -n 10`);
    const r = await inspect(url, 10);
    process.stdout.write(r.out);
    if (r.code !== 0) throw new DemoError(`pcap-inspector exited ${r.code}: ${r.err.trim()}`);

    say(
      `\nDone in ${secs(Date.now() - t0)}: ${sent} packets replayed into Kafka, stored exactly once as ${sealed.length} Metron-compatible SequenceFiles under ${out}.`,
    );
    say(
      `The stack is still running. ${external ? 'Stop it as you started it (e.g. docker compose down).' : 'Stop it with: npm run stack:down'}`,
    );
    return 0;
  } finally {
    await admin.disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    if (!(err instanceof DemoError) && process.env.PCAPLINE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);
