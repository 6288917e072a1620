/**
 * Load for pcap-server (a script, not part of npm test):
 *
 *   npm run build && npm run load:server -- [--jobs 50] [--polls 200] [--duration 300] [--packets 200000]
 *       [--users 5] [--target hdfs|local] [--max-running 4] [--worker-memory 512] [--name i15-server-load] [--cpu-prof] [--keep]
 *
 * Generates a synthetic capture, ingests it with the real topology (Kafka → HDFS, or a local
 * store), starts `bin/pcap-server` as its own process, then for --duration seconds keeps --jobs
 * jobs in flight (spread over --users users, a mix of fixed and expression queries over the
 * capture's flows; the server runs --max-running of them at once, the rest wait SUBMITTED) while
 * polling job status at --polls requests per second. Then it stops submitting and polls on until
 * the jobs in flight have finished. Every finished job's whole result is compared byte for byte
 * with `pcap-query ... -o -` for the same query.
 *
 * Polls are open-loop: they are due at a fixed rate whatever the answers do, sent over a bounded
 * keep-alive pool of connections, and a poll that cannot be sent because too many are outstanding
 * is counted as missed, never silently dropped; latency is measured from when the poll was due
 * (so a stalled server shows as latency, not as a lower rate). Every second the script samples the
 * server process's RSS (worker threads included: they share the process), its CPU split between
 * the main (HTTP) thread and the rest (job workers, GC, libuv), its own event-loop delay and the
 * machine's load; it prints a line per --every seconds and a summary. With --cpu-prof the server
 * runs under `node --cpu-prof` (one profile per thread) and the main thread's hottest functions are
 * printed. Exits 1 if any result differs, a job fails or a poll errs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { hashPassword } from '../src/server/auth/passwords.js';
import { ensureStack } from '../test/helpers/stack.js';
import { ingestPcap, pcapQuery, REPO } from '../test/helpers/query.js';
import { writeSyntheticPcap, type SyntheticFlow } from '../test/support/synthetic.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '50' },
    polls: { type: 'string', default: '200' },
    duration: { type: 'string', default: '300' },
    packets: { type: 'string', default: '200000' },
    users: { type: 'string', default: '5' },
    target: { type: 'string', default: 'hdfs' },
    'max-running': { type: 'string', default: '4' },
    'worker-memory': { type: 'string', default: '512' },
    name: { type: 'string', default: 'i15-server-load' },
    every: { type: 'string', default: '30' },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});
const JOBS = Number(values.jobs);
const POLLS = Number(values.polls);
const DURATION_S = Number(values.duration);
const PACKETS = Number(values.packets);
const USERS = Number(values.users);
const PAGE = 1000;
const log = (m: string) => process.stderr.write(`load: ${m}\n`);

const ep = ensureStack();
const stamp = `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
const work = `/tmp/pcapline-server-load/${stamp}`;
mkdirSync(work, { recursive: true });
const out = values.target === 'hdfs' ? `${ep.webhdfsUrl}/${values.name}/${stamp}/input` : `${work}/store/input`;
const storeUri = values.target === 'hdfs' ? ep.webhdfsUrl : 'file:///';
const basePath = values.target === 'hdfs' ? `/${values.name}/${stamp}/input` : `${work}/store/input`;

// ---- data
log(`generating ${PACKETS} packets`);
const gen = await writeSyntheticPcap(`${work}/capture.pcap`, PACKETS, { seed: 15, flows: 64 });
log(`ingesting into ${out}`);
const ing = await ingestPcap(ep, {
  pcap: `${work}/capture.pcap`,
  packets: PACKETS,
  out,
  partitions: 4,
  numPackets: 20_000,
  topic: `${values.name}-${stamp}`,
});
log(`ingested ${ing.sealed.length} files in ${(ing.ms / 1000).toFixed(1)} s`);
const startMs = Number(gen.firstTsNs / 1_000_000n);
const endMs = Number(gen.lastTsNs / 1_000_000n) + 1;

// ---- queries: fixed and expression forms over several flows, each checked against the CLI once
interface Q {
  mode: 'fixed' | 'query';
  body: Record<string, unknown>;
  cli: string[];
  sha?: string;
  packets?: number;
}
const flows = gen.flows.filter((f: SyntheticFlow) => f.protocol === 6 || f.protocol === 17).slice(0, 6);
const queries: Q[] = [];
for (const f of flows) {
  const mid = Math.floor((startMs + endMs) / 2);
  queries.push({
    mode: 'fixed',
    body: { startTimeMs: startMs, endTimeMs: endMs, ipSrcAddr: f.srcAddr, ipDstAddr: f.dstAddr, includeReverse: true },
    cli: ['fixed', '-st', String(startMs), '-et', String(endMs), '-sa', f.srcAddr, '-da', f.dstAddr, '-ir'],
  });
  queries.push({
    mode: 'query',
    body: { startTimeMs: startMs, endTimeMs: mid, query: `ip_dst_port == ${f.dstPort} and protocol == ${f.protocol}` },
    cli: [
      'query',
      '-st',
      String(startMs),
      '-et',
      String(mid),
      '-q',
      `ip_dst_port == ${f.dstPort} and protocol == ${f.protocol}`,
    ],
  });
}
queries.push({
  mode: 'query',
  body: { startTimeMs: startMs, endTimeMs: startMs + 2000, query: '' },
  cli: ['query', '-st', String(startMs), '-et', String(startMs + 2000)],
});
log(`computing the CLI's answer for ${queries.length} queries`);
for (const q of queries) {
  const r = await pcapQuery([...q.cli, '-bp', out, '-o', '-', '--quiet'], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`pcap-query ${q.cli.join(' ')}: ${r.stderr}`);
  q.sha = createHash('sha256').update(r.stdout).digest('hex');
  q.packets = r.stdout.length > 24 ? countPackets(r.stdout) : 0;
}

function countPackets(b: Buffer): number {
  let n = 0;
  for (let at = 24; at + 16 <= b.length; at += 16 + b.readUInt32LE(at + 8)) n++;
  return n;
}

// ---- server
const users = Array.from({ length: USERS }, (_, i) => `load${i}`);
const tokens = new Map(users.map((u) => [u, randomBytes(24).toString('base64url')]));
const config = {
  listen: { host: '127.0.0.1', port: 0 },
  store: { uri: storeUri, basePath },
  results: { dir: `${work}/results`, pageSize: PAGE, retentionHours: 1 },
  jobs: {
    maxRunning: Number(values['max-running']),
    workerMemoryMb: Number(values['worker-memory']),
    maxRunningPerUser: 2,
    maxActivePerUser: Math.ceil(JOBS / USERS) + 5,
  },
  auth: {
    users: [{ name: 'admin', password: await hashPassword(randomBytes(9).toString('hex')) }],
    tokens: users.map((u) => ({ user: u, sha256: createHash('sha256').update(tokens.get(u)!).digest('hex') })),
  },
};
writeFileSync(`${work}/server.json`, JSON.stringify(config, null, 2));
const port = 18000 + Math.floor(Math.random() * 1000);
const profDir = `${work}/cpu-prof`;
const server: ChildProcess = spawn(
  process.execPath,
  [
    ...(values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
    `${REPO}bin/pcap-server`,
    '-c',
    `${work}/server.json`,
    '--port',
    String(port),
  ],
  {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  },
);
let serverLog = '';
server.stderr!.on('data', (b: Buffer) => {
  serverLog = (serverLog + b.toString()).slice(-20_000);
});
const base = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/api/v1/health`)).ok) break;
  } catch {
    /* not yet */
  }
  if (i > 200) throw new Error(`pcap-server did not start: ${serverLog}`);
  await new Promise((r) => setTimeout(r, 100));
}

