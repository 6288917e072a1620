/**
 * Helpers for the query integration tests and the query benchmark: run the real `pcap-query` CLI
 * (spawned, from the sources through tsx), read pcap files with a parser of our own (independent of
 * src/formats, so the tests do not trust the code they test), ask tshark, and ingest data through
 * the real topology (Metron's 20-record sample, or a pcap replayed into a fresh topic).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createTopic, produce, tsKey } from './ingest.js';
import { uniqueName } from './stack.js';
import type { Endpoints } from '../../src/lib/endpoints.js';
import { readSequenceFile } from '../../src/formats/sequencefile/index.js';
import { applyConfig, defaultConfig } from '../../src/config/topology-config.js';
import { Topology, type SealedFile } from '../../src/topology.js';
import { createLogger } from '../../src/lib/log.js';
import { replay } from '../../src/sensor/replay.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const SAMPLE_PATH = fileURLToPath(new URL('../fixtures/PCAPExampleOutput', import.meta.url));
const QUERY_CLI = `${REPO}src/cli/pcap-query/main.ts`;
/** tsx's loader by absolute URL, so the CLI can run with any working directory. */
const TSX = import.meta.resolve('tsx');

// ---------------------------------------------------------------------------------------------
// Processes

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the child's stdin (then closed). */
  input?: Buffer;
  timeoutMs?: number;
}

/** Runs a program to completion, collecting stdout (bytes) and stderr (text). Never throws on exit status. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - started,
      });
    });
    if (opts.input) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input);
    }
  });
}

/** Newest (max) or oldest (min) mtime of the files under `dir` whose names match. */
function mtimes(dir: string, match: RegExp, pick: (a: number, b: number) => number, start: number): number {
  let t = start;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) t = mtimes(p, match, pick, t);
    else if (match.test(e.name)) t = pick(t, statSync(p).mtimeMs);
  }
  return t;
}

/**
 * `bin/pcap-query` (the shipped entry, dist/) when dist/ was built after the last change under src/
 * (`npm test` builds first), else src/cli/pcap-query/main.ts through tsx (a test file run on its own
 * after an edit). PCAPLINE_TEST_CLI=src|dist forces one. dist/ starts about twice as fast.
 */
function queryCommand(): string[] {
  const forced = process.env.PCAPLINE_TEST_CLI;
  let useDist = forced === 'dist';
  if (forced === undefined) {
    try {
      useDist =
        existsSync(`${REPO}dist/cli/pcap-query/main.js`) &&
        mtimes(`${REPO}src`, /\.(ts|js|peggy)$/, Math.max, 0) <= mtimes(`${REPO}dist`, /\.js$/, Math.min, Infinity);
    } catch {
      useDist = false;
    }
  }
  return useDist ? [`${REPO}bin/pcap-query`] : ['--import', TSX, QUERY_CLI];
}
let cachedCommand: string[] | undefined;

/** The real `pcap-query` CLI as a user runs it (see queryCommand for which build). */
export function pcapQuery(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  cachedCommand ??= queryCommand();
  return run(process.execPath, [...cachedCommand, ...args], opts);
}

/** Shell command line for the CLI (for pipes such as `pcap-query ... -o - | tshark -r -`). */
export function pcapQueryCommand(args: readonly string[]): string {
  cachedCommand ??= queryCommand();
  return [process.execPath, ...cachedCommand, ...args].map(shellQuote).join(' ');
}

export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** stderr without tshark's "Running as user root" chatter. */
export const tsharkNoise = (stderr: string): string =>
  stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^Running as user .* This could be dangerous\.$/.test(l.trim()))
    .join('\n');

/** Runs at most `limit` of the tasks at a time; results in task order. */
export async function pool<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const k = next++;
      results[k] = await tasks[k]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------
// Pcap files (an independent reader: classic pcap, either byte order, µs or ns)

export interface PcapPacketRead {
  tsNs: bigint;
  /** Time as the file states it, in µs (Metron's ts_micro). */
  tsMicro: bigint;
  inclLen: number;
  origLen: number;
  data: Buffer;
}

export interface PcapRead {
  linkType: number;
  snaplen: number;
  nanos: boolean;
  littleEndian: boolean;
  packets: PcapPacketRead[];
}

