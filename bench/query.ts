/**
 * Query benchmark (issue 5, "Figures"; issue 11, query at scale):
 *   node --import tsx bench/query.ts [--packets N] [--partitions P] [--num-packets F] [--flows K] [--seed S]
 *                                    [--runs R] [--target hdfs|local] [--no-profile] [--keep]
 *                                    [--baseline <checkout with dist/>] [--overlap]
 *
 * The store scales with --packets; the number of flows grows with it (one per 1000 packets, at
 * least 1000) so a flow of about 1000 packets exists at every size: the selective query's result
 * stays the same size while the store grows. Files hold 100,000 packets (--num-packets), the size
 * the README recommends at scale. Reported besides the timings: index bytes per packet (v2 as
 * stored, and v1 for the same packets), and with --baseline, the same queries by an older
 * pcapline (e.g. a checkout of main, built) on the same packets with v1 indexes. --overlap adds
 * 64 time-overlapping files (indexed and not) queried whole: the memory bound's worst case.
 *
 * Generates a deterministic capture (default 1M packets, IPv4/IPv6, VLAN/QinQ, TCP/UDP/ICMP), replays
 * it into a fresh topic (key = BE µs, partition by key hash) and ingests it with the real topology
 * (in process) into HDFS (default) or the local back end. Then, R times each, interleaved:
 *   (a) index   one flow (a 5-tuple, both directions) among all packets, with the packet indexes;
 *   (b) scan    the same query with --no-index (every file streamed and decoded);
 *   (c) tcpdump `tcpdump -r <the capture as one pcap> -w out '<the same flow in BPF>'`;
 *   (d) broad   an expression matching about half the packets, written as pages.
 * Each run is the shipped CLI (dist/) as a child process, timed from spawn to exit; the median is
 * reported. (a), (b) and (c) must return the same number of packets (the flow's count). With
 * profiling on, (a) and (d) run once more under `node --cpu-prof` and the hottest functions (self
 * time) are listed.
 */
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  closeSync,
  rmSync,
  statSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import kafkajs from 'kafkajs';
import type { Endpoints } from '../src/lib/endpoints.js';
import { SyntheticCapture, type SyntheticFlow } from '../test/support/synthetic.js';
import { PcapFileWriter } from '../src/formats/pcap/pcap-file.js';
import { applyConfig, defaultConfig } from '../src/config/topology-config.js';
import { Topology, type SealedFile } from '../src/topology.js';
import { createLogger } from '../src/lib/log.js';
import { replay } from '../src/sensor/replay.js';
import { openStorage, parseStorageUri } from '../src/storage/index.js';
import { downgradeStoreToV1, encodeAsV1, v2IndexBytes } from '../test/support/index-versions.js';
import { decodeIndex } from '../src/formats/index/packet-index-reader.js';
import type { Storage } from '../src/storage/types.js';
import {
  buildDist,
  ensureStack,
  fmt,
  machineFacts,
  median,
  removeOutput,
  ROOT,
  spawnMeasured,
  table,
  writeResults,
  type MachineFacts,
} from './lib.js';

const { Kafka, logLevel } = kafkajs;

export type QueryKind = 'index' | 'scan' | 'tcpdump' | 'broad';
const KINDS: readonly QueryKind[] = ['index', 'scan', 'tcpdump', 'broad'];

export interface QueryBenchOptions {
  packets: number;
  partitions: number;
  /** kafka.pcap.numPackets of the ingest. */
  filePackets: number;
  flows: number;
  seed: number;
  runs: number;
  target: 'hdfs' | 'local';
  profile: boolean;
  /** Keep the topic, the stored files and the work directory. */
  keep: boolean;
  /** A checkout of an older pcapline with dist/ built: its CLI is timed on the same packets (v1 indexes). */
  baseline?: string;
  /** Also measure 64 time-overlapping files. */
  overlap: boolean;
  log: (line: string) => void;
}

export const DEFAULT_QUERY_BENCH: QueryBenchOptions = {
  // 100 000 packets a file, as the README recommends at scale (config/pcap.properties ships
  // Metron's 1000; --num-packets changes it).
  packets: 1_000_000,
  partitions: 4,
  filePackets: 100_000,
  // 0: one flow per 1000 packets, at least 1000 (so a flow of ~1000 packets exists at every size).
  flows: 0,
  seed: 5,
  runs: 3,
  target: 'hdfs',
  profile: true,
  keep: false,
  overlap: false,
  log: (l) => void process.stderr.write(`[bench:query] ${l}\n`),
};

