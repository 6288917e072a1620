/**
 * Ingest benchmark (issue 6 metron-compat §2, the memory figure of issue 4, the ratios of issue 12):
 *   npm run bench:ingest -- [--packets N] [--partitions P] [--runs R] [--num-packets F[,F2...]]
 *                           [--targets local,hdfs,kafkajs,kcat] [--min-size B] [--max-size B] [--seed S]
 *                           [-D key=value ...] [--cpu-prof] [--keep] [--prefix P]
 *   npm run bench:ingest -- --memory      1M 1500-byte packets, kafka.pcap.numPackets=1000000, one partition
 *                                         (so one file really holds 1M packets), local and HDFS: peak RSS
 *
 * Loads a deterministic synthetic capture into a fresh topic (kcat producers, one per partition),
 * then per run times (a) start-pcap-topology (dist/, a child process) draining it into the local
 * back end, (b) the same into HDFS, once per kafka.pcap.numPackets given, (c) the topology's own
 * Kafka consumer with the same configuration doing nothing with the records (bench/raw-consume.ts):
 * what kafkajs delivers, the ceiling for (a) and (b), (d) `kcat -C -e` dumping keys and values to a
 * file: the native floor for reading Kafka here. Every process is timed from spawn to exit: start-up,
 * group join, draining, then (topology) SIGTERM, which seals the open files and commits. Each run is
 * checked: exit 0, every packet written (consumed), every partition committed to its end (kcat:
 * every byte dumped). Rows print as ratios to the kafkajs and kcat rows of the same run.
 * --cpu-prof runs the topology under `node --cpu-prof` and prints its hottest functions.
 */
import { once } from 'node:events';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { type Endpoints, stackDir } from '../src/lib/endpoints.js';
import { type ProfileSummary, profileSummaryTable, readProfile, summarizeProfile } from './cpu-profile.js';
import { SyntheticCapture } from '../test/support/synthetic.js';
import {
  buildDist,
  ensureStack,
  fmt,
  freePort,
  launcherNodeFlags,
  machineFacts,
  median,
  removeOutput,
  ROOT,
  sleep,
  spawnMeasured,
  table,
  writeResults,
} from './lib.js';

const { Kafka, logLevel } = kafkajs;

export type Target = 'local' | 'hdfs' | 'kafkajs' | 'kcat';
const TARGETS: readonly Target[] = ['local', 'hdfs', 'kafkajs', 'kcat'];
const isTopology = (t: Target): t is 'local' | 'hdfs' => t === 'local' || t === 'hdfs';

/** One row of the table: a target, and for the topology the kafka.pcap.numPackets it ran with. */
export interface Row {
  target: Target;
  filePackets: number | null;
}
const rowKey = (r: Row): string => (r.filePackets === null ? r.target : `${r.target}@${r.filePackets}`);

export interface IngestOptions {
  packets: number;
  partitions: number;
  runs: number;
  seed: number;
  minSize: number;
  maxSize: number;
  /** kafka.pcap.numPackets of the topology runs: each topology target runs once per value, in this order. */
  filePackets: number[];
  targets: Target[];
  /** Extra -D overrides for the topology (e.g. pcap.chunk.bytes). */
  overrides: Record<string, string>;
  /** Keep the topic and the files written (default: removed). */
  keep: boolean;
  /** Run the topology under `node --cpu-prof` and summarise each profile. */
  cpuProf: boolean;
  /** Prepended to the topic, groups and output paths (parallel runs on a shared stack stay apart). */
  prefix: string;
  log: (line: string) => void;
}

export const DEFAULT_INGEST: IngestOptions = {
  packets: 1_000_000,
  partitions: 4,
  runs: 3,
  seed: 1,
  minSize: 64,
  maxSize: 1500,
  filePackets: [100_000],
  targets: [...TARGETS],
  overrides: {},
  keep: false,
  cpuProf: false,
  prefix: '',
  log: (l) => void process.stderr.write(`[bench] ${l}\n`),
};

export interface RunFigures {
  run: number;
  /** Spawn to exit, seconds. */
  wallS: number;
  /** Spawn to the first record consumed (ours only). */
  startupS: number | null;
  packetsPerS: number;
  /** Frame (Kafka value) bytes per second, MB = 10^6 bytes. */
  mbPerS: number;
  peakRssMb: number;
  cpuS: number;
  /** Share of the whole machine's CPU busy during the run (every process: ours, Kafka, HDFS, other users). */
  hostBusyPct: number;
  /** 1-minute load average when the run started (a shared machine: other users' work shows here). */
  loadAvg1m: number;
  /**
   * CPU seconds the local stack's broker and HDFS (NameNode + DataNode) used during the run: on a
   * machine they share with us, their work is what is left of the cores for ours. Null when the
   * stack's processes are not ours to watch (another cluster, a stack started elsewhere).
   */
  kafkaCpuS: number | null;
  hdfsCpuS: number | null;
  /** The topology's hottest functions (--cpu-prof). */
  profile?: ProfileSummary;
}

