/**
 * The store catalog's objects (docs/design.md §5): Avro object container files (codec null) of
 * `pcapline.catalog.Entry` records, one per data file: where the file and its index are, its exact
 * time bounds, packet count, length, and a Bloom filter per term field copied from its index v2.
 * A bucket's summary and its loose entries are the same format; merging is a union keyed by the
 * data file's path (commutative and idempotent, so concurrent writers and rebuilds agree).
 *
 *   <root>/_catalog/store.json                       layout of the store, and whether every data file is indexed
 *   <root>/_catalog/<bucket>/e-<dataFile>.avro        one entry, written when the file is sealed
 *   <root>/_catalog/<bucket>/s-<seq, 10 digits>.avro  the bucket's summary (loose entries merged in)
 */
import { randomBytes } from 'node:crypto';
import {
  ByteWriter,
  Cursor,
  encodeContainerHeader,
  IndexFormatError,
  parseContainerHeader,
} from '../formats/index/avro-binary.js';
import { BloomFilter } from '../formats/index/bloom.js';

export const CATALOG_DIR = '_catalog';
export const STORE_FILE = 'store.json';

export interface CatalogEntry {
  /** Data file path relative to the store root (no leading '/'). */
  dataPath: string;
  /** Its index, relative to the store root. */
  indexPath: string;
  minTsNs: bigint;
  maxTsNs: bigint;
  count: number;
  dataLength: number;
  sketches: Map<string, BloomFilter>;
}

export type StoreLayout = 'flat' | 'daily' | 'hourly';

export interface StoreFacts {
  version: 1;
  layout: StoreLayout;
  /** True when every data file under the root had an index when this was written (no data listing needed). */
  complete: boolean;
}

export const ENTRY_SCHEMA = {
  type: 'record',
  name: 'Entry',
  namespace: 'pcapline.catalog',
  fields: [
    { name: 'dataPath', type: 'string' },
    { name: 'indexPath', type: 'string' },
    { name: 'minTsNs', type: 'long' },
    { name: 'maxTsNs', type: 'long' },
    { name: 'count', type: 'long' },
    { name: 'dataLength', type: 'long' },
    {
      name: 'sketches',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Sketch',
          fields: [
            { name: 'field', type: 'string' },
            { name: 'hashes', type: 'int' },
            { name: 'bits', type: 'bytes' },
          ],
        },
      },
    },
  ],
} as const;

export const entryFileName = (dataFile: string): string => `e-${dataFile}.avro`;
export const summaryFileName = (seq: number): string => `s-${String(seq).padStart(10, '0')}.avro`;
export const parseSummaryName = (name: string): number | null => {
  const m = /^s-(\d{10})\.avro$/.exec(name);
  return m ? Number(m[1]) : null;
};
export const isEntryName = (name: string): boolean => /^e-.+\.avro$/.test(name);

/** A catalog object holding `entries` (one Avro block). */
export function encodeCatalog(entries: readonly CatalogEntry[]): Buffer {
  const sync = randomBytes(16);
  const header = encodeContainerHeader(
    [
      ['avro.schema', Buffer.from(JSON.stringify(ENTRY_SCHEMA))],
      ['avro.codec', Buffer.from('null')],
    ],
    sync,
  );
  const body = new ByteWriter(entries.length * 512 + 64);
  for (const e of entries) {
    body.string(e.dataPath);
    body.string(e.indexPath);
    body.bigLong(e.minTsNs);
    body.bigLong(e.maxTsNs);
    body.long(e.count);
    body.long(e.dataLength);
    if (e.sketches.size) {
      body.long(e.sketches.size);
      for (const [field, f] of e.sketches) {
        body.string(field);
        body.long(f.hashes);
        body.bytes(f.bits);
      }
    }
    body.long(0);
  }
  const block = new ByteWriter(body.length + 32);
  block.long(entries.length);
  block.long(body.length);
  block.raw(body.view());
  block.raw(sync);
  return Buffer.concat([header, entries.length ? block.view() : Buffer.alloc(0)]);
}

/** Decodes a catalog object; throws IndexFormatError on anything malformed. */
export function decodeCatalog(buf: Uint8Array): CatalogEntry[] {
  const header = parseContainerHeader(buf);
  if (!header) throw new IndexFormatError('catalog object ends inside its header');
  const codec = header.meta.get('avro.codec');
  if (codec && Buffer.from(codec).toString() !== 'null') throw new IndexFormatError('catalog objects use codec null');
  const c = new Cursor(buf, header.dataStart);
  const out: CatalogEntry[] = [];
  while (!c.done) {
    const count = c.long();
    const size = c.long();
    if (count < 0 || size < 0 || c.pos + size + 16 > buf.length) throw new IndexFormatError('catalog block truncated');
    const end = c.pos + size;
    for (let i = 0; i < count; i++) {
      const dataPath = c.string();
      const indexPath = c.string();
      const minTsNs = c.bigLong();
      const maxTsNs = c.bigLong();
      const n = c.long();
      const dataLength = c.long();
      const sketches = new Map<string, BloomFilter>();
      for (let k = c.long(); k !== 0; k = c.long()) {
        for (let j = 0; j < Math.abs(k); j++) {
          const field = c.string();
          const hashes = c.long();
          const bits = c.bytes();
          if (hashes < 1 || hashes > 32 || !bits.length) throw new IndexFormatError('bad sketch in the catalog');
          // A view, not a copy: a query over a day reads megabytes of sketches and only tests them.
          sketches.set(field, new BloomFilter(bits, hashes));
        }
      }
      out.push({ dataPath, indexPath, minTsNs, maxTsNs, count: n, dataLength, sketches });
    }
    if (c.pos !== end) throw new IndexFormatError('catalog block size does not match its entries');
    if (!Buffer.from(buf.subarray(end, end + 16)).equals(Buffer.from(header.sync)))
      throw new IndexFormatError('catalog block has a bad sync marker');
    c.pos = end + 16;
  }
  return out;
}

/** Union keyed by data path; later entries win (they describe the same file, rewritten). */
export function mergeEntries(...lists: (readonly CatalogEntry[])[]): CatalogEntry[] {
  const byPath = new Map<string, CatalogEntry>();
  for (const list of lists) for (const e of list) byPath.set(e.dataPath, e);
  return [...byPath.values()].sort((a, b) => (a.dataPath < b.dataPath ? -1 : a.dataPath > b.dataPath ? 1 : 0));
}
