import avro from 'avsc';
import { readIndexColumns } from './packet-index-reader.js';

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

/** avsc's long cannot hold nanosecond timestamps (> 2^53): this long type maps to bigint. */
const BigLongType = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as string),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

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

/** The entry type; every Avro long (tsNs, pos) is a bigint through the registry override. */
export const indexEntryType = avro.Type.forSchema(INDEX_SCHEMA as unknown as avro.Schema, {
  registry: { long: BigLongType } as unknown as Record<string, avro.Type>,
});

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

  push(tsNs: bigint, pos: number, len: number, protocol: number, src: number, dst: number, srcPort: number, dstPort: number, vlan: number): void {
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
    const widen = <T extends BigInt64Array | Float64Array | Uint32Array | Int16Array | Int32Array>(a: T, Ctor: new (n: number) => T): T => {
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

/** Collects the index of one data file while it is written. */
export class IndexBuilder {
  readonly columns = new IndexColumns();
  private readonly addressIds = new Map<string, number>();
  readonly addresses: string[] = [];
  minTsNs = 0n;
  maxTsNs = 0n;

  /** Interns an address string; -1 for null (non-IP packets). */
  addressId(address: string | null): number {
    if (address === null) return -1;
    let id = this.addressIds.get(address);
    if (id === undefined) {
      id = this.addresses.length;
      this.addresses.push(address);
      this.addressIds.set(address, id);
    }
    return id;
  }

  add(tsNs: bigint, pos: number, len: number, protocol: number, srcAddr: string | null, dstAddr: string | null, srcPort: number, dstPort: number, vlan: number): void {
    if (this.columns.count === 0 || tsNs < this.minTsNs) this.minTsNs = tsNs;
    if (this.columns.count === 0 || tsNs > this.maxTsNs) this.maxTsNs = tsNs;
    this.columns.push(tsNs, pos, len, protocol, this.addressId(srcAddr), this.addressId(dstAddr), srcPort, dstPort, vlan);
  }

  get count(): number {
    return this.columns.count;
  }

  /** The Avro container bytes, produced block by block so a large index never sits in memory twice. */
  async *encode(summary: IndexSummary): AsyncGenerator<Buffer> {
    const encoder = new avro.streams.BlockEncoder(indexEntryType, {
      codec: 'deflate',
      blockSize: 256 * 1024,
      metadata: {
        [SUMMARY_KEY]: Buffer.from(JSON.stringify(summary)),
        [ADDRESSES_KEY]: Buffer.from(JSON.stringify(this.addresses)),
      },
    } as unknown as avro.EncoderOptions);
    const out: Buffer[] = [];
    let done = false;
    let failure: unknown;
    encoder.on('data', (chunk: Buffer) => out.push(chunk));
    encoder.on('end', () => { done = true; });
    encoder.on('error', (err: unknown) => { failure = err; done = true; });
    const c = this.columns;
    for (let i = 0; i < c.count; i++) {
      // A fresh object per entry: a Writable may queue the object and serialise it later (under
      // backpressure), so reusing one object would store later values in place of earlier ones.
      const entry: IndexEntry = {
        tsNs: c.ts[i], pos: BigInt(c.pos[i]), len: c.len[i], protocol: c.protocol[i], src: c.src[i], dst: c.dst[i],
        srcPort: c.srcPort[i], dstPort: c.dstPort[i], vlan: c.vlan[i],
      };
      if (!encoder.write(entry)) await new Promise((r) => encoder.once('drain', r));
      while (out.length) yield out.shift()!;
    }
    encoder.end();
    while (!done) {
      await new Promise((r) => setImmediate(r));
      while (out.length) yield out.shift()!;
    }
    if (failure) throw failure;
    while (out.length) yield out.shift()!;
  }
}

export interface DecodedIndex {
  summary: IndexSummary;
  addresses: string[];
  columns: IndexColumns;
}

/** Reads a whole index file (indexes are small next to their data) into columns. */
export async function decodeIndex(file: Buffer): Promise<DecodedIndex> {
  return readIndexColumns(file);
}

/** The same through avsc's generic decoder: the reference the columnar reader is tested against. */
export async function decodeIndexWithAvsc(file: Buffer): Promise<DecodedIndex> {
  const decoder = new avro.streams.BlockDecoder({ parseHook: () => indexEntryType } as unknown as avro.DecoderOptions);
  const columns = new IndexColumns();
  let summary: IndexSummary | undefined;
  let addresses: string[] = [];
  decoder.on('metadata', (_type: unknown, _codec: string, header: { meta: Record<string, Buffer> }) => {
    summary = JSON.parse(header.meta[SUMMARY_KEY].toString('utf8')) as IndexSummary;
    addresses = JSON.parse(header.meta[ADDRESSES_KEY].toString('utf8')) as string[];
  });
  decoder.on('data', (e: IndexEntry) => {
    columns.push(e.tsNs, Number(e.pos), e.len, e.protocol, e.src, e.dst, e.srcPort, e.dstPort, e.vlan);
  });
  await new Promise<void>((resolve, reject) => {
    decoder.on('end', resolve);
    decoder.on('error', reject);
    decoder.end(file);
  });
  if (!summary) throw new Error('index file has no pcapline.summary metadata');
  if (columns.count !== summary.count) throw new Error(`index holds ${columns.count} entries but its summary says ${summary.count} (torn index)`);
  return { summary, addresses, columns };
}