export interface TargetFigures extends Row {
  runs: RunFigures[];
  median: Omit<RunFigures, 'run' | 'profile'>;
  /** Median packets/s of this row divided by kcat's. */
  vsKcat: number | null;
  /** Median packets/s of this row divided by the raw kafkajs consumer's. */
  vsKafkajs: number | null;
}

export interface IngestFigures {
  options: Omit<IngestOptions, 'log'>;
  topic: string;
  capture: { packets: number; frameBytes: number; meanFrameBytes: number; loadS: number };
  targets: TargetFigures[];
  /** Topology runs repeated because a storage/broker failure (not ours) disturbed them. */
  disturbedRuns: number;
  /** Cores of this machine (what the topology, Kafka and HDFS share). */
  cores: number;
}

/** The local stack's JVMs by name and PID (scripts/stack.sh records them); those not running are left out. */
function stackProcesses(): Record<string, number> {
  const pids: Record<string, number> = {};
  for (const name of ['kafka', 'namenode', 'datanode']) {
    try {
      const pid = Number(readFileSync(`${stackDir()}/${name}.pid`, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0) pids[name] = pid;
    } catch {
      /* not started by this machine's stack script */
    }
  }
  return pids;
}

/** The stack's CPU of one run, seconds, from the watched processes' figures. */
function stackCpu(watched: Record<string, number>): Pick<RunFigures, 'kafkaCpuS' | 'hdfsCpuS'> {
  const s = (name: string) => (name in watched ? watched[name] / 1000 : null);
  const nn = s('namenode');
  const dn = s('datanode');
  return { kafkaCpuS: s('kafka'), hdfsCpuS: nn === null || dn === null ? null : nn + dn };
}

/** Byte strings that split records for `kcat -P -K <key delim> -D <msg delim>`; every record is checked against them. */
const KEY_DELIM = Buffer.from('9d2bf04e61c7a83f5e0d17b26ca4e981', 'hex');
const MSG_DELIM = Buffer.from('3c7e15a9f2086bd4e1573a0c98bf4d26', 'hex');
const kcatEscape = (b: Buffer): string => [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');

/** Node flags of bin/start-pcap-topology: the topology, and its consumer alone, run as users run them. */
const TOPOLOGY_NODE_FLAGS = (): string[] => launcherNodeFlags(`${ROOT}bin/start-pcap-topology`);

const admin = (ep: Endpoints) =>
  new Kafka({ clientId: 'pcapline-bench', brokers: ep.kafkaBrokers.split(','), logLevel: logLevel.NOTHING }).admin();

/**
 * Generates the capture and produces it with one `kcat -P` per partition (librdkafka batches far
 * better than a JS producer), record i to partition i % P, in generation order.
 */
async function loadTopic(ep: Endpoints, topic: string, o: IngestOptions): Promise<IngestFigures['capture']> {
  const a = admin(ep);
  await a.connect();
  try {
    await a.createTopics({ topics: [{ topic, numPartitions: o.partitions }], waitForLeaders: true });
  } finally {
    await a.disconnect();
  }
  const t0 = Date.now();
  const producers = Array.from({ length: o.partitions }, (_, p) => {
    const child = spawn(
      'kcat',
      [
        '-P',
        '-q',
        '-b',
        ep.kafkaBrokers,
        '-t',
        topic,
        '-p',
        String(p),
        '-K',
        kcatEscape(KEY_DELIM),
        '-D',
        kcatEscape(MSG_DELIM),
        '-X',
        'linger.ms=20',
        '-X',
        'batch.num.messages=10000',
      ],
      { stdio: ['pipe', 'ignore', 'inherit'] },
    );
    const exited = new Promise<number | null>((resolve, reject) => child.once('error', reject).once('exit', resolve));
    return { child, exited, pending: [] as Buffer[], pendingBytes: 0 };
  });
  const flush = async (p: (typeof producers)[number]) => {
    if (!p.pending.length) return;
    const body = Buffer.concat(p.pending, p.pendingBytes);
    p.pending = [];
    p.pendingBytes = 0;
    if (!p.child.stdin!.write(body)) await once(p.child.stdin!, 'drain');
  };
  const gen = new SyntheticCapture({ seed: o.seed, minSize: o.minSize, maxSize: o.maxSize });
  let frameBytes = 0;
  let redrawn = 0;
  for (let i = 0; i < o.packets; i++) {
    let pkt = gen.next();
    // The generator's size mix does not keep every draw inside [minSize, maxSize] (its small-packet
    // bucket ignores minSize > 128; header overhead can exceed a small maxSize): redraw those, so a
    // fixed-size run (--memory: 1500) really is fixed-size. Deterministic all the same.
    while (pkt.frame.length < o.minSize || pkt.frame.length > o.maxSize) {
      if (++redrawn > 10 * (i + 100))
        throw new Error(`the generator cannot make ${o.minSize}-${o.maxSize}-byte frames`);
      pkt = gen.next();
    }
    const key = Buffer.allocUnsafe(8);
    key.writeBigUInt64BE(pkt.tsNs / 1000n); // sensor format: µs
    const rec = Buffer.concat([key, KEY_DELIM, pkt.frame, MSG_DELIM]);
    // Binary records: a delimiter occurring anywhere but its own place would split one wrongly.
    if (rec.indexOf(KEY_DELIM) !== 8 || rec.indexOf(MSG_DELIM) !== rec.length - MSG_DELIM.length) {
      throw new Error(`packet ${i} contains a kcat delimiter; change KEY_DELIM/MSG_DELIM in bench/ingest.ts`);
    }
    frameBytes += pkt.frame.length;
    const p = producers[i % o.partitions];
    p.pending.push(rec);
    p.pendingBytes += rec.length;
    if (p.pendingBytes >= 1 << 20) await flush(p);
    if (i > 0 && i % 200_000 === 0) o.log(`  loaded ${fmt.int(i)} packets`);
  }
  for (const p of producers) {
    await flush(p);
    p.child.stdin!.end();
  }
  const codes = await Promise.all(producers.map((p) => p.exited));
  if (codes.some((c) => c !== 0)) throw new Error(`kcat -P exited ${codes.join(',')}`);
  const expected = partitionCounts(o);
  const ends = await endOffsets(ep, topic);
  for (const [p, n] of expected) {
    if (ends.get(p) !== n) throw new Error(`partition ${p} holds ${ends.get(p)} records after loading, expected ${n}`);
  }
  return { packets: o.packets, frameBytes, meanFrameBytes: frameBytes / o.packets, loadS: (Date.now() - t0) / 1000 };
}

function partitionCounts(o: Pick<IngestOptions, 'packets' | 'partitions'>): Map<number, bigint> {
  const m = new Map<number, bigint>();
  for (let p = 0; p < o.partitions; p++)
    m.set(p, BigInt(Math.floor(o.packets / o.partitions) + (p < o.packets % o.partitions ? 1 : 0)));
  return m;
}

async function endOffsets(ep: Endpoints, topic: string): Promise<Map<number, bigint>> {
  const a = admin(ep);
  await a.connect();
  try {
    return new Map((await a.fetchTopicOffsets(topic)).map((x) => [x.partition, BigInt(x.high)]));
  } finally {
    await a.disconnect();
  }
}

async function committed(ep: Endpoints, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const a = admin(ep);
  await a.connect();
  try {
    const [res] = await a.fetchOffsets({ groupId, topics: [topic] });
    return new Map(res.partitions.map((x) => [x.partition, BigInt(x.offset)]));
  } finally {
    await a.disconnect();
  }
}

interface LiveMetrics {
  recordsIn: number;
  storageRetries: number;
}

async function liveMetrics(port: number): Promise<LiveMetrics | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
    const text = await r.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { recordsIn: value('pcap_records_in_total'), storageRetries: value('pcap_storage_retries_total') };
  } catch {
    return null; // not listening yet
  }
}