export interface QueryRun {
  run: number;
  wallS: number;
  cpuS: number;
  peakRssMb: number;
  hostBusyPct: number;
  /** Packets returned (ours: from the summary line; tcpdump: counted in its output). */
  packets: number;
  /** Ours only: bytes read from the store, and the engine's own time (without process start-up). */
  bytesRead: number | null;
  engineS: number | null;
}

export interface QueryFigure {
  kind: QueryKind;
  label: string;
  command: string;
  runs: QueryRun[];
  median: { wallS: number; cpuS: number; peakRssMb: number; engineS: number | null; bytesRead: number | null };
  packets: number;
}

export interface HotFunction {
  fn: string;
  where: string;
  selfMs: number;
  pct: number;
}

export interface QueryBenchFigures {
  machine: MachineFacts;
  options: Omit<QueryBenchOptions, 'log'>;
  capture: { packets: number; bytes: number; generateS: number };
  ingest: { target: string; seconds: number; replayS: number; files: number; storedBytes: number };
  flow: { id: number; packets: number; description: string };
  /** Index bytes per stored packet: v2 as written, and v1 for the same packets. */
  index: { v2BytesPerPacket: number; v1BytesPerPacket: number; files: number };
  queries: QueryFigure[];
  /** The same queries by the --baseline checkout, on the same packets with v1 indexes. */
  baseline: QueryFigure[];
  /** 64 time-overlapping files queried whole (--overlap). */
  overlap: QueryFigure[];
  profiles: { kind: QueryKind; totalMs: number; gcMs: number; top: HotFunction[] }[];
}

interface Ctx {
  /** The pcap-query entry point timed (ours, or the baseline checkout's). */
  cli: string;
  o: QueryBenchOptions;
  work: string;
  capture: string;
  bp: string;
  startMs: bigint;
  endMs: bigint;
}

/** Generates the capture; returns per-flow packet counts. */
async function generate(
  path: string,
  o: QueryBenchOptions,
): Promise<{ flows: { flow: SyntheticFlow; packets: number }[]; first: bigint; last: bigint; bytes: number }> {
  const gen = new SyntheticCapture({ seed: o.seed, flows: flowsFor(o) });
  const w = new PcapFileWriter(createWriteStream(path));
  const counts = new Map<number, number>();
  let first = 0n;
  let last = 0n;
  for (let i = 0; i < o.packets; i++) {
    const p = gen.next();
    if (i === 0) first = p.tsNs;
    last = p.tsNs;
    counts.set(p.flow.id, (counts.get(p.flow.id) ?? 0) + 1);
    await w.writePacket(p.tsNs, p.frame);
  }
  await w.end();
  return { flows: gen.flows.map((flow) => ({ flow, packets: counts.get(flow.id) ?? 0 })), first, last, bytes: w.bytes };
}

/** Replay into a fresh topic, then the topology in process until every packet is in a sealed file. */
async function ingest(
  ep: Endpoints,
  o: QueryBenchOptions,
  capture: string,
  topic: string,
  out: string,
): Promise<{ sealed: SealedFile[]; replayS: number; seconds: number }> {
  const t0 = Date.now();
  const admin = new Kafka({
    clientId: 'bench-query',
    brokers: ep.kafkaBrokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: o.partitions }], waitForLeaders: true });
  await admin.disconnect();
  const sent = await replay({
    input: capture,
    topic,
    brokers: ep.kafkaBrokers.split(','),
    granularity: 'MICROSECONDS',
    rate: 0,
    loop: 1,
    batch: 2000,
  });
  if (sent !== o.packets) throw new Error(`replayed ${sent} of ${o.packets} packets`);
  const replayS = (Date.now() - t0) / 1000;
  const config = defaultConfig({});
  applyConfig(config, {
    'spout.kafka.topic.pcap': topic,
    'kafka.bootstrap.servers': ep.kafkaBrokers,
    'kafka.group.id': `${topic}-g`,
    'kafka.pcap.start': 'EARLIEST',
    'kafka.pcap.numPackets': String(o.filePackets),
    'kafka.pcap.maxTimeMS': '0',
    'kafka.pcap.idleTimeoutMS': '0',
    'kafka.pcap.ts_granularity': 'MICROSECONDS',
    'kafka.pcap.out': out,
    'pcap.instance.id': 'bench',
  });
  const topology = await Topology.start(config, { log: createLogger('bench-query', 'warn') });
  const sealed: SealedFile[] = [];
  topology.on('sealed', (f: SealedFile) => sealed.push(f));
  let last = Date.now();
  try {
    const stored = () => sealed.reduce((n, f) => n + f.count, 0) + topology.metrics.commitLag;
    while (topology.metrics.recordsIn < o.packets || stored() < o.packets) {
      await new Promise((r) => setTimeout(r, 200));
      if (Date.now() - last > 10_000) {
        o.log(`ingest: ${fmt.int(topology.metrics.recordsIn)} of ${fmt.int(o.packets)} records consumed`);
        last = Date.now();
      }
    }
  } finally {
    await topology.stop();
  }
  const count = sealed.reduce((n, f) => n + f.count, 0);
  if (count !== o.packets) throw new Error(`ingest stored ${count} of ${o.packets} packets`);
  return { sealed, replayS, seconds: (Date.now() - t0) / 1000 };
}