// ---- what is sampled every second: the server process (all its threads) and this client
const TICKS_PER_S = 100; // /proc's clock ticks (USER_HZ)
const rssMb = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
};
/** CPU seconds of one /proc stat line (utime + stime; the command name may hold spaces). */
const cpuOf = (stat: string) => {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
};
const serverCpu = (): { main: number; total: number } => {
  const total = cpuOf(readFileSync(`/proc/${server.pid}/stat`, 'utf8'));
  let main = 0;
  try {
    main = cpuOf(readFileSync(`/proc/${server.pid}/task/${server.pid}/stat`, 'utf8'));
  } catch {
    /* exited */
  }
  return { main, total };
};
const rssBaseline = rssMb();
log(
  `server up (pid ${server.pid}, RSS ${rssBaseline.toFixed(0)} MB); ${JOBS} jobs in flight, ${POLLS} polls/s for ${DURATION_S} s`,
);

// Polls share a bounded keep-alive pool, as a real client (or a reverse proxy) would.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const MAX_OUTSTANDING = 512;
const authHeader = (u: string) => `Bearer ${tokens.get(u)}`;

function get(path: string, user: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { agent, headers: { authorization: authHeader(user) }, timeout: 120_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in 120 s')));
    req.on('error', reject);
    req.end();
  });
}

