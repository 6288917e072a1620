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
 *   <dir>/_index/<dataFileName>.<minTsNs>-<maxTsNs>.avro
 * so a single listing of `_index` gives every file's exact time bounds without reading anything.
 */

export interface IndexSummary {
  version: 1;
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

export function indexFileName(dataFile: string, minTsNs: bigint, maxTsNs: bigint): string {
  return `${dataFile}.${minTsNs}-${maxTsNs}.avro`;
}

/** Parses `<dataFile>.<min>-<max>.avro` back into its parts; null for anything else. */
export function parseIndexFileName(name: string): { dataFile: string; minTsNs: bigint; maxTsNs: bigint } | null {
  const m = /^(.+)\.(\d+)-(\d+)\.avro$/.exec(name);
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
