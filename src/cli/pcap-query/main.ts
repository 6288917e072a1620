import type { QueryStats } from '../../query/engine/engine.js';
import type { OutputResult } from '../../query/engine/output.js';
import { isStorageError } from '../../storage/errors.js';
import { oneLine } from '../../lib/errors.js';
import { isMainModule, printable, runCli } from '../run.js';
import type { QueryRequest } from './args.js';
import { plainHelpRequest } from './options.js';

/**
 * pcap-query fixed|query [options]: Metron's query CLI, without MapReduce. Exit 0 on success
 * (including no results), 2 on bad input (one line naming the option and position), 1 when the
 * store cannot be read.
 */
export async function main(argv: string[], now = new Date()): Promise<number> {
  const help = plainHelpRequest(argv);
  if (help !== null) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  // The filter compilers, the expression parser and the time parser load only for a query.
  const { parseQueryArgs } = await import('./args.js');
  const parsed = parseQueryArgs(argv, now);
  if ('help' in parsed) {
    process.stdout.write(`${parsed.help}\n`);
    return 0;
  }
  const req = parsed;
  for (const notice of req.notices) process.stderr.write(`pcap-query: ${printable(oneLine(notice))}\n`);
  // Loaded only once the arguments are good: --help and bad input never pay for the store's
  // HTTP client, the index reader or the progress bar.
  const showBar = !req.quiet && process.stderr.isTTY && req.output.kind === 'dir';
  const [{ openStorage }, { QueryEngine }, { prepareOutputDir, writePages, writeStream }, progress] = await Promise.all(
    [
      import('../../storage/index.js'),
      import('../../query/engine/engine.js'),
      import('../../query/engine/output.js'),
      // Only for a terminal: a script's or the service's query does not load it.
      showBar ? import('cli-progress') : null,
    ],
  );
  // Before any reading: an earlier run's pages with this prefix would mix into this result.
  if (req.output.kind === 'dir') {
    const removed = await prepareOutputDir(req.output.dir, req.prefix, req.clean);
    if (removed && !req.quiet) process.stderr.write(`pcap-query: --clean: deleted ${removed} earlier pages\n`);
  }
  const storage = openStorage(req.store);
  const started = Date.now();
  try {
    const engine = new QueryEngine(storage, {
      basePath: req.basePath,
      startNs: req.startNs,
      endNs: req.endNs,
      filter: req.filter,
      useIndex: req.useIndex,
      useCatalog: req.useCatalog,
      memoryBytes: req.memoryBytes,
      concurrency: req.concurrency,
    });
    const bar = progress
      ? new progress.SingleBar({
          format: 'pcap-query [{bar}] {value}/{total} files | {packets} packets',
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        })
      : null;
    let barStarted = false;
    const packets = engine.run((done, total) => {
      if (!bar) return;
      if (!barStarted) {
        bar.start(total, 0, { packets: 0 });
        barStarted = true;
      }
      bar.update(done, { packets: engine.stats.packetsMatched });
    });
    let result: OutputResult;
    try {
      result =
        req.output.kind === 'stdout'
          ? await writeStream(packets, process.stdout, { maxPackets: req.maxPackets, maxBytes: req.maxBytes })
          : await writePages(packets, req.output.dir, req.prefix, req.recordsPerFile, {
              maxPackets: req.maxPackets,
              maxBytes: req.maxBytes,
            });
    } finally {
      if (barStarted) bar!.stop();
    }
    if (!req.quiet) {
      for (const p of engine.stats.problems) process.stderr.write(`pcap-query: warning: ${p}\n`);
      if (result.otherLinkTypes)
        process.stderr.write(
          `pcap-query: warning: ${result.otherLinkTypes} packets of another link type than the stream's first were left out (a pcap stream has one link type; write pages with -o DIR to get every packet)\n`,
        );
      process.stderr.write(`${summary(req, engine.stats, result, Date.now() - started)}\n`);
    }
    return 0;
  } catch (err) {
    if (!isStorageError(err)) throw err;
    process.stderr.write(`pcap-query: cannot read the store: ${err.describe()}\n`);
    return 1;
  } finally {
    await storage.close();
  }
}

function summary(req: QueryRequest, s: QueryStats, r: OutputResult, ms: number): string {
  const planned =
    s.planning === 'catalog'
      ? ` (from the catalog${s.filesSkipped ? `, ${s.filesSkipped} ruled out by its sketches` : ''})`
      : '';
  const where = `${s.filesConsidered} of ${s.filesListed} files considered${planned}, ${s.filesRead} read (${s.filesByIndex} by index, ${s.filesScanned} scanned), ${formatBytes(s.bytesRead)} read`;
  if (r.packets === 0) {
    // Metron told these apart ("No results in specified date range." when pruning left no input).
    const why =
      // A catalog plan lists only the window's hours: no file there means none in the window.
      s.filesListed === 0 && s.planning !== 'catalog'
        ? `; no data files under ${req.location}`
        : s.filesConsidered === 0
          ? `: no results in the specified date range (no data file holds packets between ${isoNs(req.startNs)} and ${isoNs(req.endNs)})`
          : '';
    const from = s.filesListed === 0 ? '' : `from ${req.location}: `;
    return `pcap-query: no packets matched${why} (${from}${where}, ${ms} ms); no files written`;
  }
  const out =
    req.output.kind === 'stdout'
      ? 'to stdout'
      : `to ${r.files.length} page${r.files.length === 1 ? '' : 's'} in ${req.output.dir}`;
  const cut = r.truncated ? ' (stopped at the --max-packets/--max-bytes limit)' : '';
  const bad = s.malformed ? `, ${s.malformed} damaged records skipped` : '';
  return `pcap-query: ${r.packets} packets written ${out}${cut} (from ${req.location}: ${where}${bad}, ${ms} ms)`;
}

/** ns since the epoch as ISO-8601 UTC with ms (out-of-range times as the raw number). */
function isoNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ns} ns`;
}

const formatBytes = (n: number): string =>
  n >= 1 << 30
    ? `${(n / (1 << 30)).toFixed(2)} GiB`
    : n >= 1 << 20
      ? `${(n / (1 << 20)).toFixed(1)} MiB`
      : n >= 1024
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${n} B`;

if (isMainModule(import.meta.url)) runCli('pcap-query', main);