/**
 * A run that met a storage or broker failure (on this shared machine: another engineer's
 * fault-injection test stopping the DataNode). The topology recovers by re-reading uncommitted
 * records, which pcap_records_in_total counts again, so "records in >= N" no longer means drained:
 * such a run is not a measurement and is repeated.
 */
class DisturbedRun extends Error {}

/** The stats of the topology's last log line ('topology stopped'), e.g. { packets_written: '1000' }. */
function finalStats(logFile: string): Record<string, string> | null {
  const lines = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"topology stopped"'));
  if (!lines.length) return null;
  const { stats } = JSON.parse(lines[lines.length - 1]) as { stats: string };
  return Object.fromEntries(stats.split(' ').map((kv) => kv.split('=') as [string, string]));
}

interface RunContext {
  ep: Endpoints;
  topic: string;
  capture: IngestFigures['capture'];
  o: IngestOptions;
  work: string;
  hdfsDir: string;
  groups: string[];
  /** Runs repeated because a failure disturbed them. */
  disturbed: number;
}

/** The -D configuration every consumer of a run gets (the topology and the raw kafkajs consumer alike). */
function consumerDefs(ctx: RunContext, groupId: string): Record<string, string> {
  return {
    'spout.kafka.topic.pcap': ctx.topic,
    'kafka.bootstrap.servers': ctx.ep.kafkaBrokers,
    'kafka.group.id': groupId,
    'kafka.pcap.start': 'EARLIEST',
    'pcap.instance.id': 'bench',
    ...ctx.o.overrides,
  };
}

