/**
 * Writing the store catalog: the seal hook (one entry per published data file) and bucket
 * compaction. Everything here is idempotent and may be lost without losing data: a query finds a
 * file the catalog does not know in its index bucket's listing, and `pcap-reindex --catalog`
 * rebuilds the catalog from the indexes (docs/design.md §7).
 */
import { randomBytes } from 'node:crypto';
import { IndexFormatError } from '../formats/index/avro-binary.js';
import type { BloomFilter } from '../formats/index/bloom.js';
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

/**
 * The catalog entry of a data file, from its v2 index: the header, and the sketch section or, in
 * indexes written without one, the dictionaries the sketches are rebuilt from.
 */
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

/**
 * Puts a catalog object in place whole: written under a hidden temporary name (no reader lists it),
 * then renamed. A create writes in place, so a query (or a compaction) listing the bucket meanwhile
 * would read half an object. `replace`: an existing object at `path` is deleted first (the moment
 * between costs a reader only that object's sketches: its files come from the index listing);
 * otherwise FileAlreadyExistsException, as a create without overwrite.
 */
export async function publishObject(storage: Storage, path: string, bytes: Buffer, replace: boolean): Promise<void> {
  const slash = path.lastIndexOf('/');
  const temp = `${path.slice(0, slash)}/.${path.slice(slash + 1)}.${randomBytes(4).toString('hex')}.tmp`;
  await storage.create(temp, bytes, { overwrite: true });
  try {
    try {
      await storage.rename(temp, path);
    } catch (err) {
      if (!replace || !isStorageError(err, 'FileAlreadyExistsException')) throw err;
      await storage.delete(path).catch(() => false);
      await storage.rename(temp, path);
    }
  } catch (err) {
    await storage.delete(temp).catch(() => false);
    throw err;
  }
}

/** Writes one entry as a loose object of its bucket (replacing: the same file, the same facts). */
export async function writeEntry(storage: Storage, root: string, entry: CatalogEntry): Promise<string> {
  const bucket = bucketOfEntry(entry);
  const name = entry.dataPath.slice(entry.dataPath.lastIndexOf('/') + 1);
  await publishObject(storage, `${bucketDir(root, bucket)}/${entryFileName(name)}`, encodeCatalog([entry]), true);
  return bucket;
}

/**
 * Writes entries of one bucket as one loose object, named after the first file and a random tag
 * (a batch never replaces another object; merging is keyed by data path, so overlaps are harmless).
 */