// ---- load
interface Flight {
  user: string;
  jobId: string;
  q: Q;
  submitted: number;
  state: string;
}
const inFlight: Flight[] = [];
const stats = {
  submitted: 0,
  succeeded: 0,
  failed: 0,
  mismatched: 0,
  refused: 0,
  jobMs: [] as number[],
};
/** Per-second buckets of the poll figures, plus the samples taken that second. */
interface Second {
  due: number;
  done: number;
  missed: number;
  errors: number;
  latencies: number[];
  rss: number;
  cpuMain: number;
  cpuTotal: number;
  running: number;
  clientLagP99: number;
  load1: number;
}
const seconds: Second[] = [];
const errorKinds = new Map<string, number>();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let qi = 0;
let submitting = true;

async function submitOne(user: string): Promise<void> {
  const q = queries[qi++ % queries.length];
  const r = await fetch(`${base}/api/v1/pcap/${q.mode}`, {
    method: 'POST',
    headers: { authorization: authHeader(user), 'content-type': 'application/json' },
    body: JSON.stringify(q.body),
  });
  if (r.status !== 200) {
    stats.refused++;
    log(`submit refused ${r.status}: ${await r.text()}`);
    return;
  }
  const s = (await r.json()) as { jobId: string; jobStatus: string };
  stats.submitted++;
  inFlight.push({ user, jobId: s.jobId, q, submitted: Date.now(), state: s.jobStatus });
}

/** Downloads a finished job's whole result, hashing it as it arrives (no whole result in memory). */
async function verify(f: Flight, pageTotal: number): Promise<void> {
  const r = await fetch(`${base}/api/v1/pcap/${f.jobId}/download`, { headers: { authorization: authHeader(f.user) } });
  const hash = createHash('sha256');
  let bytes = 0;
  if (r.body)
    for await (const chunk of r.body) {
      hash.update(chunk);
      bytes += chunk.length;
    }
  const sha = hash.digest('hex');
  const expectedPages = Math.ceil((f.q.packets ?? 0) / PAGE);
  if (r.status !== 200 || sha !== f.q.sha || pageTotal !== expectedPages) {
    stats.mismatched++;
    log(
      `MISMATCH ${f.jobId} (${f.q.cli.join(' ')}): HTTP ${r.status}, ${bytes} bytes, ${pageTotal} pages; CLI ${f.q.packets} packets`,
    );
  }
}

const verifying: Promise<void>[] = [];
let outstanding = 0;
let pollIndex = 0;
const started = performance.now();
const secondOf = (t: number): Second => {
  const k = Math.floor((t - started) / 1000);
  while (seconds.length <= k)
    seconds.push({
      due: 0,
      done: 0,
      missed: 0,
      errors: 0,
      latencies: [],
      rss: 0,
      cpuMain: 0,
      cpuTotal: 0,
      running: 0,
      clientLagP99: 0,
      load1: 0,
    });
  return seconds[k];
};