/** Packets in a classic pcap file (headers walked, nothing else checked). */
function countPcap(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const head = Buffer.alloc(16);
    readSync(fd, head, 0, 4, 0);
    const le = head.readUInt32LE(0) === 0xa1b2c3d4 || head.readUInt32LE(0) === 0xa1b23c4d;
    let at = 24;
    let n = 0;
    while (at + 16 <= size) {
      readSync(fd, head, 0, 16, at);
      at += 16 + (le ? head.readUInt32LE(8) : head.readUInt32BE(8));
      n++;
    }
    return n;
  } finally {
    closeSync(fd);
  }
}

/** Bytes the v1 index of every stored file would take (encoded in memory, nothing written). */
async function v1IndexBytes(storage: Storage, path: string): Promise<number> {
  let total = 0;
  for await (const bucket of storage.list(`${path}/_index`)) {
    if (bucket.type !== 'directory') continue;
    for await (const ix of storage.list(bucket.path))
      total += (await encodeAsV1(await decodeIndex(await storage.readBuffer(ix.path)))).length;
  }
  return total;
}

/** Flows in the capture: as given, or one per 1000 packets (at least 1000). */
const flowsFor = (o: QueryBenchOptions): number => o.flows || Math.max(1000, Math.round(o.packets / 1000));

/** The selective query's flow: about this many packets at every store size. */
const FLOW_PACKETS = 1000;

const SUMMARY = /pcap-query: (\d+) packets written .*?([\d.]+) (B|KiB|MiB|GiB) read.*?, (\d+) ms\)$/m;
const UNIT: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

function command(
  ctx: Ctx,
  kind: QueryKind,
  flow: SyntheticFlow,
  outDir: string,
  extraNode: string[] = [],
): { cmd: string; args: string[]; node: boolean } {
  const cli = ctx.cli;
  const window = ['-st', String(ctx.startMs), '-et', String(ctx.endMs), '-bp', ctx.bp];
  const tuple = [
    '-sa',
    flow.srcAddr,
    '-sp',
    String(flow.srcPort),
    '-da',
    flow.dstAddr,
    '-dp',
    String(flow.dstPort),
    '-p',
    'tcp',
    '-ir',
  ];
  switch (kind) {
    case 'index':
      return {
        cmd: process.execPath,
        args: [...extraNode, cli, 'fixed', ...window, ...tuple, '-o', outDir, '-pre', 'bench'],
        node: true,
      };
    case 'scan':
      return {
        cmd: process.execPath,
        args: [...extraNode, cli, 'fixed', ...window, ...tuple, '--no-index', '-o', outDir, '-pre', 'bench'],
        node: true,
      };
    case 'broad':
      return {
        cmd: process.execPath,
        args: [...extraNode, cli, 'query', ...window, '-q', BROAD, '-o', outDir, '-pre', 'bench'],
        node: true,
      };
    case 'tcpdump': {
      const a = `src host ${flow.srcAddr} and src port ${flow.srcPort} and dst host ${flow.dstAddr} and dst port ${flow.dstPort}`;
      const b = `src host ${flow.dstAddr} and src port ${flow.dstPort} and dst host ${flow.srcAddr} and dst port ${flow.srcPort}`;
      return {
        cmd: 'tcpdump',
        args: ['-n', '-r', ctx.capture, '-w', `${outDir}/tcpdump.pcap`, `tcp and ((${a}) or (${b}))`],
        node: false,
      };
    }
  }
}

