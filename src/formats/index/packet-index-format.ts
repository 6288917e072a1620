/* The packet index file format, shared by the writer (avsc) and the columnar reader: no avsc here,
 * so readers never load it. */
/**
 * The per-file packet index (an Avro object container file, written with avsc).
 *
 * Layout: the header metadata carries the file summary (`pcapline.summary`, JSON) and the table of
 * addresses (`pcapline.addresses`, JSON array of address strings); each record is one packet with its
 * time, byte range in the data file and 5-tuple, addresses as ids into that table. Ids keep the
 * index and its in-memory form small (flows repeat addresses) and let a query turn an address or
 * CIDR filter into a set of ids once per file.
 *
 * The index lives beside its data file, hidden from Metron-style listings:
 *   <dir>/_index/<hour bucket>/<dataFileName>.<minTsNs>-<maxTsNs>.avro   (v2; v1 files sit in _index itself)
 * so a listing of a bucket gives its files' exact time bounds without reading anything.
 */

export interface IndexSummary {
  /** 1: one Avro record per packet; 2: inverted (term dictionaries and postings). Writers set it. */
  version: 1 | 2;
  dataFile: string;
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
  minTsNs: string;
  maxTsNs: string;
  count: number;
  /** Length of the data file in bytes. */
  dataLength: number;
  /** v2: true when packet times never decrease in record order (ordinal order is time order). */
  timeOrdered?: boolean;
  /** The data file's key type when not LongWritable (Metron's IntWritable-keyed files, reindexed). */
  keyType?: 'int';
}

export interface IndexEntry {
  tsNs: bigint;
  /** Byte position of the SequenceFile record in the data file, and its length. */
  pos: bigint;
  len: number;
  protocol: number;
  /** Ids into the address table, -1 when the packet has no IP addresses. */
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  vlan: number;
}

export const INDEX_SCHEMA = {
  type: 'record',
  name: 'PacketIndexEntry',
  namespace: 'pcapline.index',
  fields: [
    { name: 'tsNs', type: 'long' },
    { name: 'pos', type: 'long' },
    { name: 'len', type: 'int' },
    { name: 'protocol', type: 'int' },
    { name: 'src', type: 'int' },
    { name: 'dst', type: 'int' },
    { name: 'srcPort', type: 'int' },
    { name: 'dstPort', type: 'int' },
    { name: 'vlan', type: 'int' },
  ],
} as const;

export const INDEX_DIR = '_index';
export const SUMMARY_KEY = 'pcapline.summary';
export const ADDRESSES_KEY = 'pcapline.addresses';

/**
 * Index files are grouped in hour buckets under `_index`, by the UTC hour of their first packet time
 * (`_index/2024010113/…`), so a query (and the store catalog's "recent" listing) lists only the
 * buckets its window touches. A file spanning an hour or more goes to `_index/long/`, which every
 * catalog-planned query lists (docs/design.md §7).
 */
export const INDEX_BUCKET_NS = 3_600_000_000_000n;
export const LONG_INDEX_BUCKET = 'long';
const MAX_DATE_NS = 8_640_000_000_000_000_000_000n;

