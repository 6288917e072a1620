/**
 * Writing the store catalog: the seal hook (one entry per published data file) and bucket
 * compaction. Everything here is idempotent and may be lost without losing data: a query finds a
 * file the catalog does not know in its index bucket's listing, and `pcap-reindex --catalog`
 * rebuilds the catalog from the indexes (docs/design.md §7).
 */
import { IndexV2 } from '../formats/index/v2/reader.js';
import { indexBucket, parseIndexFileName } from '../formats/index/packet-index-format.js';
import { isStorageError } from '../storage/errors.js';
import type { Storage } from '../storage/types.js';
import {
  type CatalogEntry,
  decodeCatalog,
  encodeCatalog,
  entryFileName,
  isEntryName,
  mergeEntries,
  parseSummaryName,
  type StoreFacts,
  summaryFileName,
} from './catalog-format.js';
import { bucketDir, catalogDir, layoutOf, relativeTo, storeFile } from './paths.js';

/** Loose entries a bucket may gather before the next seal merges them into its summary. */
export const COMPACT_AT = 32;

/** The catalog entry of a data file, from its v2 index (header and sketches: two small reads). */
export async function entryFromIndex(
  storage: Storage,
  root: string,
  dataPath: string,
  indexPath: string,
): Promise<CatalogEntry | null> {
  const relData = relativeTo(root, dataPath);
  const relIndex = relativeTo(root, indexPath);
  if (relData === null || relIndex === null) return null;
  const index = await IndexV2.open({ read: (o, l) => storage.readBuffer(indexPath, o, l) });
  return {
    dataPath: relData,
    indexPath: relIndex,
    minTsNs: index.minTsNs,
    maxTsNs: index.maxTsNs,
    count: index.count,
    dataLength: index.summary.dataLength,
    sketches: await index.sketches(),
  };
}

/** The bucket of an entry: its index's bucket. */
export const bucketOfEntry = (e: Pick<CatalogEntry, 'minTsNs' | 'maxTsNs'>): string =>
  indexBucket(e.minTsNs, e.maxTsNs);

/** Writes one entry as a loose object of its bucket (overwriting: the same file, the same facts). */
export async function writeEntry(storage: Storage, root: string, entry: CatalogEntry): Promise<string> {
  const bucket = bucketOfEntry(entry);
  const name = entry.dataPath.slice(entry.dataPath.lastIndexOf('/') + 1);
  await storage.create(`${bucketDir(root, bucket)}/${entryFileName(name)}`, encodeCatalog([entry]), {
    overwrite: true,
  });
  return bucket;
}

/** A bucket's objects: its newest summary and its loose entries. */
export async function listBucket(
  storage: Storage,
  root: string,
  bucket: string,
): Promise<{ summary: { path: string; seq: number } | null; older: string[]; loose: string[] }> {
  let summary: { path: string; seq: number } | null = null;
  const older: string[] = [];
  const loose: string[] = [];
  try {
    for await (const e of storage.list(bucketDir(root, bucket))) {
      const seq = parseSummaryName(e.name);
      if (seq !== null) {
        if (summary && summary.seq > seq) older.push(e.path);
        else {
          if (summary) older.push(summary.path);
          summary = { path: e.path, seq };
        }
      } else if (isEntryName(e.name)) loose.push(e.path);
    }
  } catch (err) {
    if (!isStorageError(err, 'FileNotFoundException')) throw err;
  }
  return { summary, older, loose };
}

/**
 * Merges a bucket's loose entries into a new summary (created without overwrite: of two compactors
 * one wins, the other leaves its entries for later), then deletes what was merged.
 */
export async function compactBucket(storage: Storage, root: string, bucket: string): Promise<boolean> {
  const { summary, older, loose } = await listBucket(storage, root, bucket);
  if (!loose.length && !older.length) return false;
  const base = summary ? decodeCatalog(await storage.readBuffer(summary.path)) : [];
  const parts = await Promise.all(loose.map(async (p) => decodeCatalog(await storage.readBuffer(p)).slice()));
  const next = summaryFileName((summary?.seq ?? 0) + 1);
  try {
    await storage.create(`${bucketDir(root, bucket)}/${next}`, encodeCatalog(mergeEntries(base, ...parts)));
  } catch (err) {
    if (isStorageError(err, 'FileAlreadyExistsException')) return false;
    throw err;
  }
  await Promise.all(
    [...loose, ...older, ...(summary ? [summary.path] : [])].map((p) => storage.delete(p).catch(() => false)),
  );
  return true;
}

export async function readStoreFacts(storage: Storage, root: string): Promise<StoreFacts | null> {
  try {
    const facts = JSON.parse((await storage.readBuffer(storeFile(root))).toString('utf8')) as StoreFacts;
    return facts.version === 1 ? facts : null;
  } catch (err) {
    if (isStorageError(err, 'FileNotFoundException') || err instanceof SyntaxError) return null;
    throw err;
  }
}

export async function writeStoreFacts(storage: Storage, root: string, facts: StoreFacts): Promise<void> {
  await storage.create(storeFile(root), Buffer.from(`${JSON.stringify(facts)}\n`), { overwrite: true });
}

/** Index buckets a data file's index path names (for tools that rebuild). */
export const bucketOfIndexPath = (indexPath: string): string | null => {
  const parsed = parseIndexFileName(indexPath);
  return parsed ? indexBucket(parsed.minTsNs, parsed.maxTsNs) : null;
};

/**
 * The seal hook, one per ingest process and output directory: after a file is published, record it
 * in the catalog, compact its bucket when enough loose entries gathered, and (once per process)
 * create `store.json` when the store has none. Failures are reported, never thrown into the sink:
 * a missed entry costs a query one index header read, nothing else.
 */
export class CatalogHook {
  private facts: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly storage: Storage,
    private readonly root: string,
    private readonly checkComplete: (storage: Storage, root: string) => Promise<boolean>,
    private readonly warn: (message: string) => void,
  ) {}

  /** Records a published file; never rejects. */
  recordSealed(file: { dataPath: string; indexPath: string }): Promise<void> {
    const p = this.record(file).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    return p;
  }

  /** Waits for the entries being written (before the store is closed). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  private async record(file: { dataPath: string; indexPath: string }): Promise<void> {
    try {
      const entry = await entryFromIndex(this.storage, this.root, file.dataPath, file.indexPath);
      if (!entry) return;
      const bucket = await writeEntry(this.storage, this.root, entry);
      this.facts ??= this.ensureFacts(entry.dataPath).catch((err: unknown) => {
        this.facts = null;
        throw err;
      });
      await this.facts;
      const { loose } = await listBucket(this.storage, this.root, bucket);
      if (loose.length >= COMPACT_AT) await compactBucket(this.storage, this.root, bucket);
    } catch (err) {
      this.warn(`catalog: ${file.dataPath} not recorded (${(err as Error).message}); queries still find it`);
    }
  }

  private async ensureFacts(relDataPath: string): Promise<void> {
    if (await readStoreFacts(this.storage, this.root)) return;
    const layout = layoutOf(relDataPath) ?? 'flat';
    await this.storage.mkdirs(catalogDir(this.root));
    const complete = await this.checkComplete(this.storage, this.root);
    await writeStoreFacts(this.storage, this.root, { version: 1, layout, complete });
  }
}