const BROAD = "ip_dst_port in [80, 443, 8080, 53] or IN_SUBNET(ip_src_addr, '10.0.0.0/8')";

const LABEL: Record<QueryKind, string> = {
  index: '(a) one flow, index-driven',
  scan: '(b) one flow, --no-index (scan)',
  tcpdump: '(c) tcpdump -r one pcap, same flow',
  broad: '(d) broad expression → pages',
};

async function runOnce(ctx: Ctx, kind: QueryKind, flow: SyntheticFlow, run: number): Promise<QueryRun> {
  return runCommand(
    ctx,
    `${ctx.cli === OUR_CLI ? '' : 'baseline-'}${kind}`,
    run,
    (out) => command(ctx, kind, flow, out),
    {
      tcpdump: kind === 'tcpdump',
      byIndex: kind !== 'scan',
    },
  );
}

const OUR_CLI = `${ROOT}dist/cli/pcap-query/main.js`;

/** Runs one measured command; figures from its summary line (pcap-query) or its output (tcpdump). */
async function runCommand(
  ctx: Ctx,
  name: string,
  run: number,
  make: (outDir: string) => { cmd: string; args: string[]; node: boolean },
  o: { tcpdump: boolean; byIndex: boolean },
): Promise<QueryRun> {
  const outDir = `${ctx.work}/out-${name}-${run}`;
  mkdirSync(outDir, { recursive: true });
  const c = make(outDir);
  const m = spawnMeasured(c.cmd, c.args, {
    stdoutFile: `${ctx.work}/logs/${name}-${run}.out`,
    stderrFile: `${ctx.work}/logs/${name}-${run}.err`,
    node: c.node,
  });
  const r = await m.done;
  const stderr = readFileSync(`${ctx.work}/logs/${name}-${run}.err`, 'utf8');
  if (r.code !== 0) throw new Error(`${name} run ${run} exited ${r.code ?? r.signal}: ${stderr.trim()}`);
  let packets: number;
  let bytesRead: number | null = null;
  let engineS: number | null = null;
  if (o.tcpdump) packets = countPcap(`${outDir}/tcpdump.pcap`);
  else {
    const s = SUMMARY.exec(stderr);
    if (!s) throw new Error(`${name} run ${run}: no summary line in ${stderr}`);
    packets = Number(s[1]);
    bytesRead = Number(s[2]) * UNIT[s[3]];
    engineS = Number(s[4]) / 1000;
    // The index path must really use the indexes (a damaged index is scanned instead, with a warning).
    const how = /(\d+) by index, (\d+) scanned/.exec(stderr);
    if (o.byIndex && how?.[2] !== '0')
      throw new Error(`${name} run ${run} did not read every file by its index: ${stderr.trim()}`);
  }
  rmSync(outDir, { recursive: true, force: true });
  return {
    run,
    wallS: r.wallMs / 1000,
    cpuS: r.cpuMs / 1000,
    peakRssMb: r.peakRssBytes / 2 ** 20,
    hostBusyPct: r.hostBusy * 100,
    packets,
    bytesRead,
    engineS,
  };
}

/** Medians of a set of runs as a figure. */
function figure(kind: QueryKind, label: string, cmd: string, rs: QueryRun[]): QueryFigure {
  const med = (g: (r: QueryRun) => number | null) => {
    const xs = rs.map(g).filter((x): x is number => x !== null);
    return xs.length ? median(xs) : null;
  };
  return {
    kind,
    label,
    command: cmd,
    runs: rs,
    median: {
      wallS: med((r) => r.wallS)!,
      cpuS: med((r) => r.cpuS)!,
      peakRssMb: med((r) => r.peakRssMb)!,
      engineS: med((r) => r.engineS),
      bytesRead: med((r) => r.bytesRead),
    },
    packets: rs[0].packets,
  };
}

/**
 * 64 files of 30,000 packets covering the same time span (every packet time overlaps every file),
 * written locally: with index v2, with v1 (for a baseline), and without any. Queried whole (every
 * packet, to pages) and broadly: the merge has all 64 open at once.
 */