async function pollOnce(dueAt: number): Promise<void> {
  const f = inFlight[pollIndex++ % inFlight.length];
  outstanding++;
  try {
    const r = await get(`/api/v1/pcap/${f.jobId}`, f.user);
    if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.toString().slice(0, 200)}`);
    const s = JSON.parse(r.body.toString()) as { jobStatus: string; pageTotal: number; description: string };
    const now = performance.now();
    const sec = secondOf(dueAt);
    sec.done++;
    sec.latencies.push(now - dueAt);
    f.state = s.jobStatus;
    if (['SUCCEEDED', 'FAILED', 'KILLED'].includes(s.jobStatus)) {
      const k = inFlight.indexOf(f);
      if (k < 0) return; // already handled by a concurrent poll
      inFlight.splice(k, 1);
      stats.jobMs.push(Date.now() - f.submitted);
      if (s.jobStatus === 'SUCCEEDED') {
        stats.succeeded++;
        verifying.push(verify(f, s.pageTotal));
      } else {
        stats.failed++;
        log(`job ${f.jobId} ${s.jobStatus}: ${s.description}`);
      }
      if (submitting) await submitOne(f.user);
    }
  } catch (err) {
    secondOf(dueAt).errors++;
    const kind = (err as Error).message.replace(/job_\w+/g, 'job_…').slice(0, 120);
    errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
  } finally {
    outstanding--;
  }
}

while (inFlight.length < JOBS) await submitOne(users[stats.submitted % USERS]);

// Open loop: every 5 ms, send the polls that have come due since the last tick.
let sent = 0;
let printed = 0;
const EVERY = Math.max(1, Number(values.every));
let lastCpu = serverCpu();
const sampler = setInterval(() => {
  const sec = secondOf(performance.now() - 1); // the second that just ended
  const cpu = serverCpu();
  sec.rss = rssMb();
  sec.cpuMain = cpu.main - lastCpu.main;
  sec.cpuTotal = cpu.total - lastCpu.total;
  lastCpu = cpu;
  sec.running = inFlight.filter((f) => f.state === 'RUNNING').length;
  sec.clientLagP99 = loopDelay.percentile(99) / 1e6;
  sec.load1 = loadavg()[0];
  loopDelay.reset();
}, 1000);
const windowEnd = started + DURATION_S * 1000;
const drainLimit = windowEnd + 600_000;
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const now = performance.now();
    if (now >= windowEnd && submitting) {
      submitting = false;
      log(`${DURATION_S} s of load done; polling on until the ${inFlight.length} jobs in flight finish`);
    }
    if ((!submitting && inFlight.length === 0) || now >= drainLimit) {
      clearInterval(tick);
      resolve();
      return;
    }
    const due = Math.floor(((now - started) * POLLS) / 1000);
    for (; sent < due; sent++) {
      const dueAt = started + (sent * 1000) / POLLS;
      const sec = secondOf(dueAt);
      sec.due++;
      if (outstanding >= MAX_OUTSTANDING || inFlight.length === 0) sec.missed++;
      else void pollOnce(dueAt);
    }
    if (seconds.length % EVERY === 0 && seconds.length !== printed) {
      printed = seconds.length;
      log(windowLine(seconds.slice(-EVERY - 1, -1), `t=${seconds.length - 1 - EVERY}..${seconds.length - 1} s`));
    }
  }, 5);
});
const totalS = (performance.now() - started) / 1000;
await Promise.all(verifying);
clearInterval(sampler);
loopDelay.disable();
agent.destroy();
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));

function pct(xs: number[], p: number): number {
  const s = Float64Array.from(xs).sort();
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : 0;
}
function windowLine(secs: Second[], label: string): string {
  const sum = (k: keyof Second) => secs.reduce((a, s) => a + (s[k] as number), 0);
  const lat = secs.flatMap((s) => s.latencies);
  const n = Math.max(1, secs.length);
  return (
    `${label}: polls due ${(sum('due') / n).toFixed(0)}/s, answered ${(sum('done') / n).toFixed(0)}/s, missed ${sum('missed')}, errors ${sum('errors')}; ` +
    `latency p50 ${pct(lat, 50).toFixed(1)} ms p99 ${pct(lat, 99).toFixed(1)} ms max ${pct(lat, 100).toFixed(0)} ms; ` +
    `server RSS max ${Math.max(0, ...secs.map((s) => s.rss)).toFixed(0)} MB, CPU main thread ${((100 * sum('cpuMain')) / n).toFixed(0)}% of a core, whole process ${((100 * sum('cpuTotal')) / n).toFixed(0)}%; ` +
    `running ${Math.max(0, ...secs.map((s) => s.running))}; client loop-delay p99 max ${Math.max(0, ...secs.map((s) => s.clientLagP99)).toFixed(0)} ms; load ${(sum('load1') / n).toFixed(1)}`
  );
}

const inWindow = seconds.slice(0, DURATION_S);
const drain = seconds.slice(DURATION_S);
const allLat = inWindow.flatMap((s) => s.latencies);
const rssSeries = seconds.map((s) => s.rss).filter((x) => x > 0);
const minute = (k: number) => rssSeries.slice(k * 60, (k + 1) * 60);
const lines = [
  `pcap-server load (${values.target}, ${PACKETS} packets in ${ing.sealed.length} files; ${USERS} users, ${JOBS} jobs in flight, target ${POLLS} polls/s, ${DURATION_S} s then drain; maxRunning ${config.jobs.maxRunning}, worker heap limit ${config.jobs.workerMemoryMb} MB)`,
  `jobs: ${stats.submitted} submitted, ${stats.succeeded} succeeded, ${stats.failed} failed, ${stats.refused} refused, ${stats.mismatched} results differing from the CLI (every succeeded job checked byte for byte)`,
  `job time (submit to done, queueing included): median ${(pct(stats.jobMs, 50) / 1000).toFixed(1)} s, p95 ${(pct(stats.jobMs, 95) / 1000).toFixed(1)} s`,
  windowLine(inWindow, `status polls, the ${DURATION_S} s of load`),
  `  achieved ${(inWindow.reduce((a, s) => a + s.done, 0) / Math.max(1, inWindow.length)).toFixed(1)}/s of ${POLLS}/s; latency (from when due) p50 ${pct(allLat, 50).toFixed(1)} ms, p90 ${pct(allLat, 90).toFixed(1)} ms, p99 ${pct(allLat, 99).toFixed(1)} ms, p99.9 ${pct(allLat, 99.9).toFixed(1)} ms, max ${pct(allLat, 100).toFixed(0)} ms`,
  windowLine(drain, `status polls, drain (${drain.length} s)`),
  `poll errors: ${errorKinds.size ? [...errorKinds].map(([k, v]) => `${v} × ${k}`).join('; ') : 'none'}`,
  `server RSS (process, job workers included): ${rssBaseline.toFixed(0)} MB idle at start; per minute max ${Array.from(
    { length: Math.ceil(rssSeries.length / 60) },
    (_, k) => Math.max(...minute(k)).toFixed(0),
  ).join(', ')} MB; median ${pct(rssSeries, 50).toFixed(0)} MB, max ${Math.max(...rssSeries).toFixed(0)} MB`,
  `total ${totalS.toFixed(0)} s`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (values['cpu-prof']) process.stdout.write(profileSummary(profDir));
if (!values.keep) rmSync(work, { recursive: true, force: true });
else log(`kept ${work}`);
process.exit(stats.mismatched || stats.failed || errorKinds.size ? 1 : 0);

/** The server's main thread (thread id 0 in the profile's name): self time by function, top 15. */
function profileSummary(dir: string): string {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return 'cpu-prof: no profiles written\n';
  }
  const out: string[] = [`cpu profiles in ${dir}: ${files.join(', ')}`];
  for (const f of files.filter((n) => /\.\d+\.0\.\d+\.cpuprofile$/.test(n))) {
    const prof = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as {
      nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
      samples: number[];
      timeDeltas: number[];
    };
    const byNode = new Map<number, number>();
    for (let i = 0; i < prof.samples.length; i++)
      byNode.set(prof.samples[i], (byNode.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
    const byFn = new Map<string, number>();
    let total = 0;
    for (const n of prof.nodes) {
      const us = byNode.get(n.id) ?? 0;
      total += us;
      const where = n.callFrame.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/');
      const key = `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`;
      byFn.set(key, (byFn.get(key) ?? 0) + us);
    }
    const idle = [...byFn].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
    out.push(
      `main thread ${f}: ${(total / 1e6).toFixed(1)} s profiled, ${(((total - idle) / total) * 100).toFixed(0)}% busy; top self time:`,
    );
    for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 15))
      out.push(`  ${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
  }
  return `${out.join('\n')}\n`;
}
