import avro from 'avsc';
import type { BloomFilter } from './bloom.js';
import { encodeIndexV2, NotRepresentableInV2 } from './v2/writer.js';
import {
  ADDRESSES_KEY,
  type DecodedIndex,
  INDEX_SCHEMA,
  IndexColumns,
  type IndexEntry,
  type IndexSummary,
  SUMMARY_KEY,
} from './packet-index-format.js';

/**
 * Writing the per-file packet index with avsc (layout: packet-index-format.ts, docs/design.md), and
 * avsc's generic decoder kept as the reference the columnar reader is tested against.
 */

/**
 * The 8 bytes avsc asks `toBuffer` for, reused: avsc packs them into the block at once
 * (Tap.packLongBytes), and two longs per entry made a fresh Buffer each on the seal path.
 */
const longBytes = Buffer.alloc(8);

/** avsc's long cannot hold nanosecond timestamps (> 2^53): this long type maps to bigint. */
const BigLongType = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    longBytes.writeBigInt64LE(n);
    return longBytes;
  },
  fromJSON: (v: unknown) => BigInt(v as string),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

/** The entry type; every Avro long (tsNs, pos) is a bigint through the registry override. */
export const indexEntryType = avro.Type.forSchema(INDEX_SCHEMA as unknown as avro.Schema, {
  registry: { long: BigLongType } as unknown as Record<string, avro.Type>,
});

/** Collects the index of one data file while it is written. */
export class IndexBuilder {
  readonly columns: IndexColumns;
  private readonly addressIds = new Map<string, number>();
  readonly addresses: string[] = [];
  minTsNs = 0n;
  maxTsNs = 0n;
  /** The sketches of the last v2 encoding (null before one, or when the file needed v1). */
  sketches: Map<string, BloomFilter> | null = null;

  /** `capacity`: entries expected (the columns grow past it). */
  constructor(capacity?: number) {
    this.columns = new IndexColumns(capacity);
  }

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

  add(
    tsNs: bigint,
    pos: number,
    len: number,
    protocol: number,
    srcAddr: string | null,
    dstAddr: string | null,
    srcPort: number,
    dstPort: number,
    vlan: number,
  ): void {
    if (this.columns.count === 0 || tsNs < this.minTsNs) this.minTsNs = tsNs;
    if (this.columns.count === 0 || tsNs > this.maxTsNs) this.maxTsNs = tsNs;
    this.columns.push(
      tsNs,
      pos,
      len,
      protocol,
      this.addressId(srcAddr),
      this.addressId(dstAddr),
      srcPort,
      dstPort,
      vlan,
    );
  }

  get count(): number {
    return this.columns.count;
  }

  /**
   * The index file's bytes: v2 (inverted, docs/design.md §5), or v1 for the rare file v2 cannot
   * describe (a time span beyond 2^53 ns). The summary's version is set here, whatever the caller put.
   */
  async *encode(summary: IndexSummary): AsyncGenerator<Buffer> {
    let parts: Buffer[];
    try {
      const out: { sketches?: Map<string, BloomFilter> } = {};
      parts = encodeIndexV2(this.columns, this.addresses, { ...summary, version: 2 }, out);
      this.sketches = out.sketches ?? null;
    } catch (err) {
      if (!(err instanceof NotRepresentableInV2)) throw err;
      yield* this.encodeV1(summary);
      return;
    }
    // One sink write: a few large buffers (the index is a small fraction of the data file).
    yield Buffer.concat(parts);
  }

  /** Index v1: one Avro record per packet, produced block by block (kept for old readers and tests). */
  async *encodeV1(summary: IndexSummary): AsyncGenerator<Buffer> {
    summary = { ...summary, version: 1 };
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
    encoder.on('end', () => {
      done = true;
    });
    encoder.on('error', (err: unknown) => {
      failure = err;
      done = true;
    });
    const c = this.columns;
    for (let i = 0; i < c.count; i++) {
      // A fresh object per entry: a Writable may queue the object and serialise it later (under
      // backpressure), so reusing one object would store later values in place of earlier ones.
      const entry: IndexEntry = {
        tsNs: c.ts[i],
        pos: BigInt(c.pos[i]),
        len: c.len[i],
        protocol: c.protocol[i],
        src: c.src[i],
        dst: c.dst[i],
        srcPort: c.srcPort[i],
        dstPort: c.dstPort[i],
        vlan: c.vlan[i],
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
  if (columns.count !== summary.count)
    throw new Error(`index holds ${columns.count} entries but its summary says ${summary.count} (torn index)`);
  return { summary, addresses, columns };
}