async function overlapFigures(ctx: Ctx): Promise<QueryFigure[]> {
  const { writeStoreFile } = await import('../test/support/store-builder.js');
  const files = 64;
  const perFile = 30_000;
  const gen = new SyntheticCapture({ seed: 64, flows: 1000 });
  const roots = { v2: `${ctx.work}/overlap-v2`, v1: `${ctx.work}/overlap-v1`, none: `${ctx.work}/overlap-none` };
  const packets: { tsNs: bigint; frame: Buffer }[][] = Array.from({ length: files }, () => []);
  for (let i = 0; i < files * perFile; i++) {
    const p = gen.next();
    packets[i % files].push({ tsNs: p.tsNs, frame: p.frame });
  }
  for (let k = 0; k < files; k++) {
    await writeStoreFile(roots.v2, packets[k], { partition: k, index: 'v2' });
    if (ctx.o.baseline) await writeStoreFile(roots.v1, packets[k], { partition: k, index: 'v1' });
    await writeStoreFile(roots.none, packets[k], { partition: k, index: 'none' });
    packets[k] = [];
  }
  const first = 1_704_067_200_000n;
  const window = ['-st', String(first), '-et', String(first + 3_600_000n)];
  const all = (cli: string, root: string) => (out: string) => ({
    cmd: process.execPath,
    args: [cli, 'query', ...window, '-bp', `file://${root}`, '-q', '', '-o', out, '-pre', 'overlap'],
    node: true,
  });
  const broad = (cli: string, root: string) => (out: string) => ({
    cmd: process.execPath,
    args: [cli, 'query', ...window, '-bp', `file://${root}`, '-q', BROAD, '-o', out, '-pre', 'overlap'],
    node: true,
  });
  const cases: {
    label: string;
    name: string;
    make: (out: string) => { cmd: string; args: string[]; node: boolean };
    byIndex: boolean;
  }[] = [
    {
      label: '(e) 64 overlapping files, index v2: everything → pages',
      name: 'overlap-all-v2',
      make: all(OUR_CLI, roots.v2),
      byIndex: true,
    },
    {
      label: '(f) 64 overlapping files, index v2: broad → pages',
      name: 'overlap-broad-v2',
      make: broad(OUR_CLI, roots.v2),
      byIndex: true,
    },
    {
      label: '(g) 64 overlapping files, no index: everything (scan)',
      name: 'overlap-all-none',
      make: all(OUR_CLI, roots.none),
      byIndex: false,
    },
  ];
  if (ctx.o.baseline) {
    const old = `${ctx.o.baseline}/dist/cli/pcap-query/main.js`;
    cases.push(
      {
        label: 'baseline (e) 64 overlapping files, index v1: everything',
        name: 'b-overlap-all-v1',
        make: all(old, roots.v1),
        byIndex: true,
      },
      {
        label: 'baseline (g) 64 overlapping files, no index: everything',
        name: 'b-overlap-all-none',
        make: all(old, roots.none),
        byIndex: false,
      },
    );
  }
  const out: QueryFigure[] = [];
  for (const c of cases) {
    const rs: QueryRun[] = [];
    for (let run = 1; run <= ctx.o.runs; run++) {
      const r = await runCommand(ctx, c.name, run, c.make, { tcpdump: false, byIndex: c.byIndex });
      ctx.o.log(
        `${c.name} run ${run}: ${r.wallS.toFixed(2)} s, peak RSS ${r.peakRssMb.toFixed(0)} MiB, ${fmt.int(r.packets)} packets`,
      );
      rs.push(r);
    }
    out.push(
      figure(
        'broad',
        c.label,
        c
          .make('<out>')
          .args.map((a) => a.replace(ROOT, ''))
          .join(' '),
        rs,
      ),
    );
  }
  for (const r of Object.values(roots)) rmSync(r, { recursive: true, force: true });
  return out;
}