export async function writeEntries(
  storage: Storage,
  root: string,
  bucket: string,
  entries: readonly CatalogEntry[],
): Promise<string> {
  const first = entries[0].dataPath.slice(entries[0].dataPath.lastIndexOf('/') + 1);
  const path = `${bucketDir(root, bucket)}/${entryFileName(`${first}.${entries.length}-${randomBytes(4).toString('hex')}`)}`;
  await publishObject(storage, path, encodeCatalog(entries), true);
  return path;
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
 * A catalog object: null when it vanished (a compaction replaced it), no entries when an older
 * version left it torn (it wrote objects in place): its files are then found by the index listing,
 * and compaction drops it. `bytes` is what was read.
 */
export async function readCatalogObject(
  storage: Storage,
  path: string,
): Promise<{ entries: CatalogEntry[]; bytes: number } | null> {
  let buf: Buffer;
  try {
    buf = await storage.readBuffer(path);
  } catch (err) {
    if (isStorageError(err, 'FileNotFoundException')) return null;
    throw err;
  }
  try {
    return { entries: decodeCatalog(buf), bytes: buf.length };
  } catch (err) {
    if (err instanceof IndexFormatError) return { entries: [], bytes: buf.length };
    throw err;
  }
}

const readEntries = async (storage: Storage, path: string): Promise<CatalogEntry[]> =>
  (await readCatalogObject(storage, path))?.entries ?? [];

/**
 * Merges a bucket's loose entries into a new summary (created without overwrite: of two compactors
 * one wins, the other leaves its entries for later), then deletes what was merged.
 */
export async function compactBucket(storage: Storage, root: string, bucket: string): Promise<boolean> {
  const { summary, older, loose } = await listBucket(storage, root, bucket);
  if (!loose.length && !older.length) return false;
  const base = summary ? await readEntries(storage, summary.path) : [];
  const parts = await Promise.all(loose.map((p) => readEntries(storage, p)));
  const next = summaryFileName((summary?.seq ?? 0) + 1);
  try {
    await publishObject(
      storage,
      `${bucketDir(root, bucket)}/${next}`,
      encodeCatalog(mergeEntries(base, ...parts)),
      false,
    );
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

/** A published file as the sink reports it; with its sketches, its entry needs no read of the index. */
export interface SealedForCatalog {
  dataPath: string;
  indexPath: string;
  minTsNs?: bigint;
  maxTsNs?: bigint;
  count?: number;
  bytes?: number;
  sketches?: Map<string, BloomFilter> | null;
}

export interface CatalogHookOptions {
  /** Entries of one bucket gathered before they are written as one loose object. */
  batchEntries?: number;
  /** Pending entries are written at the latest this long after the first of them (ms). */
  flushAfterMs?: number;
}

/** Entries of a bucket written together: 64 files, a minute of Metron-sized files on a busy partition. */
export const CATALOG_BATCH = 64;
/** How long a sealed file may wait for its catalog entry (the query finds it by listing meanwhile). */
export const CATALOG_FLUSH_MS = 10_000;

/**
 * The seal hook, one per ingest process and output directory: after a file is published, record it
 * in the catalog, compact its bucket when enough loose entries gathered, and (once per process)
 * create `store.json` when the store has none. Failures are reported, never thrown into the sink:
 * a missed entry costs a query one index header read, nothing else.
 *
 * Entries are built from what the sink already holds (bounds, count, length, the index's sketches)
 * and gathered per bucket: one loose object per `batchEntries` files or `flushAfterMs`, whichever
 * comes first, and one listing per object to decide on compaction. So the catalog adds no store
 * operation per seal (it added a create, two reads and a listing: on HDFS a block close and seven
 * requests each). Entries still waiting when the process dies are lost, which the catalog allows.
 */
export class CatalogHook {
  private facts: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  /** Entries not written yet, per bucket. */
  private readonly pending = new Map<string, CatalogEntry[]>();
  private timer: NodeJS.Timeout | null = null;
  /** Writes of loose objects, one at a time (their compactions list and rewrite a bucket). */
  private writes: Promise<void> = Promise.resolve();
  private readonly batchEntries: number;
  private readonly flushAfterMs: number;

  constructor(
    private readonly storage: Storage,
    private readonly root: string,
    private readonly checkComplete: (storage: Storage, root: string) => Promise<boolean>,
    private readonly warn: (message: string) => void,
    options: CatalogHookOptions = {},
  ) {
    this.batchEntries = Math.max(1, options.batchEntries ?? CATALOG_BATCH);
    this.flushAfterMs = options.flushAfterMs ?? CATALOG_FLUSH_MS;
  }

  /**
   * Records a published file; never rejects. A file with its sketches is queued (the promise
   * resolves at once); one without (a v1 index, a tool) is read from its index and written now.
   */
  recordSealed(file: SealedForCatalog): Promise<void> {
    const entry = this.entryOf(file);
    if (entry) {
      // store.json (a listing of the store and a create) now, not with the first batch: that may
      // be the one written while the process stops.
      if (!this.facts) void this.track(this.ensureFactsOnce(entry.dataPath).catch(() => {}));
      this.enqueue(entry);
      return Promise.resolve();
    }
    return this.track(this.record(file));
  }

  /** Entries queued and not written yet. */
  get pendingEntries(): number {
    let n = 0;
    for (const list of this.pending.values()) n += list.length;
    return n;
  }

  /** Writes every queued entry and waits for the writes under way (before the store is closed). */
  async drain(): Promise<void> {
    this.flushAll();
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  private track(p: Promise<void>): Promise<void> {
    const tracked = p.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return tracked;
  }

  private entryOf(file: SealedForCatalog): CatalogEntry | null {
    const { minTsNs, maxTsNs, count, bytes, sketches } = file;
    if (!sketches || minTsNs === undefined || maxTsNs === undefined || count === undefined || bytes === undefined)
      return null;
    const dataPath = relativeTo(this.root, file.dataPath);
    const indexPath = relativeTo(this.root, file.indexPath);
    if (dataPath === null || indexPath === null) return null;
    return { dataPath, indexPath, minTsNs, maxTsNs, count, dataLength: bytes, sketches };
  }

  private enqueue(entry: CatalogEntry): void {
    const bucket = bucketOfEntry(entry);
    const list = this.pending.get(bucket) ?? [];
    if (!list.length) this.pending.set(bucket, list);
    list.push(entry);
    if (list.length >= this.batchEntries) this.flush(bucket);
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flushAll();
      }, this.flushAfterMs);
      this.timer.unref();
    }
  }

  private flushAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const bucket of [...this.pending.keys()]) this.flush(bucket);
  }

  private flush(bucket: string): void {
    const entries = this.pending.get(bucket);
    this.pending.delete(bucket);
    if (!entries?.length) return;
    const write = this.writes.then(() => this.writeBatch(bucket, entries));
    this.writes = write;
    void this.track(write);
  }

  /** One loose object for `entries`, then the bucket's compaction if enough loose objects gathered. */
  private async writeBatch(bucket: string, entries: CatalogEntry[]): Promise<void> {
    try {
      await this.ensureFactsOnce(entries[0].dataPath);
      await writeEntries(this.storage, this.root, bucket, entries);
      const { loose } = await listBucket(this.storage, this.root, bucket);
      if (loose.length >= COMPACT_AT) await compactBucket(this.storage, this.root, bucket);
    } catch (err) {
      this.warn(
        `catalog: ${entries.length} files of bucket ${bucket} not recorded (${(err as Error).message}); queries still find them`,
      );
    }
  }

  private async record(file: { dataPath: string; indexPath: string }): Promise<void> {
    try {
      const entry = await entryFromIndex(this.storage, this.root, file.dataPath, file.indexPath);
      if (!entry) return;
      const bucket = await writeEntry(this.storage, this.root, entry);
      await this.ensureFactsOnce(entry.dataPath);
      const { loose } = await listBucket(this.storage, this.root, bucket);
      if (loose.length >= COMPACT_AT) await compactBucket(this.storage, this.root, bucket);
    } catch (err) {
      this.warn(`catalog: ${file.dataPath} not recorded (${(err as Error).message}); queries still find it`);
    }
  }

  private ensureFactsOnce(relDataPath: string): Promise<void> {
    this.facts ??= this.ensureFacts(relDataPath).catch((err: unknown) => {
      this.facts = null;
      throw err;
    });
    return this.facts;
  }

  private async ensureFacts(relDataPath: string): Promise<void> {
    if (await readStoreFacts(this.storage, this.root)) return;
    const layout = layoutOf(relDataPath) ?? 'flat';
    await this.storage.mkdirs(catalogDir(this.root));
    const complete = await this.checkComplete(this.storage, this.root);
    await writeStoreFacts(this.storage, this.root, { version: 1, layout, complete });
  }
}
