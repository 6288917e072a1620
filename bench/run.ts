/**
 * `npm run bench [-- --packets N] [--partitions P] [--runs R] [--only ingest,query] [--keep]`
 *                 [--target local|hdfs] [--baseline <checkout>] [--overlap] [--no-profile]   (query only)
 *
 * The project's benchmark suite on the local stack (started if needed): ingest (bench/ingest.ts:
 * our topology into local files and HDFS against `kcat -C`) and query (bench/query.ts: indexed and
 * scanning queries against tcpdump), each on its own deterministic capture of N packets over P
 * partitions, every timing run R times (median reported). Prints one table per benchmark and writes
 * every figure with the machine's facts to bench/results/bench-<time>.json. Each benchmark module
 * exports a function returning its figures; this file only sequences them. The core codec figures
 * are `npm run bench:core` (bench/core.ts prints and exports nothing).
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import {
  benchIngest,
  buildForBench,
  describeCapture,
  ingestRatios,
  ingestTable,
  DEFAULT_INGEST,
  type IngestFigures,
} from './ingest.js';
import { benchQuery, profileTable, queryTable, type QueryBenchFigures, type QueryBenchOptions } from './query.js';
import { ensureStack, machineFacts, writeResults } from './lib.js';

const SUITES = ['ingest', 'query', 'core'] as const;
type Suite = (typeof SUITES)[number];

function args() {
  const { values } = parseArgs({
    options: {
      packets: { type: 'string' },
      partitions: { type: 'string' },
      runs: { type: 'string' },
      only: { type: 'string', default: SUITES.join(',') },
      keep: { type: 'boolean', default: false },
      // Query benchmark only (bench/query.ts): store back end, an older checkout to compare with,
      // the 64-overlapping-files case, no CPU profiles.
      target: { type: 'string' },
      baseline: { type: 'string' },
      overlap: { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const int = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name} needs an integer >= ${min}`);
    return Number(v);
  };
  const only = values.only!.split(',').map((s) => s.trim());
  if (!only.length || only.some((s) => !(SUITES as readonly string[]).includes(s)))
    throw new Error(`--only takes a comma-separated list of ${SUITES.join(', ')}`);
  // Options left out keep each benchmark's own default.
  const common: { packets?: number; partitions?: number; runs?: number; keep: boolean } = { keep: values.keep! };
  const packets = int('packets', values.packets, 1000);
  const partitions = int('partitions', values.partitions, 1);
  const runs = int('runs', values.runs, 1);
  if (packets !== undefined) common.packets = packets;
  if (partitions !== undefined) common.partitions = partitions;
  if (runs !== undefined) common.runs = runs;
  const queryOnly: Partial<QueryBenchOptions> = { overlap: values.overlap!, profile: !values['no-profile'] };
  if (values.target !== undefined) {
    if (values.target !== 'hdfs' && values.target !== 'local') throw new Error('--target is hdfs or local');
    queryOnly.target = values.target;
  }
  if (values.baseline !== undefined) queryOnly.baseline = values.baseline.replace(/\/+$/, '');
  return { only: only as Suite[], common, queryOnly };
}

async function main(): Promise<number> {
  const { only, common, queryOnly } = args();
  const log = DEFAULT_INGEST.log;
  const ep = ensureStack();
  buildForBench(log);
  const machine = await machineFacts(ep);
  const startedAt = new Date().toISOString();
  // One failing benchmark does not throw away the figures of the others.
  const failures: Record<string, string> = {};
  const attempt = async <T>(suite: Suite, run: () => Promise<T>): Promise<T | undefined> => {
    if (!only.includes(suite)) return undefined;
    try {
      return await run();
    } catch (err) {
      failures[suite] = (err as Error).message;
      log(`${suite} benchmark failed: ${failures[suite]}`);
      return undefined;
    }
  };
  const ingest: IngestFigures | undefined = await attempt('ingest', () => benchIngest(ep, common));
  const query: QueryBenchFigures | undefined = await attempt('query', () =>
    benchQuery(ep, { ...common, ...queryOnly }),
  );
  const core = await attempt('core', async () => benchCore());
  const out = writeResults('bench', {
    kind: 'bench',
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    ingest,
    query,
    core,
    failures,
  });
  process.stdout.write(
    `\nmachine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGb} GiB, node ${machine.node}, ${machine.java}, ` +
      `Kafka ${machine.kafka}, Hadoop ${machine.hadoop}, kcat ${machine.kcat}; load avg at start ${machine.loadAvg1m.toFixed(2)} ` +
      '(a shared machine: other work competes for the CPU, so figures are indicative)\n',
  );
  if (ingest)
    process.stdout.write(
      `\nIngest: ${describeCapture(ingest)}\n${ingestTable(ingest)}\n${ingestRatios(ingest)
        .map((l) => `${l}\n`)
        .join('')}`,
    );
  if (query) {
    process.stdout.write(
      `\nQuery: ${query.capture.packets} packets ingested into ${query.ingest.target}; selective flow ${query.flow.description} (${query.flow.packets} packets)\n`,
    );
    process.stdout.write(`${queryTable(query)}\n`);
    if (query.profiles.length) process.stdout.write(`\n${profileTable(query)}\n`);
  }
  if (core)
    process.stdout.write(
      `\nCore (one core): decode+encode ${core.figures.map((f) => `${f.frameBytes}-byte frames ${f.mpps} M pkt/s`).join(', ')}\n${core.output}`,
    );
  for (const [suite, message] of Object.entries(failures)) process.stdout.write(`\n${suite}: FAILED: ${message}\n`);
  process.stdout.write(`\nfigures: ${out}\n`);
  return Object.keys(failures).length ? 1 : 0;
}

/** bench/core.ts prints its figures; run it in its own process (it measures one core) and keep what it printed. */
function benchCore(): { output: string; figures: { frameBytes: number; mpps: number }[] } {
  const output = execFileSync(process.execPath, ['--import', 'tsx', 'bench/core.ts'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const figures: { frameBytes: number; mpps: number }[] = [];
  let size = 0;
  for (const line of output.split('\n')) {
    const s = /^\s*(\d+)-byte frames/.exec(line);
    if (s) size = Number(s[1]);
    const d = /decode\+encode[^\d]*([\d.]+) M pkt\/s/.exec(line);
    if (d && size) figures.push({ frameBytes: size, mpps: Number(d[1]) });
  }
  if (figures.length < 2) throw new Error('bench/core.ts printed no decode+encode figures');
  return { output, figures };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