/** Self time per function from a V8 .cpuprofile, hottest first (idle/program/root left out). */
export function hottestFunctions(profilePath: string, n = 8): { totalMs: number; gcMs: number; top: HotFunction[] } {
  const p = JSON.parse(readFileSync(profilePath, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  let gc = 0;
  p.samples.forEach((id, k) => {
    const dt = p.timeDeltas[k] ?? 0;
    const cf = byId.get(id)!.callFrame;
    const fn = cf.functionName || '(anonymous)';
    if (fn === '(idle)' || fn === '(program)' || fn === '(root)') return;
    total += dt;
    if (fn === '(garbage collector)') gc += dt;
    const where = cf.url ? `${cf.url.replace(/^file:\/\//, '').replace(ROOT, '')}:${cf.lineNumber + 1}` : '(native)';
    const key = `${fn} ${where}`;
    const e = self.get(key) ?? { fn, where, us: 0 };
    e.us += dt;
    self.set(key, e);
  });
  const top = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, n)
    .map((e) => ({ fn: e.fn, where: e.where, selfMs: e.us / 1000, pct: total ? (100 * e.us) / total : 0 }));
  return { totalMs: total / 1000, gcMs: gc / 1000, top };
}

async function profile(
  ctx: Ctx,
  kind: QueryKind,
  flow: SyntheticFlow,
): Promise<{ totalMs: number; gcMs: number; top: HotFunction[] }> {
  const dir = `${ctx.work}/prof-${kind}`;
  const outDir = `${ctx.work}/out-prof-${kind}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const c = command(ctx, kind, flow, outDir, ['--cpu-prof', '--cpu-prof-dir', dir]);
  const m = spawnMeasured(c.cmd, c.args, {
    stdoutFile: `${ctx.work}/logs/prof-${kind}.out`,
    stderrFile: `${ctx.work}/logs/prof-${kind}.err`,
  });
  const r = await m.done;
  if (r.code !== 0) throw new Error(`profiling ${kind} exited ${r.code ?? r.signal}`);
  rmSync(outDir, { recursive: true, force: true });
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile written for ${kind}`);
  return hottestFunctions(`${dir}/${file}`);
}