async function runTopology(
  ctx: RunContext,
  target: 'local' | 'hdfs',
  filePackets: number,
  run: number,
  attempt: number,
): Promise<RunFigures> {
  const { ep, topic, o, capture } = ctx;
  const name = `${target}-n${filePackets}-${run}-${attempt}`;
  const groupId = `${topic}-${name}`;
  ctx.groups.push(groupId);
  const out = target === 'local' ? `file://${ctx.work}/${name}` : `${ep.webhdfsUrl}${ctx.hdfsDir}/${name}`;
  const port = await freePort();
  const defs: Record<string, string> = {
    ...consumerDefs(ctx, groupId),
    'kafka.pcap.numPackets': String(filePackets),
    'kafka.pcap.out': out,
    'kafka.pcap.idleTimeoutMS': '0', // sealed by SIGTERM at the end, not by a timer
    'pcap.metrics.port': String(port),
    'pcap.stats.intervalMS': '0',
    ...o.overrides,
  };
  const logFile = `${ctx.work}/logs/${name}.log`;
  const profDir = `${ctx.work}/prof/${name}`;
  const loadAvg1m = loadavg()[0];
  const m = spawnMeasured(
    process.execPath,
    [
      ...TOPOLOGY_NODE_FLAGS(),
      ...(o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
      `${ROOT}dist/cli/start-pcap-topology.js`,
      ...Object.entries(defs).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
    ],
    {
      stdoutFile: `${ctx.work}/logs/${name}.out`,
      stderrFile: logFile,
      env: { LOG_LEVEL: 'info' },
      node: true,
      watch: stackProcesses(),
    },
  );
  let exited = false;
  void m.done.then(
    () => (exited = true),
    () => (exited = true),
  );
  let firstAt = 0;
  let retries = 0;
  const deadline = Date.now() + Math.max(300_000, o.packets * 2);
  for (;;) {
    // Often: the time between the last record consumed and our SIGTERM counts in the row (the raw
    // kafkajs consumer stops itself on its last record).
    await sleep(50);
    if (exited) break;
    const live = await liveMetrics(port);
    if (Date.now() > deadline) {
      m.child.kill('SIGTERM');
      await m.done;
      throw new Error(
        `${target} run ${run}: only ${live?.recordsIn ?? 0} of ${o.packets} records consumed in time; log ${logFile}`,
      );
    }
    if (!live) continue;
    retries = Math.max(retries, live.storageRetries || 0);
    if (live.recordsIn > 0 && !firstAt) firstAt = Date.now();
    // Every record consumed once (no failure, so no re-reads): stop, which seals and commits.
    if (live.recordsIn >= o.packets) {
      m.child.kill('SIGTERM');
      break;
    }
  }
  const r = await m.done;
  if (r.code !== 0)
    throw new Error(`${target} run ${run}: start-pcap-topology exited ${r.code ?? r.signal}; log ${logFile}`);
  const stats = finalStats(logFile);
  const disturbed = retries > 0 || Number(stats?.records_in) > o.packets;
  if (!o.keep || disturbed) await removeOutput(out);
  if (disturbed)
    throw new DisturbedRun(
      `${target} run ${run}: ${retries} storage/broker retries (records in ${stats?.records_in}); log ${logFile}`,
    );
  if (Number(stats?.packets_written) !== o.packets)
    throw new Error(`${target} run ${run}: wrote ${stats?.packets_written} of ${o.packets} packets; log ${logFile}`);
  const done = await committed(ep, groupId, topic);
  for (const [p, n] of partitionCounts(o)) {
    if (done.get(p) !== n)
      throw new Error(`${target} run ${run}: partition ${p} committed to ${done.get(p)}, expected ${n}`);
  }
  const wallS = r.wallMs / 1000;
  let profile: ProfileSummary | undefined;
  if (o.cpuProf) {
    // One profile per thread, CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: the main thread's
    // (id 0) is the one summarised; worker threads (the index encoder) count as their busy time.
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    const main = files.find((f) => f.split('.')[4] === '0');
    if (!main) throw new Error(`${target} run ${run}: no CPU profile of the main thread written in ${profDir}`);
    profile = summarizeProfile(readProfile(`${profDir}/${main}`));
    profile.otherThreadsBusyMs = files
      .filter((f) => f !== main)
      .reduce((sum, f) => sum + summarizeProfile(readProfile(`${profDir}/${f}`)).busyMs, 0);
  }
  return {
    run,
    wallS,
    startupS: firstAt ? (firstAt - m.startedAt) / 1000 : null,
    packetsPerS: o.packets / wallS,
    mbPerS: capture.frameBytes / 1e6 / wallS,
    peakRssMb: r.peakRssBytes / 2 ** 20,
    cpuS: r.cpuMs / 1000,
    hostBusyPct: r.hostBusy * 100,
    loadAvg1m,
    ...stackCpu(r.watchedCpuMs),
    profile,
  };
}

/**
 * Writes back every dirty page before a run starts (outside its timing): a run leaves hundreds of MB
 * in the page cache (the DataNode never syncs its blocks; local files are synced per file but their
 * directories and the broker's log are not), and their writeback would otherwise land in the next
 * run, charging one row for another's I/O. Best effort: without `sync` the runs go on as before.
 */
function flushDirtyPages(): void {
  try {
    execFileSync('sync', { stdio: 'ignore', timeout: 120_000 });
  } catch {
    // no sync(1) here: nothing to do
  }
}

async function runUndisturbed(
  ctx: RunContext,
  target: 'local' | 'hdfs',
  filePackets: number,
  run: number,
): Promise<RunFigures> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runTopology(ctx, target, filePackets, run, attempt);
    } catch (err) {
      if (!(err instanceof DisturbedRun) || attempt >= 3) throw err;
      ctx.o.log(`${err.message}: repeating the run`);
      ctx.disturbed++;
    }
  }
}

