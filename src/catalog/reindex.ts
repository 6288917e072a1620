/**
 * Building index v2 files for the data files of an existing store (v1-indexed, or Metron's files
 * with no index at all) and rebuilding its catalog from the indexes: the work behind `pcap-reindex`.
 * Data files are read once, sequentially; nothing is written beside them but indexes and catalog
 * objects, and an index is replaced only by a complete one.
 */
import { parsePcapFileName } from '../formats/file-name.js';
import { indexFileName, type IndexSummary, INDEX_DIR } from '../formats/index/packet-index-format.js';
import { IndexBuilder } from '../formats/index/packet-index.js';
import { SequenceFileReader } from '../formats/sequencefile/reader.js';
import { decodePcapValue } from '../packet/decode.js';
import { createPacketFields } from '../packet/packet-fields.js';
import { isStorageError } from '../storage/errors.js';
import type { Storage } from '../storage/types.js';
import { type CatalogEntry, encodeCatalog, summaryFileName } from './catalog-format.js';
import { bucketOfEntry, entryFromIndex, listBucket, publishObject, writeStoreFacts } from './catalog-writer.js';
import { bucketDir, catalogDir, layoutOf, relativeTo } from './paths.js';

/** An index v2 lives in a bucket directory under `_index`; v1 in `_index` itself. */
export const isV2IndexPath = (indexPath: string): boolean => new RegExp(`/${INDEX_DIR}/[^/]+/[^/]+$`).test(indexPath);

export interface ReindexResult {
  indexPath: string | null;
  packets: number;
  /** Why no index was written (the file keeps being scanned). */
  problem?: string;
}

/** Reads a data file once and writes its index v2 beside it. */
export async function reindexFile(storage: Storage, dataPath: string, dataLength: number): Promise<ReindexResult> {
  const name = dataPath.slice(dataPath.lastIndexOf('/') + 1);
  const dir = dataPath.slice(0, dataPath.lastIndexOf('/'));
  const parsedName = parsePcapFileName(name);
  const builder = new IndexBuilder();
  const fields = createPacketFields();
  const reader = new SequenceFileReader(await storage.read(dataPath));
  let keyType: 'long' | 'int' = 'long';
  try {
    for await (const rec of reader) {
      if (rec.tsNs === null)
        return { indexPath: null, packets: 0, problem: `record at ${rec.position} has no usable time` };
      decodePcapValue(rec.value, fields);
      builder.add(
        rec.tsNs,
        rec.position,
        rec.length,
        fields.protocol,
        fields.srcAddr,
        fields.dstAddr,
        fields.srcPort,
        fields.dstPort,
        fields.vlan,
      );
    }
    keyType = (await reader.header()).keyType;
  } catch (err) {
    return { indexPath: null, packets: 0, problem: (err as Error).message };
  }
  const nameTs = parsedName?.tsNs ?? 0n;
  const min = builder.count ? builder.minTsNs : nameTs;
  const max = builder.count ? builder.maxTsNs : nameTs;
  const summary: IndexSummary = {
    version: 2,
    dataFile: name,
    topic: parsedName?.topic ?? '',
    partition: parsedName?.partition ?? -1,
    firstOffset: '-1',
    lastOffset: '-1',
    minTsNs: min.toString(),
    maxTsNs: max.toString(),
    count: builder.count,
    dataLength,
    ...(keyType === 'int' ? { keyType: 'int' as const } : {}),
  };
  const indexPath = `${dir}/${INDEX_DIR}/${indexFileName(name, min, max)}`;
  await storage.create(indexPath, builder.encode(summary), { overwrite: true });
  return { indexPath, packets: builder.count };
}

/**
 * Replaces the catalog of `root` with one built from the given v2 indexes (data path → index path):
 * one summary per bucket, loose entries and older summaries removed. Returns the buckets written.
 */
export async function rebuildCatalog(
  storage: Storage,
  root: string,
  indexes: ReadonlyMap<string, string>,
  complete: boolean,
  concurrency = 8,
): Promise<number> {
  const entries: CatalogEntry[] = [];
  const todo = [...indexes].filter(([, ix]) => isV2IndexPath(ix));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, todo.length) }, async () => {
      while (next < todo.length) {
        const [data, ix] = todo[next++];
        const e = await entryFromIndex(storage, root, data, ix);
        if (e) entries.push(e);
      }
    }),
  );
  const byBucket = new Map<string, CatalogEntry[]>();
  for (const e of entries) {
    const b = bucketOfEntry(e);
    byBucket.set(b, [...(byBucket.get(b) ?? []), e]);
  }
  await storage.mkdirs(catalogDir(root));
  // Buckets the indexes no longer support are dropped.
  try {
    for await (const d of storage.list(catalogDir(root)))
      if (d.type === 'directory' && !byBucket.has(d.name)) await storage.delete(d.path, true);
  } catch (err) {
    if (!isStorageError(err, 'FileNotFoundException')) throw err;
  }
  for (const [bucket, list] of byBucket) {
    const { summary, older, loose } = await listBucket(storage, root, bucket);
    const next = `${bucketDir(root, bucket)}/${summaryFileName((summary?.seq ?? 0) + 1)}`;
    await publishObject(storage, next, encodeCatalog(list), false);
    for (const p of [...older, ...loose, ...(summary ? [summary.path] : [])])
      await storage.delete(p).catch(() => false);
  }
  const first = [...indexes.keys()][0];
  const layout = (first && layoutOf(relativeTo(root, first) ?? '')) || 'flat';
  await writeStoreFacts(storage, root, { version: 1, layout, complete });
  return byBucket.size;
}