/** `yyyyMMddHH` (UTC) of a time, or null outside what a Date can show. */
export function hourBucketOf(tsNs: bigint): string | null {
  if (tsNs < 0n || tsNs >= MAX_DATE_NS) return null;
  const d = new Date(Number(tsNs / 1_000_000n));
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}`;
}

/** Start of an hour bucket in ns, or null for a name that is not one. */
export function hourBucketStart(bucket: string): bigint | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})$/.exec(bucket);
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]));
  return Number.isNaN(ms) || hourBucketOf(BigInt(ms) * 1_000_000n) !== bucket ? null : BigInt(ms) * 1_000_000n;
}

/** The bucket directory (under `_index`) of a file with these time bounds. */
export function indexBucket(minTsNs: bigint, maxTsNs: bigint): string {
  if (maxTsNs - minTsNs >= INDEX_BUCKET_NS) return LONG_INDEX_BUCKET;
  return hourBucketOf(minTsNs) ?? LONG_INDEX_BUCKET;
}

/** `<dataFile>.<min>-<max>.avro`: the index file's own name. */
export function indexLeafName(dataFile: string, minTsNs: bigint, maxTsNs: bigint): string {
  return `${dataFile}.${minTsNs}-${maxTsNs}.avro`;
}

/** The index file's path relative to `_index`: `<bucket>/<dataFile>.<min>-<max>.avro`. */
export function indexFileName(dataFile: string, minTsNs: bigint, maxTsNs: bigint): string {
  return `${indexBucket(minTsNs, maxTsNs)}/${indexLeafName(dataFile, minTsNs, maxTsNs)}`;
}

/** Parses `[<bucket>/]<dataFile>.<min>-<max>.avro` back into its parts; null for anything else. */
export function parseIndexFileName(name: string): { dataFile: string; minTsNs: bigint; maxTsNs: bigint } | null {
  const m = /^(.+)\.(\d+)-(\d+)\.avro$/.exec(name.slice(name.lastIndexOf('/') + 1));
  if (!m) return null;
  return { dataFile: m[1], minTsNs: BigInt(m[2]), maxTsNs: BigInt(m[3]) };
}

/** Index entries held column by column in typed arrays: ~50 bytes a packet, no object per packet. */
export class IndexColumns {
  count = 0;
  ts: BigInt64Array;
  pos: Float64Array;
  len: Uint32Array;
  protocol: Int16Array;
  src: Int32Array;
  dst: Int32Array;
  srcPort: Int32Array;
  dstPort: Int32Array;
  vlan: Int32Array;

  /** `capacity`: entries expected (a reader knows the count from the summary); grows when exceeded. */
  constructor(capacity = 1024) {
    const n = Math.max(1, capacity);
    this.ts = new BigInt64Array(n);
    this.pos = new Float64Array(n);
    this.len = new Uint32Array(n);
    this.protocol = new Int16Array(n);
    this.src = new Int32Array(n);
    this.dst = new Int32Array(n);
    this.srcPort = new Int32Array(n);
    this.dstPort = new Int32Array(n);
    this.vlan = new Int32Array(n);
  }

  push(
    tsNs: bigint,
    pos: number,
    len: number,
    protocol: number,
    src: number,
    dst: number,
    srcPort: number,
    dstPort: number,
    vlan: number,
  ): void {
    if (this.count === this.ts.length) this.grow();
    const i = this.count++;
    this.ts[i] = tsNs;
    this.pos[i] = pos;
    this.len[i] = len;
    this.protocol[i] = protocol;
    this.src[i] = src;
    this.dst[i] = dst;
    this.srcPort[i] = srcPort;
    this.dstPort[i] = dstPort;
    this.vlan[i] = vlan;
  }

  private grow(): void {
    const n = this.ts.length * 2;
    const widen = <T extends BigInt64Array | Float64Array | Uint32Array | Int16Array | Int32Array>(
      a: T,
      Ctor: new (n: number) => T,
    ): T => {
      const b = new Ctor(n);
      b.set(a as never);
      return b;
    };
    this.ts = widen(this.ts, BigInt64Array);
    this.pos = widen(this.pos, Float64Array);
    this.len = widen(this.len, Uint32Array);
    this.protocol = widen(this.protocol, Int16Array);
    this.src = widen(this.src, Int32Array);
    this.dst = widen(this.dst, Int32Array);
    this.srcPort = widen(this.srcPort, Int32Array);
    this.dstPort = widen(this.dstPort, Int32Array);
    this.vlan = widen(this.vlan, Int32Array);
  }
}

export interface DecodedIndex {
  summary: IndexSummary;
  addresses: string[];
  columns: IndexColumns;
}