/**
 * The topology's Kafka consumer alone (bench/raw-consume.ts, compiled to dist-bench/ by
 * buildForBench), with the topology's configuration, doing nothing with the records.
 */
async function runKafkajs(ctx: RunContext, run: number): Promise<RunFigures> {
  const { ep, topic, o, capture } = ctx;
  const groupId = `${topic}-kafkajs-${run}`;
  ctx.groups.push(groupId);
  const defs = consumerDefs(ctx, groupId);
  const outFile = `${ctx.work}/logs/kafkajs-${run}.out`;
  const loadAvg1m = loadavg()[0];
  const m = spawnMeasured(
    process.execPath,
    [
      ...TOPOLOGY_NODE_FLAGS(),
      RAW_CONSUME,
      '--expect',
      String(o.packets),
      ...Object.entries(defs).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
    ],
    { stdoutFile: outFile, stderrFile: `${ctx.work}/logs/kafkajs-${run}.log`, node: true, watch: stackProcesses() },
  );
  const r = await m.done;
  if (r.code !== 0) throw new Error(`kafkajs run ${run} exited ${r.code ?? r.signal}; log ${ctx.work}/logs`);
  const { records, firstRecordMs } = JSON.parse(readFileSync(outFile, 'utf8')) as {
    records: number;
    firstRecordMs: number;
  };
  if (records !== o.packets) throw new Error(`kafkajs run ${run}: ${records} records delivered, expected ${o.packets}`);
  const done = await committed(ep, groupId, topic);
  for (const [p, n] of partitionCounts(o)) {
    if (done.get(p) !== n)
      throw new Error(`kafkajs run ${run}: partition ${p} committed to ${done.get(p)}, expected ${n}`);
  }
  const wallS = r.wallMs / 1000;
  return {
    run,
    wallS,
    startupS: firstRecordMs / 1000,
    packetsPerS: o.packets / wallS,
    mbPerS: capture.frameBytes / 1e6 / wallS,
    peakRssMb: r.peakRssBytes / 2 ** 20,
    cpuS: r.cpuMs / 1000,
    hostBusyPct: r.hostBusy * 100,
    loadAvg1m,
    ...stackCpu(r.watchedCpuMs),
  };
}

async function runKcat(ctx: RunContext, run: number): Promise<RunFigures> {
  const { ep, topic, o, capture } = ctx;
  const file = `${ctx.work}/kcat-${run}.bin`;
  const loadAvg1m = loadavg()[0];
  const m = spawnMeasured(
    'kcat',
    ['-C', '-q', '-b', ep.kafkaBrokers, '-t', topic, '-o', 'beginning', '-e', '-f', '%k%s'],
    {
      stdoutFile: file,
      stderrFile: `${ctx.work}/logs/kcat-${run}.log`,
      watch: stackProcesses(),
    },
  );
  const r = await m.done;
  if (r.code !== 0) throw new Error(`kcat run ${run} exited ${r.code ?? r.signal}`);
  const expected = o.packets * 8 + capture.frameBytes;
  const size = statSync(file).size;
  rmSync(file, { force: true });
  if (size !== expected) throw new Error(`kcat run ${run} dumped ${size} bytes, expected ${expected}`);
  const wallS = r.wallMs / 1000;
  return {
    run,
    wallS,
    startupS: null,
    packetsPerS: o.packets / wallS,
    mbPerS: capture.frameBytes / 1e6 / wallS,
    peakRssMb: r.peakRssBytes / 2 ** 20,
    cpuS: r.cpuMs / 1000,
    hostBusyPct: r.hostBusy * 100,
    loadAvg1m,
    ...stackCpu(r.watchedCpuMs),
  };
}

function medianOf(runs: RunFigures[]): Omit<RunFigures, 'run' | 'profile'> {
  const med = (f: (r: RunFigures) => number | null) => {
    const xs = runs.map(f).filter((x): x is number => x !== null);
    return xs.length ? median(xs) : null;
  };
  const wallS = med((r) => r.wallS)!;
  return {
    wallS,
    startupS: med((r) => r.startupS),
    packetsPerS: med((r) => r.packetsPerS)!,
    mbPerS: med((r) => r.mbPerS)!,
    peakRssMb: med((r) => r.peakRssMb)!,
    cpuS: med((r) => r.cpuS)!,
    hostBusyPct: med((r) => r.hostBusyPct)!,
    loadAvg1m: med((r) => r.loadAvg1m)!,
    kafkaCpuS: med((r) => r.kafkaCpuS),
    hdfsCpuS: med((r) => r.hdfsCpuS),
  };
}

/** The rows of a benchmark: each topology target once per numPackets, the others once. */
export function rowsOf(o: Pick<IngestOptions, 'targets' | 'filePackets'>): Row[] {
  return o.targets.flatMap((target): Row[] =>
    isTopology(target) ? o.filePackets.map((n) => ({ target, filePackets: n })) : [{ target, filePackets: null }],
  );
}

