/**
 * Rewrites a store's indexes as v1 (flat in `_index`) and drops its catalog: what a store written
 * before index v2 looks like. Shared by the v1 cross-checks and the query benchmark's baseline.
 */
import { decodeIndex } from '../../src/formats/index/packet-index-reader.js';
import { IndexBuilder } from '../../src/formats/index/packet-index.js';
import type { DecodedIndex } from '../../src/formats/index/packet-index-format.js';
import type { Storage } from '../../src/storage/types.js';

/** The v1 index file of the same entries as `decoded` (any version), encoded in memory. */
export async function encodeAsV1(decoded: DecodedIndex): Promise<Buffer> {
  const b = new IndexBuilder();
  const c = decoded.columns;
  const addr = (id: number) => (id >= 0 ? decoded.addresses[id] : null);
  for (let i = 0; i < c.count; i++)
    b.add(
      c.ts[i],
      c.pos[i],
      c.len[i],
      c.protocol[i],
      addr(c.src[i]),
      addr(c.dst[i]),
      c.srcPort[i],
      c.dstPort[i],
      c.vlan[i],
    );
  const parts: Buffer[] = [];
  for await (const chunk of b.encodeV1({ ...decoded.summary, version: 1 })) parts.push(chunk);
  return Buffer.concat(parts);
}

export async function downgradeStoreToV1(storage: Storage, path: string): Promise<{ files: number; v1Bytes: number }> {
  let files = 0;
  let v1Bytes = 0;
  const buckets: string[] = [];
  for await (const bucket of storage.list(`${path}/_index`)) if (bucket.type === 'directory') buckets.push(bucket.path);
  for (const bucket of buckets) {
    for await (const ix of storage.list(bucket)) {
      const bytes = await encodeAsV1(await decodeIndex(await storage.readBuffer(ix.path)));
      await storage.create(`${path}/_index/${ix.name}`, bytes);
      v1Bytes += bytes.length;
      files++;
    }
    await storage.delete(bucket, true);
  }
  await storage.delete(`${path}/_catalog`, true);
  return { files, v1Bytes };
}

/** Total bytes and count of the v2 index files under `path/_index/<bucket>/`. */
export async function v2IndexBytes(storage: Storage, path: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const bucket of storage.list(`${path}/_index`)) {
    if (bucket.type !== 'directory') continue;
    for await (const ix of storage.list(bucket.path)) {
      files++;
      bytes += ix.length;
    }
  }
  return { files, bytes };
}
