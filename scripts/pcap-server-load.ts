/**
 * Load for pcap-server (a script, not part of npm test):
 *
 *   npm run build && npm run load:server -- [--jobs 50] [--polls 200] [--duration 300] [--packets 200000]
 *                                           [--users 5] [--target hdfs|local]
 *
 * Generates a synthetic capture, ingests it with the real topology (Kafka → HDFS, or a local
 * store), starts `bin/pcap-server` as its own process, then for --duration seconds keeps --jobs
 * jobs in flight (spread over --users users, a mix of fixed and expression queries over the
 * capture's flows) while polling job status at --polls requests per second. Every finished job's
 * whole result is compared byte for byte with `pcap-query ... -o -` for the same query. The
 * server's RSS is sampled every second. Prints figures; exits 1 if any result differs or a job fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const out = values.target === 'hdfs' ? `${ep.webhdfsUrl}/i15-server-load/${stamp}/input` : `${work}/store/input`;
const storeUri = values.target === 'hdfs' ? ep.webhdfsUrl : 'file:///';
const basePath = values.target === 'hdfs' ? `/i15-server-load/${stamp}/input` : `${work}/store/input`;

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
  topic: `i15-server-load-${stamp}`,
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
const server: ChildProcess = spawn(
  process.execPath,
  [`${REPO}bin/pcap-server`, '-c', `${work}/server.json`, '--port', String(port)],
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
const rss = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
};
const rssBaseline = rss();
log(
  `server up (pid ${server.pid}, RSS ${rssBaseline.toFixed(0)} MB); ${JOBS} jobs in flight, ${POLLS} polls/s for ${DURATION_S} s`,
);

const auth = (u: string) => ({ authorization: `Bearer ${tokens.get(u)}` });

// ---- load
interface Flight {
  user: string;
  jobId: string;
  q: Q;
  submitted: number;
}
const inFlight: Flight[] = [];
const stats = {
  submitted: 0,
  succeeded: 0,
  failed: 0,
  mismatched: 0,
  refused: 0,
  polls: 0,
  pollErrors: 0,
  jobMs: [] as number[],
};
const pollMs: number[] = [];
const rssSamples: number[] = [];
const deadline = Date.now() + DURATION_S * 1000;
let qi = 0;

async function submitOne(user: string): Promise<void> {
  const q = queries[qi++ % queries.length];
  const r = await fetch(`${base}/api/v1/pcap/${q.mode}`, {
    method: 'POST',
    headers: { ...auth(user), 'content-type': 'application/json' },
    body: JSON.stringify(q.body),
  });
  if (r.status !== 200) {
    stats.refused++;
    log(`submit refused ${r.status}: ${await r.text()}`);
    return;
  }
  const s = (await r.json()) as { jobId: string };
  stats.submitted++;
  inFlight.push({ user, jobId: s.jobId, q, submitted: Date.now() });
}

async function verify(f: Flight, pageTotal: number): Promise<void> {
  const r = await fetch(`${base}/api/v1/pcap/${f.jobId}/download`, { headers: auth(f.user) });
  const body = Buffer.from(await r.arrayBuffer());
  const sha = createHash('sha256').update(body).digest('hex');
  const expectedPages = Math.ceil((f.q.packets ?? 0) / PAGE);
  if (sha !== f.q.sha || pageTotal !== expectedPages) {
    stats.mismatched++;
    log(
      `MISMATCH ${f.jobId} (${f.q.cli.join(' ')}): ${countPackets(body)} packets, ${pageTotal} pages; CLI ${f.q.packets} packets`,
    );
  }
}

const fill = async () => {
  while (Date.now() < deadline && inFlight.length < JOBS) await submitOne(users[stats.submitted % USERS]);
};
await fill();

const rssTimer = setInterval(() => rssSamples.push(rss()), 1000);
let pollIndex = 0;
const verifying: Promise<void>[] = [];
const pollOnce = async () => {
  if (!inFlight.length) return;
  const f = inFlight[pollIndex++ % inFlight.length];
  const t = performance.now();
  try {
    const r = await fetch(`${base}/api/v1/pcap/${f.jobId}`, { headers: auth(f.user) });
    const s = (await r.json()) as { jobStatus: string; pageTotal: number; description: string };
    pollMs.push(performance.now() - t);
    stats.polls++;
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
      if (Date.now() < deadline) await submitOne(f.user);
    }
  } catch (err) {
    stats.pollErrors++;
    log(`poll error: ${(err as Error).message}`);
  }
};
const started = Date.now();
// 200 polls/s as 10 polls every 50 ms.
const perTick = Math.max(1, Math.round(POLLS / 20));
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    if (Date.now() >= deadline && inFlight.length === 0) {
      clearInterval(tick);
      resolve();
      return;
    }
    if (Date.now() >= deadline + 600_000) {
      clearInterval(tick);
      resolve();
      return;
    }
    for (let i = 0; i < perTick; i++) void pollOnce();
  }, 50);
});
const elapsedS = (Date.now() - started) / 1000;
await Promise.all(verifying);
clearInterval(rssTimer);
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : 0;
};
const lines = [
  `pcap-server load (${values.target}, ${PACKETS} packets in ${ing.sealed.length} files; ${USERS} users, ${JOBS} jobs in flight, target ${POLLS} polls/s, ${DURATION_S} s; maxRunning ${config.jobs.maxRunning})`,
  `jobs: ${stats.submitted} submitted, ${stats.succeeded} succeeded, ${stats.failed} failed, ${stats.refused} refused, ${stats.mismatched} results differing from the CLI`,
  `job time (submit to done, queueing included): median ${(pct(stats.jobMs, 50) / 1000).toFixed(1)} s, p95 ${(pct(stats.jobMs, 95) / 1000).toFixed(1)} s`,
  `status polls: ${stats.polls} in ${elapsedS.toFixed(0)} s = ${(stats.polls / elapsedS).toFixed(0)}/s, latency median ${pct(pollMs, 50).toFixed(1)} ms, p99 ${pct(pollMs, 99).toFixed(1)} ms, ${stats.pollErrors} errors`,
  `server RSS: ${rssBaseline.toFixed(0)} MB idle at start, during load median ${pct(rssSamples, 50).toFixed(0)} MB, max ${Math.max(...rssSamples).toFixed(0)} MB; first minute max ${Math.max(...rssSamples.slice(0, 60)).toFixed(0)} MB, last minute max ${Math.max(...rssSamples.slice(-60)).toFixed(0)} MB`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (!values.keep) rmSync(work, { recursive: true, force: true });
process.exit(stats.mismatched || stats.failed || stats.pollErrors ? 1 : 0);
