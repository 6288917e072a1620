import { openStorage, parseStorageUri } from '../src/storage/index.js';
/** Helpers shared by the benchmarks: stack, build, measured child processes, machine facts, tables. */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { endpoints, type Endpoints } from '../src/lib/endpoints.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const RESULTS_DIR = `${ROOT}bench/results`;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A plain-text table: first column left-aligned, the rest right-aligned (they are figures). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The stack the benchmark runs on: the user's (KAFKA_BROKERS + WEBHDFS_URL) or our own, started if needed. */
export function ensureStack(): Endpoints {
  if (!(process.env.KAFKA_BROKERS && process.env.WEBHDFS_URL)) {
    execFileSync('bash', [`${ROOT}scripts/stack.sh`, 'up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return endpoints();
}

/** Compiles src/ to dist/ (the benchmarks time the shipped JavaScript, not tsx), or another tsconfig project. */
export function buildDist(project = 'tsconfig.build.json'): void {
  execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${ROOT}${project}`], {
    stdio: 'inherit',
    cwd: ROOT,
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface MachineFacts {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  os: string;
  node: string;
  java: string | null;
  kafka: string | null;
  hadoop: string | null;
  kcat: string | null;
  loadAvg1m: number;
}

/** First non-empty line a command prints on stdout or stderr (`java -version` uses stderr), or null. */
const firstLine = (cmd: string, args: string[]): string | null => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return null;
  return (
    `${r.stdout}${r.stderr}`
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? null
  );
};

/** Versions as the running services report them (works for our stack and for docker-compose's). */
export async function machineFacts(ep: Endpoints): Promise<MachineFacts> {
  const nn = `http://${new URL(ep.webhdfsUrl).host}`;
  let hadoop: string | null = ep.hadoopVersion ?? null;
  try {
    const r = await fetch(`${nn}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo`, {
      signal: AbortSignal.timeout(5000),
    });
    const j = (await r.json()) as { beans?: { SoftwareVersion?: string }[] };
    hadoop = j.beans?.[0]?.SoftwareVersion ?? hadoop;
  } catch {
    /* version stays as recorded by stack.sh */
  }
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()}`,
    node: process.version,
    java: firstLine('java', ['-version']),
    kafka: ep.kafkaVersion ?? null,
    hadoop,
    kcat: execKcatVersion(),
    loadAvg1m: loadavg()[0],
  };
}

function execKcatVersion(): string | null {
  const r = spawnSync('kcat', ['-V'], { encoding: 'utf8' });
  if (r.error) return null;
  const text = `${r.stdout}${r.stderr}`;
  const version = /Version (\S+)/.exec(text)?.[1];
  const librdkafka = /librdkafka (\S+)/.exec(text)?.[1];
  return version ? `${version}${librdkafka ? ` (librdkafka ${librdkafka})` : ''}` : null;
}

/** Whole-machine CPU busy time (all cores, seconds) from /proc/stat: to show contention during a run. */
export function hostCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3] + (f[4] ?? 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}

/**
 * The node flags a bin runs with: those on its `#!/usr/bin/env -S node ...` line. The benchmarks
 * spawn the compiled module with process.execPath (so they can add their own flags, e.g.
 * --cpu-prof, which NODE_OPTIONS refuses) and must run it as the bin does.
 */
export function launcherNodeFlags(bin: string): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env\s+(?:-S\s+)?node\b(.*)$/.exec(first);
  if (!m) throw new Error(`${bin} does not start with a '#!/usr/bin/env node' line`);
  return m[1].trim().split(/\s+/).filter(Boolean);
}

/**
 * Reports a Node child's own resource usage at exit, written to the file named by
 * PCAPLINE_BENCH_RUSAGE. The peak RSS is VmHWM from /proc/self/status (the high-water mark of this
 * process image): ru_maxrss is not usable here, because Linux carries it across fork+exec, so a
 * child spawned by a large benchmark process reported the parent's size. Loaded with --import, so
 * the program is unchanged.
 */
const RUSAGE_PRELOAD = `data:text/javascript,${encodeURIComponent(
  'import{writeFileSync,readFileSync}from"node:fs";const f=process.env.PCAPLINE_BENCH_RUSAGE;' +
    'if(f)process.on("exit",()=>{const u=process.resourceUsage();let hwm=u.maxRSS;' +
    'try{hwm=Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status","utf8"))[1])}catch{}' +
    'writeFileSync(f,JSON.stringify({maxRssKb:hwm,cpuUs:u.userCPUTime+u.systemCPUTime}))});',
)}`;

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  /** Peak resident set size, bytes: the child's own ru_maxrss (Node), else the last VmHWM polled. */
  peakRssBytes: number;
  /** User + system CPU of the child, ms. */
  cpuMs: number;
  /** Fraction of the whole machine's CPU capacity that was busy during the run (every process). */
  hostBusy: number;
  /** User + system CPU, ms, that each watched process (`watch`) used during the run. */
  watchedCpuMs: Record<string, number>;
}

/** User + system CPU of a process so far, ms (its /proc stat; null when it is gone or not ours to read). */
function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S; // utime, stime (fields 14, 15 of the line)
  } catch {
    return null;
  }
}

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat (100 on every Linux build we run on). */
const CLOCK_TICKS_PER_S = 100;