/** Runs the query benchmark on a running stack with dist/ built; returns the figures. */
export async function benchQuery(ep: Endpoints, options: Partial<QueryBenchOptions> = {}): Promise<QueryBenchFigures> {
  const o: QueryBenchOptions = { ...DEFAULT_QUERY_BENCH, ...options };
  if (!existsSync(`${ROOT}dist/cli/pcap-query/main.js`))
    throw new Error('dist/ is not built: run `npm run build` first');
  const machine = await machineFacts(ep);
  const stamp = `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const work = `/tmp/pcapline-query-bench/${stamp}`;
  mkdirSync(`${work}/logs`, { recursive: true });
  const topic = `pcap-bench-query-${stamp}`;
  const out = o.target === 'hdfs' ? `${ep.webhdfsUrl}/pcapline-query-bench/${stamp}/input` : `${work}/store/input`;
  const capture = `${work}/capture.pcap`;
  try {
    o.log(`generating ${fmt.int(o.packets)} packets (${flowsFor(o)} flows, seed ${o.seed})`);
    const t = Date.now();
    const gen = await generate(capture, o);
    const generateS = (Date.now() - t) / 1000;
    o.log(
      `${fmt.mb(gen.bytes)} MB capture in ${generateS.toFixed(1)} s; ingesting into ${o.target} (${o.partitions} partitions, numPackets ${o.filePackets})`,
    );
    const ing = await ingest(ep, o, capture, topic, out);
    const storedBytes = ing.sealed.reduce((n, f) => n + f.bytes, 0);
    o.log(
      `ingested in ${ing.seconds.toFixed(1)} s (replay ${ing.replayS.toFixed(1)} s): ${ing.sealed.length} files, ${fmt.mb(storedBytes)} MB`,
    );

    // One flow among all: an untagged IPv4 TCP flow (so the BPF needs no vlan clause) of about
    // FLOW_PACKETS packets, whatever the store's size.
    const candidates = gen.flows.filter(
      (f) => f.flow.ipVersion === 4 && f.flow.protocol === 6 && f.flow.vlan < 0 && f.packets >= 100,
    );
    const chosen = candidates.sort(
      (a, b) => Math.abs(a.packets - FLOW_PACKETS) - Math.abs(b.packets - FLOW_PACKETS) || a.flow.id - b.flow.id,
    )[0];
    if (!chosen) throw new Error('no suitable flow in the capture');
    const f = chosen.flow;
    const flow = {
      id: f.id,
      packets: chosen.packets,
      description: `tcp ${f.srcAddr}:${f.srcPort} <-> ${f.dstAddr}:${f.dstPort}`,
    };
    o.log(`selective query: flow ${f.id}, ${flow.description}, ${chosen.packets} packets`);

    const ctx: Ctx = {
      cli: `${ROOT}dist/cli/pcap-query/main.js`,
      o,
      work,
      capture,
      bp: o.target === 'hdfs' ? out : `file://${out}`,
      startMs: gen.first / 1_000_000n,
      endMs: gen.last / 1_000_000n + 1n,
    };
    const runs = new Map<QueryKind, QueryRun[]>(KINDS.map((k) => [k, []]));
    for (let run = 1; run <= o.runs; run++) {
      for (const kind of KINDS) {
        const r = await runOnce(ctx, kind, f, run);
        runs.get(kind)!.push(r);
        o.log(
          `run ${run}/${o.runs} ${kind}: ${r.wallS.toFixed(2)} s wall${r.engineS === null ? '' : ` (engine ${r.engineS.toFixed(2)} s)`}, ${fmt.int(r.packets)} packets${r.bytesRead === null ? '' : `, ${fmt.mb(r.bytesRead)} MB read`}`,
        );
      }
    }
    for (const kind of ['index', 'scan', 'tcpdump'] as const) {
      for (const r of runs.get(kind)!) {
        if (r.packets !== chosen.packets)
          throw new Error(`${kind} run ${r.run} returned ${r.packets} packets, the flow has ${chosen.packets}`);
      }
    }
    const queries: QueryFigure[] = KINDS.map((kind) => {
      const c = command(ctx, kind, f, '<out>');
      const cmd = [c.cmd === process.execPath ? 'node' : c.cmd, ...c.args.map((a) => a.replace(ROOT, ''))].join(' ');
      return figure(kind, LABEL[kind], cmd, runs.get(kind)!);
    });
    const profiles: QueryBenchFigures['profiles'] = [];
    if (o.profile) {
      for (const kind of ['index', 'broad'] as const) {
        const p = await profile(ctx, kind, f);
        profiles.push({ kind, ...p });
        o.log(
          `profile ${kind}: hottest ${p.top[0]?.fn} (${p.top[0]?.where}) ${p.top[0]?.pct.toFixed(1)}% of ${p.totalMs.toFixed(0)} ms busy`,
        );
      }
    }
    // Index bytes per packet: v2 as stored; v1 for the same packets (written for the baseline, else only counted).
    const { root: storeRoot, path: storePath } = parseStorageUri(out);
    const storage = openStorage(storeRoot);
    let index: QueryBenchFigures['index'];
    const baseline: QueryFigure[] = [];
    try {
      const v2 = await v2IndexBytes(storage, storePath);
      let v1Bytes: number;
      if (o.baseline) {
        v1Bytes = (await downgradeStoreToV1(storage, storePath)).v1Bytes;
        const bctx: Ctx = { ...ctx, cli: `${o.baseline}/dist/cli/pcap-query/main.js` };
        for (const kind of ['index', 'broad'] as const) {
          const rs: QueryRun[] = [];
          for (let run = 1; run <= o.runs; run++) {
            const r = await runOnce(bctx, kind, f, run);
            o.log(
              `baseline run ${run} ${kind}: ${r.wallS.toFixed(2)} s wall (engine ${r.engineS?.toFixed(2)} s), ${fmt.int(r.packets)} packets, ${fmt.mb(r.bytesRead ?? 0)} MB read`,
            );
            rs.push(r);
          }
          if (kind === 'index' && rs.some((r) => r.packets !== chosen.packets))
            throw new Error(`the baseline returned ${rs[0].packets} packets, the flow has ${chosen.packets}`);
          baseline.push(figure(kind, `baseline ${LABEL[kind]} (index v1)`, `${o.baseline} pcap-query`, rs));
        }
      } else v1Bytes = await v1IndexBytes(storage, storePath);
      index = { v2BytesPerPacket: v2.bytes / o.packets, v1BytesPerPacket: v1Bytes / o.packets, files: v2.files };
      o.log(`index bytes per packet: v2 ${index.v2BytesPerPacket.toFixed(2)}, v1 ${index.v1BytesPerPacket.toFixed(2)}`);
    } finally {
      await storage.close();
    }
    const overlap = o.overlap ? await overlapFigures(ctx) : [];
    const { log: _log, ...plain } = o;
    return {
      machine,
      options: plain,
      capture: { packets: o.packets, bytes: gen.bytes, generateS },
      ingest: { target: o.target, seconds: ing.seconds, replayS: ing.replayS, files: ing.sealed.length, storedBytes },
      flow,
      index,
      queries,
      baseline,
      overlap,
      profiles,
    };
  } finally {
    if (!o.keep) {
      const admin = new Kafka({
        clientId: 'bench-query',
        brokers: ep.kafkaBrokers.split(','),
        logLevel: logLevel.NOTHING,
      }).admin();
      await admin
        .connect()
        .then(async () => {
          await admin.deleteTopics({ topics: [topic] }).catch(() => {});
          await admin.deleteGroups([`${topic}-g`]).catch(() => {});
        })
        .catch(() => {})
        .finally(() => admin.disconnect());
      if (o.target === 'hdfs') await removeOutput(out).catch(() => {});
      rmSync(work, { recursive: true, force: true });
    }
  }
}

