/**
 * The hottest functions of a V8 CPU profile (`node --cpu-prof`): self time per function, summed
 * over every node of the call tree that names it, as a share of all samples.
 *
 *   node --import tsx bench/cpu-profile.ts <file.cpuprofile> [--top N]
 *
 * `npm run bench:ingest -- --cpu-prof` profiles the topology processes it times and prints this
 * table for each.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, ROOT, table } from './lib.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface HotFunction {
  /** `name (file:line)`, or V8's pseudo-frames: (garbage collector), (program), (idle). */
  name: string;
  selfMs: number;
  /** Share of the profile's sampled time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time not idle: what the process spent on the CPU (GC included). */
  busyMs: number;
  hottest: HotFunction[];
  /** Self time by where the code comes from: our code, each package, Node's internals, GC. */
  byOrigin: { origin: string; selfMs: number }[];
  /** Busy time of the process's other threads (workers), each profiled on its own. */
  otherThreadsBusyMs?: number;
}

/** ours (dist/ or src/), a package name, node (Node's internals), or V8's pseudo-frames. */
function originOf(name: string, url: string): string {
  if (!url) return name.startsWith('(') ? name : 'native';
  const w = where(url);
  if (w.startsWith('node:')) return 'node';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  return 'pcapline';
}

/** Where a frame comes from, short: src/... for ours, the package for node_modules, node:... for Node. */
function where(url: string): string {
  if (!url) return '';
  let path = url;
  if (url.startsWith('file://')) path = relative(ROOT, fileURLToPath(url));
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) path = path.slice(nm + 'node_modules/'.length);
  return path;
}

export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  const originUs = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  // samples[i] was taken timeDeltas[i + 1] µs before the next one: attribute each interval to its sample.
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]);
    if (!node || dt <= 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = url ? `${functionName || '(anonymous)'} (${where(url)}:${lineNumber + 1})` : functionName;
    selfUs.set(name, (selfUs.get(name) ?? 0) + dt);
    const origin = originOf(functionName, url);
    originUs.set(origin, (originUs.get(origin) ?? 0) + dt);
    totalUs += dt;
    if (functionName === '(idle)') idleUs += dt;
  }
  const hottest = [...selfUs]
    .filter(([name]) => name !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: totalUs ? us / totalUs : 0 }));
  const byOrigin = [...originUs]
    .filter(([o]) => o !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .map(([origin, us]) => ({ origin, selfMs: us / 1000 }));
  return { totalMs: totalUs / 1000, busyMs: (totalUs - idleUs) / 1000, hottest, byOrigin };
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

export function profileSummaryTable(s: ProfileSummary): string {
  const busy = s.busyMs || 1;
  const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1)}%`;
  return `${table(
    ['function (self time)', 'ms', '% of busy'],
    s.hottest.map((h) => [h.name, fmt.int(h.selfMs), pct(h.selfMs)]),
  )}\nby origin: ${s.byOrigin
    .slice(0, 8)
    .map((o) => `${o.origin} ${pct(o.selfMs)}`)
    .join(', ')} (${fmt.int(s.busyMs)} ms busy of ${fmt.int(s.totalMs)} ms sampled)${
    s.otherThreadsBusyMs !== undefined ? `; worker threads ${fmt.int(s.otherThreadsBusyMs)} ms busy` : ''
  }`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '15' } },
    allowPositionals: true,
    strict: true,
  });
  for (const file of positionals) {
    const s = summarizeProfile(readProfile(file), Number(values.top));
    process.stdout.write(`${file}:\n${profileSummaryTable(s)}\n\n`);
  }
}