/** Runs the ingest benchmark on a running stack with dist/ built; returns the figures. */
export async function benchIngest(ep: Endpoints, options: Partial<IngestOptions> = {}): Promise<IngestFigures> {
  const o: IngestOptions = { ...DEFAULT_INGEST, ...options };
  if (!existsSync(`${ROOT}dist/cli/start-pcap-topology.js`))
    throw new Error('dist/ is not built: run `npm run build` first');
  const stamp = `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const topic = `${o.prefix}pcap-bench-${stamp}`;
  const work = `/tmp/pcapline-bench/${stamp}`;
  mkdirSync(`${work}/logs`, { recursive: true });
  const ctx: RunContext = {
    ep,
    topic,
    o,
    work,
    hdfsDir: `/bench/${o.prefix}${stamp}`,
    groups: [],
    disturbed: 0,
    capture: { packets: 0, frameBytes: 0, meanFrameBytes: 0, loadS: 0 },
  };
  o.log(
    `loading ${fmt.int(o.packets)} packets (${o.minSize}-${o.maxSize} bytes, seed ${o.seed}) into ${topic} (${o.partitions} partitions)`,
  );
  try {
    ctx.capture = await loadTopic(ep, topic, o);
    o.log(
      `loaded ${fmt.mb(ctx.capture.frameBytes)} MB of frames (mean ${ctx.capture.meanFrameBytes.toFixed(0)} B) in ${ctx.capture.loadS.toFixed(1)} s`,
    );
    const rows = rowsOf(o);
    const runs = new Map<string, RunFigures[]>(rows.map((r) => [rowKey(r), []]));
    // Rows interleaved run by run, so drift in machine load spreads over all of them.
    for (let run = 1; run <= o.runs; run++) {
      for (const row of rows) {
        const { target, filePackets } = row;
        flushDirtyPages();
        const f =
          target === 'kcat'
            ? await runKcat(ctx, run)
            : target === 'kafkajs'
              ? await runKafkajs(ctx, run)
              : await runUndisturbed(ctx, target, filePackets!, run);
        runs.get(rowKey(row))!.push(f);
        o.log(
          `run ${run}/${o.runs} ${rowLabel(row)}: ${f.wallS.toFixed(1)} s, ${fmt.int(f.packetsPerS)} packets/s, ${f.mbPerS.toFixed(1)} MB/s, peak RSS ${f.peakRssMb.toFixed(0)} MiB, host CPU ${f.hostBusyPct.toFixed(0)}% busy, load avg ${f.loadAvg1m.toFixed(1)}`,
        );
        if (f.profile) o.log(`hottest functions of ${rowLabel(row)}, run ${run}:\n${profileSummaryTable(f.profile)}`);
      }
    }
    const medianPps = (target: Target): number | null => {
      const rs = runs.get(target);
      return rs?.length ? medianOf(rs).packetsPerS : null;
    };
    const kcatPps = medianPps('kcat');
    const kafkajsPps = medianPps('kafkajs');
    const { log: _log, ...plain } = o;
    return {
      options: plain,
      topic,
      capture: ctx.capture,
      disturbedRuns: ctx.disturbed,
      cores: availableParallelism(),
      targets: rows.map((row) => {
        const rs = runs.get(rowKey(row))!;
        const med = medianOf(rs);
        return {
          ...row,
          runs: rs,
          median: med,
          vsKcat: kcatPps && row.target !== 'kcat' ? med.packetsPerS / kcatPps : null,
          vsKafkajs: kafkajsPps && isTopology(row.target) ? med.packetsPerS / kafkajsPps : null,
        };
      }),
    };
  } finally {
    if (!o.keep) {
      const a = admin(ep);
      await a
        .connect()
        .then(async () => {
          await a.deleteTopics({ topics: [topic] }).catch(() => {});
          await a.deleteGroups(ctx.groups).catch(() => {});
        })
        .catch(() => {})
        .finally(() => a.disconnect());
      await removeOutput(`${ep.webhdfsUrl}${ctx.hdfsDir}`).catch(() => {});
      rmSync(work, { recursive: true, force: true });
    }
  }
}

const TARGET_LABEL: Record<Target, string> = {
  local: 'pcapline -> local files',
  hdfs: 'pcapline -> HDFS (WebHDFS)',
  kafkajs: 'raw kafkajs consume (no processing)',
  kcat: 'kcat -C -e (native floor)',
};

export const rowLabel = (r: Row): string =>
  r.filePackets === null ? TARGET_LABEL[r.target] : `${TARGET_LABEL[r.target]}, numPackets=${r.filePackets}`;

const ratio = (x: number | null): string => (x === null ? '-' : `${fmt.f2(x)}x`);

export function ingestTable(f: IngestFigures): string {
  return table(
    [
      'ingest (median of runs)',
      'runs',
      'wall s',
      'start-up s',
      'packets/s',
      'MB/s',
      'vs kafkajs',
      'vs kcat',
      'peak RSS MiB',
      'CPU s',
      'Kafka CPU s',
      'HDFS CPU s',
      'host CPU busy',
      'load avg',
    ],
    f.targets.map((t) => [
      rowLabel(t),
      String(t.runs.length),
      fmt.f1(t.median.wallS),
      t.median.startupS === null ? '-' : fmt.f1(t.median.startupS),
      fmt.int(t.median.packetsPerS),
      fmt.f1(t.median.mbPerS),
      ratio(t.vsKafkajs),
      ratio(t.vsKcat),
      fmt.int(t.median.peakRssMb),
      fmt.f1(t.median.cpuS),
      t.median.kafkaCpuS === null ? '-' : fmt.f1(t.median.kafkaCpuS),
      t.median.hdfsCpuS === null || t.target !== 'hdfs' ? '-' : fmt.f1(t.median.hdfsCpuS),
      `${fmt.int(t.median.hostBusyPct)}%`,
      fmt.f1(t.median.loadAvg1m),
    ]),
  );
}

/** The medians of one row of the figures (a target at a numPackets; null for kafkajs and kcat), if it ran. */
const medianOfRow = (f: IngestFigures, target: Target, filePackets: number | null) =>
  f.targets.find((t) => t.target === target && t.filePackets === filePackets)?.median;

/**
 * The ratios that say where ingest loses throughput, from one run's medians: the topology against
 * the consumer it is built on, HDFS against local disk at each numPackets, and small files against
 * large ones on each back end (issue 12's targets: >= 0.8, >= 0.9 and >= 0.5).
 */
export function ingestRatios(f: IngestFigures): string[] {
  const pps = (target: Target, n: number | null) => medianOfRow(f, target, n)?.packetsPerS ?? null;
  const lines: string[] = [];
  const line = (what: string, a: number | null, b: number | null) => {
    if (a !== null && b !== null) lines.push(`${what}: ${fmt.f2(a / b)}x`);
  };
  const sizes = f.options.filePackets;
  for (const n of sizes) line(`local / raw kafkajs (numPackets=${n})`, pps('local', n), pps('kafkajs', null));
  for (const n of sizes) line(`HDFS / local (numPackets=${n})`, pps('hdfs', n), pps('local', n));
  for (const target of ['local', 'hdfs'] as const)
    for (const n of sizes.slice(1))
      line(`${target} numPackets=${n} / numPackets=${sizes[0]}`, pps(target, n), pps(target, sizes[0]));
  for (const n of sizes.slice(1)) {
    const ceiling = hdfsSmallFileCeiling(f, sizes[0], n);
    if (ceiling) lines.push(ceiling);
  }
  return lines;
}

/**
 * What the machine leaves HDFS's small files, when Kafka and HDFS run on the cores the topology
 * uses (our local stack): the NameNode and DataNode CPU a file costs (the `small`-packet run's
 * against the `large` one's, per extra file), and the best `small` / `large` rate the cores allow
 * even if the topology spent no more CPU on small files than on large ones (it spends more: a seal
 * per file). That bound is the `large` run's CPU (ours, Kafka's and HDFS's) with HDFS's CPU of the
 * `small` run instead, spread over every core at 100% busy.
 */
export function hdfsSmallFileCeiling(f: IngestFigures, large: number, small: number): string | null {
  const big = medianOfRow(f, 'hdfs', large);
  const few = medianOfRow(f, 'hdfs', small);
  if (!big || !few || big.hdfsCpuS === null || few.hdfsCpuS === null || big.kafkaCpuS === null) return null;
  const files = (n: number) =>
    [...partitionCounts(f.options).values()].reduce((sum, c) => sum + Math.ceil(Number(c) / n), 0);
  const perFileMs = ((few.hdfsCpuS - big.hdfsCpuS) * 1000) / (files(small) - files(large));
  const fastestS = (big.cpuS + big.kafkaCpuS + few.hdfsCpuS) / f.cores;
  return (
    `HDFS numPackets=${small}: NameNode + DataNode CPU ${fmt.f1(few.hdfsCpuS)} s (${fmt.f1(big.hdfsCpuS)} s at ${large}), ` +
    `${fmt.f1(perFileMs)} ms a file; on ${f.cores} cores shared with them numPackets=${small} reaches at most ` +
    `${fmt.f2(Math.min(big.wallS / fastestS, 1))}x numPackets=${large}, even if the topology itself spent no more than there`
  );
}

export function describeCapture(f: IngestFigures): string {
  const o = f.options;
  return (
    `${fmt.int(f.capture.packets)} packets of ${o.minSize}-${o.maxSize} bytes (mean ${f.capture.meanFrameBytes.toFixed(0)} B, ${fmt.mb(f.capture.frameBytes)} MB), ` +
    `${o.partitions} partitions, kafka.pcap.numPackets=${o.filePackets.join(' and ')}${
      Object.keys(o.overrides).length
        ? `, ${Object.entries(o.overrides)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`
        : ''
    }`
  );
}

export const MEMORY_BUDGET_MB = 300;

/** Parses the CLI options shared with bench/run.ts. */
export function parseIngestArgs(argv: string[]): { options: Partial<IngestOptions>; memory: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      packets: { type: 'string' },
      partitions: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      'num-packets': { type: 'string' },
      'min-size': { type: 'string' },
      'max-size': { type: 'string' },
      targets: { type: 'string' },
      memory: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      prefix: { type: 'string' },
      D: { type: 'string', short: 'D', multiple: true },
    },
    strict: true,
  });
  const int = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name} needs an integer >= ${min}`);
    return Number(v);
  };
  const memory = values.memory!;
  // Memory mode: the issue's case, numPackets=1M with 1500-byte packets; one partition so that one
  // open file really reaches 1M packets (index columns at their largest).
  const base: Partial<IngestOptions> = memory
    ? {
        packets: 1_000_000,
        partitions: 1,
        runs: 1,
        minSize: 1500,
        maxSize: 1500,
        filePackets: [1_000_000],
        targets: ['local', 'hdfs'],
      }
    : {};
  const options: Partial<IngestOptions> = { ...base, keep: values.keep!, cpuProf: values['cpu-prof']! };
  const set = <K extends keyof IngestOptions>(k: K, v: IngestOptions[K] | undefined) => {
    if (v !== undefined) options[k] = v;
  };
  if (values.prefix !== undefined) {
    if (!/^[A-Za-z0-9._-]*$/.test(values.prefix)) throw new Error('--prefix takes letters, digits, ".", "_" and "-"');
    options.prefix = values.prefix;
  }
  set('packets', int('packets', values.packets, 1));
  set('partitions', int('partitions', values.partitions, 1));
  set('runs', int('runs', values.runs, 1));
  set('seed', int('seed', values.seed, 0));
  if (values['num-packets'] !== undefined)
    options.filePackets = values['num-packets'].split(',').map((v) => int('num-packets', v.trim(), 1)!);
  set('minSize', int('min-size', values['min-size'], 60));
  set('maxSize', int('max-size', values['max-size'], 60));
  if (values.targets !== undefined) {
    const ts = values.targets.split(',').map((t) => t.trim());
    const bad = ts.filter((t) => !TARGETS.includes(t as Target));
    if (bad.length || !ts.length) throw new Error(`--targets takes a comma-separated list of ${TARGETS.join(', ')}`);
    options.targets = ts as Target[];
  }
  if (values.D) {
    options.overrides = Object.fromEntries(
      values.D.map((d) => {
        const i = d.indexOf('=');
        if (i <= 0) throw new Error(`-D ${d}: expected key=value`);
        return [d.slice(0, i), d.slice(i + 1)];
      }),
    );
  }
  return { options, memory };
}

