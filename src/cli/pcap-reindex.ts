/**
 * pcap-reindex -bp <store> [--catalog-only] [--force] [--keep-v1] [--dry-run] [--concurrency N] [--quiet]
 *
 * Brings an existing store up to index v2 and (re)builds its catalog (docs/design.md §5, §7): every
 * data file without an index v2 (v1-indexed files, Metron's index-less files) is read once and gets
 * one; v1 indexes are then deleted (unless --keep-v1); finally the catalog is rebuilt from the
 * indexes and `store.json` says whether every data file is indexed. Safe to run on a live store and
 * to re-run: each step only adds complete files or replaces them with equivalent ones.
 */
import yargs from 'yargs';
import { UsageError } from '../lib/errors.js';
import { isMainModule, runCli } from './run.js';

const NAME = 'pcap-reindex';
const USAGE = `usage: ${NAME} -bp <store> [options]
Builds index v2 files for a store's data files that have none (or only v1), then rebuilds the
store's catalog from the indexes.

  -bp, --base_path <path>   the store's output directory (kafka.pcap.out): a webhdfs://host:port/path
                            or file:///path URI, or a path on $PCAPLINE_STORE / $WEBHDFS_URL
      --catalog-only        do not read data files: rebuild the catalog from the v2 indexes there are
      --force               rebuild index v2 files that already exist
      --keep-v1             keep v1 indexes after their v2 replacement is written
      --dry-run             only report what would be done
      --concurrency <n>     data files read at once (default 2, at most 64)
      --quiet               no progress lines
  -h, --help                this help

Exit 0 when done, 2 for bad arguments, 1 when the store fails.`;

interface Args {
  basePath: string;
  catalogOnly: boolean;
  force: boolean;
  keepV1: boolean;
  dryRun: boolean;
  concurrency: number;
  quiet: boolean;
}

function parseArgs(argv: string[]): Args | 'help' {
  let failure: string | null = null;
  const a = yargs(argv)
    .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': false })
    .option('bp', { alias: 'base_path', type: 'string' })
    .option('catalog-only', { type: 'boolean', default: false })
    .option('force', { type: 'boolean', default: false })
    .option('keep-v1', { type: 'boolean', default: false })
    .option('dry-run', { type: 'boolean', default: false })
    .option('concurrency', { type: 'string' })
    .option('quiet', { type: 'boolean', default: false })
    .option('h', { alias: 'help', type: 'boolean', default: false })
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      failure = err?.message ?? msg;
    })
    .parseSync();
  if (failure !== null) throw new UsageError(`${failure} (try --help)`);
  if (a.h) return 'help';
  const bp = typeof a.bp === 'string' ? a.bp.trim() : '';
  if (!bp) throw new UsageError('-bp <store> is required (try --help)');
  const cc = a.concurrency === undefined ? '2' : String(a.concurrency);
  if (!/^\d+$/.test(cc) || Number(cc) < 1 || Number(cc) > 64)
    throw new UsageError(`--concurrency ${cc}: give a number of files from 1 to 64`);
  return {
    basePath: bp,
    catalogOnly: a['catalog-only'] === true,
    force: a.force === true,
    keepV1: a['keep-v1'] === true,
    dryRun: a['dry-run'] === true,
    concurrency: Number(cc),
    quiet: a.quiet === true,
  };
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [{ openStorage, parseStorageUri }, { endpointsOrDefault }, { listDataFiles }, reindex] = await Promise.all([
    import('../storage/index.js'),
    import('../lib/endpoints.js'),
    import('../query/engine/listing.js'),
    import('../catalog/reindex.js'),
  ]);
  const uri = /^[a-z][a-z0-9+.-]*:\/\//i.test(args.basePath)
    ? args.basePath
    : `${(process.env.PCAPLINE_STORE ?? endpointsOrDefault().webhdfsUrl).replace(/\/+$/, '')}/${args.basePath.replace(/^\/+/, '')}`;
  let parsed: { root: string; path: string };
  try {
    parsed = parseStorageUri(uri);
  } catch (err) {
    throw new UsageError(`-bp ${args.basePath}: ${(err as Error).message}`);
  }
  const say = (line: string) => {
    if (!args.quiet) process.stderr.write(`${NAME}: ${line}\n`);
  };
  const storage = openStorage(parsed.root);
  try {
    const root = parsed.path;
    const st = await storage.stat(root);
    if (st?.type !== 'directory') throw new UsageError(`-bp ${args.basePath}: not a directory in the store`);
    const { files, indexes } = await listDataFiles(storage, root, true);
    const todo = args.catalogOnly
      ? []
      : files.filter((f) => args.force || !reindex.isV2IndexPath(indexes.get(f.path) ?? ''));
    say(`${files.length} data files, ${files.length - todo.length} with an index v2, ${todo.length} to index`);
    if (args.dryRun) return 0;
    let done = 0;
    let packets = 0;
    const failed: string[] = [];
    let next = 0;
    let lastReport = Date.now();
    await Promise.all(
      Array.from({ length: Math.min(args.concurrency, todo.length) }, async () => {
        while (next < todo.length) {
          const f = todo[next++];
          const r = await reindex.reindexFile(storage, f.path, f.length);
          if (r.indexPath) {
            const old = indexes.get(f.path);
            indexes.set(f.path, r.indexPath);
            if (old && old !== r.indexPath && !args.keepV1) await storage.delete(old).catch(() => false);
            packets += r.packets;
          } else failed.push(`${f.path}: ${r.problem}`);
          done++;
          if (Date.now() - lastReport > 5000) {
            say(`${done}/${todo.length} files indexed`);
            lastReport = Date.now();
          }
        }
      }),
    );
    for (const f of failed.slice(0, 20)) say(`warning: not indexed (queries scan it): ${f}`);
    const complete = files.every((f) => indexes.has(f.path));
    const v2 = new Map([...indexes].filter(([, ix]) => reindex.isV2IndexPath(ix)));
    const buckets = await reindex.rebuildCatalog(storage, root, v2, complete);
    say(
      `${done - failed.length} files indexed (${packets} packets), ${failed.length} failed; catalog: ${buckets} buckets, ${v2.size} files; ${
        complete ? 'every data file is indexed' : 'some data files have no index: queries list the store'
      }`,
    );
    return failed.length ? 1 : 0;
  } finally {
    await storage.close();
  }
}

if (isMainModule(import.meta.url)) runCli(NAME, main);
