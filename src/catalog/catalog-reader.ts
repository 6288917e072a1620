/**
 * Reading the store catalog for a query window: the buckets it touches (one listing of `_catalog`
 * and of `_index`), each bucket's summary and loose entries, and the files its index bucket holds
 * that the catalog does not know yet (sealed since, or whose entry was lost). Cost: O(buckets)
 * listings and small reads, whatever the number of files outside the window.
 */
import {
  hourBucketOf,
  hourBucketStart,
  INDEX_DIR,
  LONG_INDEX_BUCKET,
  parseIndexFileName,
} from '../formats/index/packet-index-format.js';
import { isStorageError } from '../storage/errors.js';
import type { Storage } from '../storage/types.js';
import type { CatalogEntry, StoreFacts } from './catalog-format.js';
import { listBucket, readCatalogObject, readStoreFacts } from './catalog-writer.js';
import { catalogDir, indexBucketDirs } from './paths.js';

/** A file the window may need: from the catalog (with sketches) or only from its index's name. */
export interface CatalogFile {
  /** Absolute store paths. */
  dataPath: string;
  indexPath: string;
  minTsNs: bigint;
  maxTsNs: bigint;
  /** Null for files found by listing (not in the catalog yet): their index decides. */
  entry: CatalogEntry | null;
}

const HOUR = 3_600_000_000_000n;

async function names(storage: Storage, dir: string): Promise<{ name: string; path: string; dir: boolean }[]> {
  const out: { name: string; path: string; dir: boolean }[] = [];
  try {
    for await (const e of storage.list(dir)) out.push({ name: e.name, path: e.path, dir: e.type === 'directory' });
  } catch (err) {
    if (!isStorageError(err, 'FileNotFoundException')) throw err;
  }
  return out;
}

/** A catalog object's entries (readCatalogObject), counting the bytes read. */
async function readObject(storage: Storage, path: string, counter: { bytes: number }): Promise<CatalogEntry[] | null> {
  const object = await readCatalogObject(storage, path);
  if (object) counter.bytes += object.bytes;
  return object?.entries ?? null;
}

/** Entries of one bucket: summary ∪ loose entries, re-listed if a compaction ran meanwhile. */
async function bucketEntries(
  storage: Storage,
  root: string,
  bucket: string,
  counter: { bytes: number },
): Promise<CatalogEntry[]> {
  for (let attempt = 0; ; attempt++) {
    const { summary, loose } = await listBucket(storage, root, bucket);
    const parts = await Promise.all(
      [summary?.path, ...loose].filter((p): p is string => !!p).map((p) => readObject(storage, p, counter)),
    );
    if (parts.every((p) => p !== null) || attempt >= 4) {
      const byPath = new Map<string, CatalogEntry>();
      for (const part of parts) for (const e of part ?? []) byPath.set(e.dataPath, e);
      return [...byPath.values()];
    }
  }
}

export interface CatalogPlan {
  facts: StoreFacts;
  files: CatalogFile[];
  buckets: number;
  /** Bytes of catalog objects read. */
  bytesRead: number;
}

/**
 * The files of a catalogued store that can hold packets in [startNs, endNs], or null when the root
 * has no catalog (or the catalog says some data files have no index: then only a listing finds them).
 */
export async function readCatalog(
  storage: Storage,
  root: string,
  startNs: bigint,
  endNs: bigint,
): Promise<CatalogPlan | null> {
  const facts = await readStoreFacts(storage, root);
  if (!facts?.complete) return null;
  const r = root.length > 1 && root.endsWith('/') ? root.slice(0, -1) : root;
  // Buckets with anything in them: the catalog's, and (flat layout) the index's, which also shows
  // v1 indexes (they sit in _index itself).
  const [catalogued, indexTop] = await Promise.all([
    names(storage, catalogDir(root)),
    facts.layout === 'flat' ? names(storage, `${r}/${INDEX_DIR}`) : Promise.resolve([]),
  ]);
  // A file with an index in bucket b has its earliest packet in b and spans less than an hour: it
  // ends before b's start + 2 h, so only buckets starting less than 2 h before the window matter.
  const inWindow = (b: string): boolean => {
    if (b === LONG_INDEX_BUCKET) return true;
    const start = hourBucketStart(b);
    return start !== null && start + 2n * HOUR > startNs && start <= endNs;
  };
  const buckets = new Set<string>();
  for (const e of catalogued) if (e.dir && inWindow(e.name)) buckets.add(e.name);
  for (const e of indexTop) if (e.dir && inWindow(e.name)) buckets.add(e.name);
  if (facts.layout !== 'flat') {
    // Dated layouts: every hour of the window (their index buckets are not listed in one place).
    const first = hourBucketStart(hourBucketOf(startNs > 2n * HOUR ? startNs - 2n * HOUR : 0n) ?? '');
    if (first !== null && (endNs - first) / HOUR < 24n * 366n) {
      for (let t = first; t <= endNs; t += HOUR) {
        const b = hourBucketOf(t);
        if (b) buckets.add(b);
      }
    }
    buckets.add(LONG_INDEX_BUCKET);
  }
  const files: CatalogFile[] = [];
  const counter = { bytes: 0 };
  const overlaps = (min: bigint, max: bigint) => min <= endNs && max >= startNs;
  await Promise.all(
    [...buckets].map(async (bucket) => {
      const [entries, ...indexLists] = await Promise.all([
        bucketEntries(storage, root, bucket, counter),
        ...indexBucketDirs(root, facts.layout, bucket).map((d) => names(storage, d)),
      ]);
      const known = new Set<string>();
      for (const e of entries) {
        known.add(e.dataPath);
        if (overlaps(e.minTsNs, e.maxTsNs))
          files.push({
            dataPath: `${r}/${e.dataPath}`,
            indexPath: `${r}/${e.indexPath}`,
            minTsNs: e.minTsNs,
            maxTsNs: e.maxTsNs,
            entry: e,
          });
      }
      // The "recent" part: indexes in the bucket the catalog does not list yet.
      for (const list of indexLists) {
        for (const ix of list) {
          const parsed = parseIndexFileName(ix.name);
          if (!parsed || ix.dir) continue;
          // _index sits beside the data files it describes.
          const dataDir = ix.path.slice(0, ix.path.lastIndexOf(`/${INDEX_DIR}/`));
          const dataPath = `${dataDir}/${parsed.dataFile}`;
          const rel = dataPath.slice(r.length + 1);
          if (known.has(rel) || !overlaps(parsed.minTsNs, parsed.maxTsNs)) continue;
          known.add(rel);
          files.push({ dataPath, indexPath: ix.path, minTsNs: parsed.minTsNs, maxTsNs: parsed.maxTsNs, entry: null });
        }
      }
    }),
  );
  // v1 indexes (flat in _index): no catalog entries, bounds from their names.
  const seen = new Set(files.map((f) => f.dataPath));
  for (const ix of indexTop) {
    if (ix.dir) continue;
    const parsed = parseIndexFileName(ix.name);
    if (!parsed || !overlaps(parsed.minTsNs, parsed.maxTsNs)) continue;
    const dataPath = `${r}/${parsed.dataFile}`;
    if (seen.has(dataPath)) continue;
    seen.add(dataPath);
    files.push({ dataPath, indexPath: ix.path, minTsNs: parsed.minTsNs, maxTsNs: parsed.maxTsNs, entry: null });
  }
  return { facts, files, buckets: buckets.size, bytesRead: counter.bytes };
}