/** The raw kafkajs consumer, compiled (a TypeScript loader would add its start-up to the figure). */
const RAW_CONSUME = `${ROOT}dist-bench/bench/raw-consume.js`;

/**
 * Builds dist/ (the topology) and dist-bench/ (the raw consumer), tolerating type errors elsewhere
 * in a work tree as long as both compiled.
 */
export function buildForBench(log: (l: string) => void): void {
  for (const [project, output] of [
    ['tsconfig.build.json', `${ROOT}dist/cli/start-pcap-topology.js`],
    ['tsconfig.bench.json', RAW_CONSUME],
  ]) {
    try {
      buildDist(project);
    } catch {
      if (!existsSync(output)) throw new Error(`the build of ${project} failed and ${output} is missing`);
      log(`the build of ${project} reported errors (see above); timing the output that was emitted`);
    }
  }
}

async function main(): Promise<void> {
  const { options, memory } = parseIngestArgs(process.argv.slice(2));
  const log = DEFAULT_INGEST.log;
  const ep = ensureStack();
  buildForBench(log);
  const machine = await machineFacts(ep);
  const startedAt = new Date().toISOString();
  const figures = await benchIngest(ep, options);
  machine.loadAvg1m = Math.max(machine.loadAvg1m, (await machineFacts(ep)).loadAvg1m);
  const out = writeResults(memory ? 'ingest-memory' : 'ingest', {
    kind: memory ? 'ingest-memory' : 'ingest',
    startedAt,
    machine,
    ingest: figures,
  });
  process.stdout.write(`\n${describeCapture(figures)}\n`);
  process.stdout.write(
    `machine: ${machine.cores} cores (${machine.cpuModel}), node ${machine.node}, ${machine.java}, Kafka ${machine.kafka}, Hadoop ${machine.hadoop}, kcat ${machine.kcat}; load avg ${machine.loadAvg1m.toFixed(2)}\n\n`,
  );
  process.stdout.write(`${ingestTable(figures)}\n\n`);
  const ratios = ingestRatios(figures);
  if (ratios.length) process.stdout.write(`${ratios.join('\n')}\n\n`);
  if (memory) {
    for (const t of figures.targets.filter((x) => x.target !== 'kcat')) {
      const peak = Math.max(...t.runs.map((r) => r.peakRssMb));
      process.stdout.write(
        `peak RSS into ${t.target}: ${peak.toFixed(0)} MiB (budget ${MEMORY_BUDGET_MB} MB = ${((MEMORY_BUDGET_MB * 1e6) / 2 ** 20).toFixed(0)} MiB): ${peak * 2 ** 20 <= MEMORY_BUDGET_MB * 1e6 ? 'within' : 'OVER'}\n`,
      );
    }
  }
  process.stdout.write(`figures: ${out}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench:ingest: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