export function parsePcap(buf: Buffer, what = 'pcap'): PcapRead {
  assert.ok(buf.length >= 24, `${what}: ${buf.length} bytes is shorter than a pcap global header`);
  const magicLE = buf.readUInt32LE(0);
  let littleEndian: boolean;
  let nanos: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    littleEndian = true;
    nanos = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = buf.readUInt32BE(0);
    assert.ok(
      magicBE === 0xa1b2c3d4 || magicBE === 0xa1b23c4d,
      `${what}: not a classic pcap (magic ${buf.subarray(0, 4).toString('hex')})`,
    );
    littleEndian = false;
    nanos = magicBE === 0xa1b23c4d;
  }
  const u32 = (at: number) => (littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const snaplen = u32(16);
  const linkType = u32(20);
  const packets: PcapPacketRead[] = [];
  let at = 24;
  while (at < buf.length) {
    assert.ok(at + 16 <= buf.length, `${what}: truncated packet header at byte ${at}`);
    const sec = BigInt(u32(at));
    const frac = BigInt(u32(at + 4));
    const inclLen = u32(at + 8);
    const origLen = u32(at + 12);
    assert.ok(at + 16 + inclLen <= buf.length, `${what}: truncated packet at byte ${at}`);
    const tsNs = sec * 1_000_000_000n + (nanos ? frac : frac * 1000n);
    packets.push({ tsNs, tsMicro: tsNs / 1000n, inclLen, origLen, data: buf.subarray(at + 16, at + 16 + inclLen) });
    at += 16 + inclLen;
  }
  return { linkType, snaplen, nanos, littleEndian, packets };
}