export function queryTable(f: QueryBenchFigures): string {
  const s = (x: number | null, d = 2) => (x === null ? '-' : x.toFixed(d));
  const idx = f.index
    ? `index bytes per packet: v2 ${f.index.v2BytesPerPacket.toFixed(2)}, v1 ${f.index.v1BytesPerPacket.toFixed(2)} (${f.index.files} files)\n\n`
    : '';
  return (
    idx +
    table(
      ['query (median of runs)', 'runs', 'wall s', 'engine s', 'CPU s', 'peak RSS MiB', 'MB read', 'packets'],
      [...f.queries, ...(f.baseline ?? []), ...(f.overlap ?? [])].map((q) => [
        q.label,
        String(q.runs.length),
        s(q.median.wallS),
        s(q.median.engineS),
        s(q.median.cpuS),
        fmt.int(q.median.peakRssMb),
        q.median.bytesRead === null ? '-' : fmt.mb(q.median.bytesRead),
        fmt.int(q.packets),
      ]),
    )
  );
}

export function profileTable(f: QueryBenchFigures): string {
  return f.profiles
    .map(
      (p) =>
        `${LABEL[p.kind]}: ${p.totalMs.toFixed(0)} ms on CPU (GC ${p.gcMs.toFixed(0)} ms); hottest by self time:\n` +
        p.top
          .map((h) => `  ${h.pct.toFixed(1).padStart(5)}%  ${h.selfMs.toFixed(0).padStart(6)} ms  ${h.fn}  ${h.where}`)
          .join('\n'),
    )
    .join('\n\n');
}

export function parseQueryBenchArgs(argv: string[]): Partial<QueryBenchOptions> {
  const { values } = parseArgs({
    args: argv,
    options: {
      packets: { type: 'string' },
      partitions: { type: 'string' },
      'num-packets': { type: 'string' },
      flows: { type: 'string' },
      seed: { type: 'string' },
      runs: { type: 'string' },
      target: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      overlap: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const int = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name} needs an integer >= ${min}`);
    return Number(v);
  };
  const o: Partial<QueryBenchOptions> = {
    profile: !values['no-profile'],
    keep: values.keep!,
    overlap: values.overlap!,
  };
  if (values.baseline !== undefined) {
    if (!existsSync(`${values.baseline}/dist/cli/pcap-query/main.js`))
      throw new Error(
        `--baseline ${values.baseline}: no dist/cli/pcap-query/main.js there (build that checkout first)`,
      );
    o.baseline = values.baseline.replace(/\/+$/, '');
  }
  const set = <K extends keyof QueryBenchOptions>(k: K, v: QueryBenchOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('packets', int('packets', values.packets, 1000));
  set('partitions', int('partitions', values.partitions, 1));
  set('filePackets', int('num-packets', values['num-packets'], 1));
  set('flows', int('flows', values.flows, 2));
  set('seed', int('seed', values.seed, 0));
  set('runs', int('runs', values.runs, 1));
  if (values.target !== undefined) {
    if (values.target !== 'hdfs' && values.target !== 'local') throw new Error('--target is hdfs or local');
    o.target = values.target;
  }
  return o;
}

async function main(argv: string[]): Promise<void> {
  const options = parseQueryBenchArgs(argv);
  const ep = ensureStack();
  buildDist();
  const f = await benchQuery(ep, options);
  const path = writeResults('query', f);
  process.stdout.write(
    `\nQuery benchmark: ${fmt.int(f.capture.packets)} packets (${fmt.mb(f.capture.bytes)} MB capture), ingested by the topology into ${f.ingest.target} ` +
      `in ${f.ingest.seconds.toFixed(1)} s: ${f.ingest.files} files, ${fmt.mb(f.ingest.storedBytes)} MB. Selective flow: ${f.flow.description} (${f.flow.packets} packets).\n` +
      `Machine: ${f.machine.cores} cores ${f.machine.cpuModel}, load ${f.machine.loadAvg1m.toFixed(2)} at start (shared: figures are indicative).\n\n` +
      `${queryTable(f)}\n\n${profileTable(f)}\n\nresults: ${path}\n`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench/query: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