/** CPU ms each process used between two `processCpuMs` snapshots (processes gone at either end are left out). */
function cpuSince(before: Record<string, number | null>, pids: Record<string, number>): Record<string, number> {
  const used: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const a = before[name];
    const b = processCpuMs(pid);
    if (a !== null && a !== undefined && b !== null) used[name] = b - a;
  }
  return used;
}

export interface MeasuredChild {
  child: ChildProcess;
  startedAt: number;
  done: Promise<Measured>;
}

/**
 * Spawns a process, polling /proc/<pid> (VmHWM, utime+stime) every 100 ms; Node children also get
 * the exact figures from the rusage preload. stdout/stderr go to files (a pipe would let a slow
 * reader throttle the child).
 */
export function spawnMeasured(
  command: string,
  args: string[],
  o: {
    stdoutFile: string;
    stderrFile: string;
    env?: NodeJS.ProcessEnv;
    node?: boolean;
    /** Other processes whose CPU during the run is reported (the stack's Kafka, NameNode, DataNode). */
    watch?: Record<string, number>;
  },
): MeasuredChild {
  mkdirSync(o.stdoutFile.slice(0, o.stdoutFile.lastIndexOf('/')), { recursive: true });
  const rusageFile = `${o.stderrFile}.rusage.json`;
  rmSync(rusageFile, { force: true });
  const out = openSync(o.stdoutFile, 'w');
  const err = openSync(o.stderrFile, 'w');
  const cpu0 = hostCpu();
  const watch = o.watch ?? {};
  const watched0 = Object.fromEntries(Object.entries(watch).map(([name, pid]) => [name, processCpuMs(pid)]));
  const startedAt = Date.now();
  const child = spawn(command, o.node ? ['--import', RUSAGE_PRELOAD, ...args] : args, {
    stdio: ['ignore', out, err],
    env: { ...process.env, ...o.env, PCAPLINE_BENCH_RUSAGE: rusageFile },
  });
  closeSync(out);
  closeSync(err);
  let hwmKb = 0;
  let polledCpuMs = 0;
  const poll = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      hwmKb = Math.max(hwmKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      polledCpuMs = processCpuMs(child.pid!) ?? polledCpuMs;
    } catch {
      /* exited between polls */
    }
  }, 100);
  const done = new Promise<Measured>((resolve, reject) => {
    child.once('error', (e) => {
      clearInterval(poll);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearInterval(poll);
      const wallMs = Date.now() - startedAt;
      const cpu1 = hostCpu();
      const watchedCpuMs = cpuSince(watched0, watch);
      let peakRssBytes = hwmKb * 1024;
      let cpuMs = polledCpuMs;
      try {
        const r = JSON.parse(readFileSync(rusageFile, 'utf8')) as { maxRssKb: number; cpuUs: number };
        peakRssBytes = r.maxRssKb * 1024;
        cpuMs = r.cpuUs / 1000;
        rmSync(rusageFile, { force: true });
      } catch {
        /* not a Node child, or it was killed: keep the polled figures */
      }
      const capacity = cpu1.total - cpu0.total;
      resolve({
        code,
        signal,
        wallMs,
        peakRssBytes,
        cpuMs,
        hostBusy: capacity > 0 ? (cpu1.busy - cpu0.busy) / capacity : 0,
        watchedCpuMs,
      });
    });
  });
  return { child, startedAt, done };
}

/** Writes a result object as JSON under bench/results/, named <kind>-<timestamp>.json; returns the path. */
export function writeResults(kind: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = `${RESULTS_DIR}/${kind}-${stamp}.json`;
  writeFileSync(path, `${JSON.stringify(data, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  return path;
}

export const fmt = {
  int: (n: number): string => Math.round(n).toLocaleString('en-US'),
  f1: (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '-'),
  f2: (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-'),
  mb: (bytes: number): string => (bytes / 1e6).toFixed(1),
  mib: (bytes: number): string => (bytes / 2 ** 20).toFixed(0),
};

/** Deletes a benchmark's output directory (a storage URI), whichever back end it is on. */
export async function removeOutput(uri: string): Promise<void> {
  const { root, path } = parseStorageUri(uri);
  const storage = openStorage(root);
  try {
    await storage.delete(path, true);
  } finally {
    await storage.close();
  }
}