export async function readPcap(path: string): Promise<PcapRead> {
  return parsePcap(await readFile(path), path);
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The first index where two packet lists differ (time or bytes), or -1; and a description. */
export function firstDifference(
  ours: readonly PcapPacketRead[],
  theirs: readonly PcapPacketRead[],
): { at: number; what: string } | null {
  const n = Math.min(ours.length, theirs.length);
  for (let i = 0; i < n; i++) {
    if (ours[i].tsMicro !== theirs[i].tsMicro)
      return { at: i, what: `packet ${i}: time ${ours[i].tsMicro} µs vs ${theirs[i].tsMicro} µs` };
    if (ours[i].origLen !== theirs[i].origLen)
      return { at: i, what: `packet ${i}: orig_len ${ours[i].origLen} vs ${theirs[i].origLen}` };
    if (!ours[i].data.equals(theirs[i].data))
      return { at: i, what: `packet ${i} (${ours[i].tsMicro} µs): frame bytes differ` };
  }
  if (ours.length !== theirs.length) return { at: n, what: `${ours.length} packets vs ${theirs.length}` };
  return null;
}

// ---------------------------------------------------------------------------------------------
// tshark

/** Options that make tshark dissect each packet on its own (no reassembly, no name lookups). */
export const TSHARK_OPTS = [
  '-n',
  '-o',
  'ip.defragment:FALSE',
  '-o',
  'ipv6.defragment:FALSE',
  '-o',
  'tcp.desegment_tcp_streams:FALSE',
  '-o',
  'tcp.analyze_sequence_numbers:FALSE',
];

/** Number of packets tshark reads from a file (asserting it opens cleanly). */
export async function tsharkCount(file: string): Promise<number> {
  const r = await run('tshark', ['-r', file, ...TSHARK_OPTS, '-T', 'fields', '-e', 'frame.number']);
  assert.equal(r.code, 0, `tshark -r ${file} exits 0: ${tsharkNoise(r.stderr)}`);
  assert.equal(tsharkNoise(r.stderr), '', `tshark reads ${file} without complaint`);
  return r.stdout
    .toString()
    .split('\n')
    .filter((l) => l.trim() !== '').length;
}

/** The packets of `capture` that tshark's display filter selects, as tshark writes them (classic pcap). */
export async function tsharkFilter(capture: string, filter: string): Promise<PcapPacketRead[]> {
  const r = await run('tshark', ['-r', capture, ...TSHARK_OPTS, '-Y', filter, '-F', 'pcap', '-w', '-'], {
    timeoutMs: 300_000,
  });
  assert.equal(r.code, 0, `tshark -Y '${filter}' exits 0: ${tsharkNoise(r.stderr)}`);
  return parsePcap(r.stdout, `tshark -Y '${filter}'`).packets;
}

// ---------------------------------------------------------------------------------------------
// Data through the real topology

export interface SampleRecord {
  /** ns timestamp (the re-ingest key of metron-compat §9). */
  tsNs: bigint;
  /** The stored one-packet pcap: 24-byte global header, 16-byte packet header, frame. */
  value: Buffer;
}

/** The 20 records of Metron's PCAPExampleOutput, with ns times from their pcap headers. */
export async function readSample(): Promise<SampleRecord[]> {
  const out: SampleRecord[] = [];
  for await (const r of readSequenceFile(createReadStream(SAMPLE_PATH))) {
    const value = Buffer.from(r.value);
    const tsNs = BigInt(value.readUInt32LE(24)) * 1_000_000_000n + BigInt(value.readUInt32LE(28)) * 1000n;
    out.push({ tsNs, value });
  }
  assert.equal(out.length, 20, 'the sample holds 20 records');
  return out;
}

export interface IngestResult {
  topic: string;
  sealed: SealedFile[];
  packets: number;
  ms: number;
}

async function runTopology(
  ep: Endpoints,
  settings: Record<string, string>,
  expected: number,
  timeoutMs: number,
): Promise<{ sealed: SealedFile[] }> {
  const config = defaultConfig({});
  applyConfig(config, {
    'kafka.bootstrap.servers': ep.kafkaBrokers,
    'kafka.group.id': uniqueName('g-query'),
    'kafka.pcap.start': 'EARLIEST',
    'kafka.pcap.idleTimeoutMS': '0',
    ...settings,
  });
  const topology = await Topology.start(config, { log: createLogger('query-test', 'warn') });
  const sealed: SealedFile[] = [];
  topology.on('sealed', (f: SealedFile) => sealed.push(f));
  try {
    const deadline = Date.now() + timeoutMs;
    // Every record is in a sealed file or in an open one (which stop() seals). recordsIn alone is
    // not enough: after a transient storage failure the partition re-reads from its committed offset.
    const stored = () => sealed.reduce((n, f) => n + f.count, 0) + topology.metrics.commitLag;
    while (topology.metrics.recordsIn < expected || stored() < expected) {
      if (Date.now() > deadline)
        throw new Error(
          `ingest: ${stored()} of ${expected} records stored or open after ${timeoutMs} ms (${topology.metrics.statsLine()})`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await topology.stop(); // seals the open files
  }
  const stored = sealed.reduce((n, f) => n + f.count, 0);
  assert.equal(stored, expected, `every record stored once (${stored} of ${expected})`);
  return { sealed };
}

/**
 * Metron's PcapTopologyIntegrationTest ingest (metron-compat §8.9): the 20 sample records without their
 * 40 header bytes, 8-byte BE ns keys, one partition, NANOSECONDS, numPackets=2 → 10 files in `out`.
 */
export async function ingestSample(ep: Endpoints, sample: readonly SampleRecord[], out: string): Promise<IngestResult> {
  const started = Date.now();
  const topic = uniqueName('query-metron');
  await createTopic(ep.kafkaBrokers, topic, 1);
  await produce(
    ep.kafkaBrokers,
    topic,
    sample.map((r) => ({ partition: 0, key: tsKey(r.tsNs), value: r.value.subarray(40) })),
  );
  const { sealed } = await runTopology(
    ep,
    {
      'spout.kafka.topic.pcap': topic,
      'kafka.pcap.numPackets': '2',
      'kafka.pcap.maxTimeMS': '200000000',
      'kafka.pcap.ts_granularity': 'NANOSECONDS',
      'kafka.pcap.out': out,
      'pcap.instance.id': 'metron',
    },
    sample.length,
    60_000,
  );
  assert.equal(sealed.length, 10, 'numPackets=2: ten files');
  return { topic, sealed, packets: sample.length, ms: Date.now() - started };
}

/**
 * Replays a pcap into a fresh topic with `partitions` partitions (key = BE µs, partition by key
 * hash, as a sensor does) and runs the topology in process until every packet is stored in `out`.
 */
export async function ingestPcap(
  ep: Endpoints,
  o: {
    pcap: string;
    packets: number;
    out: string;
    partitions: number;
    numPackets: number;
    topic?: string;
    timeoutMs?: number;
  },
): Promise<IngestResult & { replayMs: number }> {
  const started = Date.now();
  const topic = o.topic ?? uniqueName('query-capture');
  await createTopic(ep.kafkaBrokers, topic, o.partitions);
  const sent = await replay({
    input: o.pcap,
    topic,
    brokers: ep.kafkaBrokers.split(','),
    granularity: 'MICROSECONDS',
    rate: 0,
    loop: 1,
    batch: 2000,
  });
  assert.equal(sent, o.packets, 'every packet replayed');
  const replayMs = Date.now() - started;
  const { sealed } = await runTopology(
    ep,
    {
      'spout.kafka.topic.pcap': topic,
      'kafka.pcap.numPackets': String(o.numPackets),
      'kafka.pcap.maxTimeMS': '0',
      'kafka.pcap.ts_granularity': 'MICROSECONDS',
      'kafka.pcap.out': o.out,
      'pcap.instance.id': 'query',
    },
    o.packets,
    o.timeoutMs ?? 600_000,
  );
  const partitionsUsed = new Set(sealed.map((f) => f.partition));
  assert.equal(partitionsUsed.size, o.partitions, `packets in all ${o.partitions} partitions`);
  return { topic, sealed, packets: o.packets, ms: Date.now() - started, replayMs };
}

/** `webhdfs://host:port/path` → the same; a local directory → `file:///dir`. */
export const storeUri = (out: string): string => (/^[a-z]+:\/\//.test(out) ? out : `file://${out}`);
