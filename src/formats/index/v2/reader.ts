/**
 * Reading an index v2 file piece by piece (layout: ./format.ts): the header first (summary and
 * directory), then only the dictionary blocks, posting lists and column chunks a query needs, each
 * fetched with one ranged read through a ByteSource. Nothing is trusted: every offset is checked
 * against the file, every inflate is bounded, every ordinal checked against the packet count.
 */
import { boundedInflate, Cursor, IndexFormatError, parseContainerHeader } from '../avro-binary.js';
import { BloomFilter, sketchKey } from '../bloom.js';
import type { IndexSummary } from '../packet-index-format.js';
import {
  type ChunkTable,
  chunkExtent,
  decodeDictionaryRange,
  decodeDirectory,
  decodePostingList,
  DIRECTORY_KEY,
  type Directory,
  type Extent,
  type FieldDir,
  MAX_COLUMN_BYTES_PER_PACKET,
  MAX_POSTING_BYTES,
  type TermEntry,
} from './format.js';
import { compareTerms, type Term } from './terms.js';

/** Ranged reads of one index file. */
export interface ByteSource {
  read(offset: number, length: number): Promise<Uint8Array>;
}

export const bufferSource = (buf: Uint8Array): ByteSource => ({
  read: async (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + length)),
});

/** Headers take ~20 bytes a column chunk plus a few KiB: this first read usually holds all of it. */
const FIRST_READ = 32 * 1024;
const MAX_HEADER = 64 * 1024 * 1024;
/** Pieces closer than this are fetched by one read. */
const COALESCE_GAP = 4096;

/** The decoded columns of consecutive chunks: times as offsets from the file's minimum. */
export interface ColumnSpan {
  first: number;
  count: number;
  tsOffset: Float64Array;
  pos: Float64Array;
  len: Uint32Array;
}

/**
 * Decodes the first `upTo` packets of a column chunk (after its deflate flag) into `span`: a time
 * scale and the first record's position, then per packet a zigzag time delta, the record length
 * ×2 (+1 when a gap follows), and the gap. A one-flow query decodes tens of thousands of packets,
 * mostly before V8 has optimised anything, where every bytecode counts: varints of one or two bytes
 * (time deltas below 8 ms in µs, records below 8 KiB: nearly all) are read without the cursor's
 * checks (shortUvarint), longer ones and the chunk's last bytes by the cursor.
 */
function decodeColumnChunk(b: Uint8Array, upTo: number, span: ColumnSpan, spanNs: number, dataLength: number): void {
  const c = new Cursor(b);
  const scale = c.uvarint();
  if (scale !== 1 && scale !== 1000) throw new IndexFormatError(`bad time scale ${scale} in a column chunk`);
  let pos = c.uvarint();
  /** Below this, two bytes can be read without a bounds check. */
  const inline = b.length - 1;
  let ts = 0;
  let prevLen = 0;
  for (let j = 0; j < upTo; j++) {
    const delta = shortUvarint(c, b, inline);
    ts += (delta % 2 === 0 ? delta / 2 : -(delta + 1) / 2) * scale;
    const v = shortUvarint(c, b, inline);
    const len = Math.floor(v / 2);
    const gap = v % 2 === 1 ? c.long() : 0;
    if (j > 0) pos += prevLen + gap;
    if (ts < 0 || ts > spanNs) throw new IndexFormatError('a packet time lies outside the index bounds');
    if (gap < 0 || len < 1 || pos + len > dataLength)
      throw new IndexFormatError(`record at ${pos} (+${len}) is not inside the data file`);
    span.tsOffset[j] = ts;
    span.pos[j] = pos;
    span.len[j] = len;
    prevLen = len;
  }
}

/**
 * The unsigned varint at the cursor: one of one or two bytes starting below `inline` is read
 * directly, any other by the cursor (with its length limit and bounds check).
 */
function shortUvarint(c: Cursor, b: Uint8Array, inline: number): number {
  const q = c.pos;
  if (q < inline) {
    const x = b[q];
    if (x < 0x80) {
      c.pos = q + 1;
      return x;
    }
    const y = b[q + 1];
    if (y < 0x80) {
      c.pos = q + 2;
      return (x & 0x7f) | (y << 7);
    }
  }
  return c.uvarint();
}

export class IndexV2 {
  readonly minTsNs: bigint;
  readonly maxTsNs: bigint;
  private readonly fieldsByName: Map<string, FieldDir>;

  private constructor(
    readonly summary: IndexSummary,
    readonly directory: Directory,
    private readonly source: ByteSource,
    private readonly dataStart: number,
    /** Bytes of the header read to open the index. */
    readonly headerBytes: number,
  ) {
    this.minTsNs = BigInt(summary.minTsNs);
    this.maxTsNs = BigInt(summary.maxTsNs);
    this.fieldsByName = new Map(directory.fields.map((f) => [f.name, f]));
  }

  /** True for container metadata that holds a v2 directory. */
  static isV2(meta: Map<string, Uint8Array>): boolean {
    return meta.has(DIRECTORY_KEY);
  }

  /** Opens an index from its first bytes (reading more when the header is longer). */
  static async open(source: ByteSource, first?: Uint8Array): Promise<IndexV2> {
    let buf = first ?? (await source.read(0, FIRST_READ));
    let want = Math.max(FIRST_READ, buf.length);
    for (;;) {
      const header = parseContainerHeader(buf);
      if (header) return IndexV2.fromHeader(header.meta, header.dataStart, source);
      if (buf.length < want) throw new IndexFormatError('index ends inside its header');
      want *= 4;
      if (want > MAX_HEADER) throw new IndexFormatError('index header is implausibly large');
      buf = await source.read(0, want);
    }
  }

  static fromHeader(meta: Map<string, Uint8Array>, dataStart: number, source: ByteSource): IndexV2 {
    const codec = meta.get('avro.codec');
    if (codec && Buffer.from(codec).toString() !== 'null') throw new IndexFormatError('index v2 must use codec null');
    const summaryBytes = meta.get('pcapline.summary');
    const dirBytes = meta.get(DIRECTORY_KEY);
    if (!summaryBytes || !dirBytes) throw new IndexFormatError('index file has no pcapline.summary metadata');
    let summary: IndexSummary;
    try {
      summary = JSON.parse(Buffer.from(summaryBytes).toString('utf8')) as IndexSummary;
    } catch {
      throw new IndexFormatError('index summary is not JSON');
    }
    if (summary.version !== 2) throw new IndexFormatError(`index summary says version ${summary.version}, not 2`);
    if (!Number.isSafeInteger(summary.count) || summary.count < 0) throw new IndexFormatError('bad packet count');
    const directory = decodeDirectory(dirBytes);
    const expected = Math.ceil(summary.count / directory.chunkPackets);
    if (directory.chunks.length !== expected)
      throw new IndexFormatError(
        `index has ${directory.chunks.length} column chunks, ${expected} expected (torn index)`,
      );
    return new IndexV2(summary, directory, source, dataStart, dataStart);
  }

  get count(): number {
    return this.summary.count;
  }

  field(name: string): FieldDir | undefined {
    return this.fieldsByName.get(name);
  }

  /** Reads the given extents (offsets after the header), coalescing close ones; same order out. */
  private async readExtents(extents: readonly Extent[]): Promise<Uint8Array[]> {
    const order = extents.map((_, k) => k).sort((a, b) => extents[a].offset - extents[b].offset);
    const out: Uint8Array[] = new Array(extents.length);
    const groups: number[][] = [];
    let end = -1;
    for (const k of order) {
      const e = extents[k];
      if (e.offset < 0 || e.length < 0) throw new IndexFormatError('negative extent in the index directory');
      const last = groups[groups.length - 1];
      if (last && e.offset - end <= COALESCE_GAP) last.push(k);
      else groups.push([k]);
      end = Math.max(end, e.offset + e.length);
    }
    await Promise.all(
      groups.map(async (g) => {
        const start = extents[g[0]].offset;
        const stop = Math.max(...g.map((k) => extents[k].offset + extents[k].length));
        const bytes = await this.source.read(this.dataStart + start, stop - start);
        if (bytes.length < stop - start) throw new IndexFormatError('index truncated (a section lies past its end)');
        for (const k of g)
          out[k] = bytes.subarray(extents[k].offset - start, extents[k].offset - start + extents[k].length);
      }),
    );
    return out;
  }

  /**
   * Dictionary entries of `field` with lo ≤ term ≤ hi in the field's order (either bound may be
   * omitted), reading only the blocks that can hold them.
   */
  async terms(field: FieldDir, lo?: Term, hi?: Term): Promise<TermEntry[]> {
    const blocks = field.blocks;
    let from = 0;
    let to = blocks.length; // exclusive
    if (lo !== undefined) {
      // The last block whose first term is ≤ lo may hold lo.
      let a = 0;
      let b = blocks.length - 1;
      while (a < b) {
        const m = (a + b + 1) >> 1;
        if (compareTerms(field.kind, blocks[m].firstTerm, lo) <= 0) a = m;
        else b = m - 1;
      }
      from = a;
    }
    if (hi !== undefined) {
      while (to > from && compareTerms(field.kind, blocks[to - 1].firstTerm, hi) > 0) to--;
    }
    if (to <= from) return [];
    const picked = blocks.slice(from, to);
    const datas = await this.readExtents(picked);
    const out: TermEntry[] = [];
    for (let k = 0; k < picked.length; k++) {
      const raw = datas[k];
      if (!raw.length) throw new IndexFormatError('empty dictionary block');
      // A term takes at most a length, 16 bytes, two counts: 40 bytes bound the inflated block.
      const block = raw[0] === 1 ? boundedInflate(raw.subarray(1), picked[k].termCount * 64 + 16) : raw.subarray(1);
      for (const e of decodeDictionaryRange(block, field.kind, picked[k].termCount, lo, hi)) {
        if (e.postingOffset + e.postingLength > field.postings.length)
          throw new IndexFormatError(`posting list of ${field.name} lies outside its section`);
        out.push(e);
      }
    }
    return out;
  }

  /** Ordinals of the packets carrying any of `entries` (one field), sorted, without duplicates. */
  async postings(field: FieldDir, entries: readonly TermEntry[], sorted = true): Promise<Uint32Array> {
    if (!entries.length) return new Uint32Array(0);
    const total = entries.reduce((n, e) => n + e.count, 0);
    if (total > this.count) throw new IndexFormatError(`posting counts of ${field.name} exceed the packet count`);
    const extents = entries.map((e) => ({ offset: field.postings.offset + e.postingOffset, length: e.postingLength }));
    const datas = await this.readExtents(extents);
    const out = new Uint32Array(total);
    let at = 0;
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      const bytes = e.compressed ? boundedInflate(datas[k], e.count * MAX_POSTING_BYTES + 16) : datas[k];
      at = decodePostingList(bytes, e.count, out, at, this.count);
    }
    // One term's list is sorted; several terms of one field never share a packet: sort the union.
    // (sorted = false keeps them list after list, in `entries` order.)
    if (sorted && entries.length > 1) out.sort();
    return out;
  }

  /** Decodes column chunks [fromChunk, toChunk) into one span. */
  async columns(fromChunk: number, toChunk: number): Promise<ColumnSpan> {
    const ids: number[] = [];
    for (let c = fromChunk; c < Math.min(toChunk, this.directory.chunks.length); c++) ids.push(c);
    const spans = await this.readChunks(ids);
    const per = this.directory.chunkPackets;
    const first = fromChunk * per;
    const count = spans.reduce((n, s) => n + s.count, 0);
    const out: ColumnSpan = {
      first,
      count,
      tsOffset: new Float64Array(count),
      pos: new Float64Array(count),
      len: new Uint32Array(count),
    };
    let at = 0;
    for (const s of spans) {
      out.tsOffset.set(s.tsOffset, at);
      out.pos.set(s.pos, at);
      out.len.set(s.len, at);
      at += s.count;
    }
    return out;
  }

  /**
   * Decodes the given column chunks (adjacent ones fetched by one read), one span each, in the order
   * asked. Positions are checked against the data file's length, times against the index bounds.
   * `need[k]`, when given, is how many leading packets of chunk `ids[k]` the caller needs: a sparse
   * query needs one or two per chunk, and decoding stops there (the span's count says how many).
   */
  async readChunks(ids: readonly number[], need?: readonly number[]): Promise<ColumnSpan[]> {
    const per = this.directory.chunkPackets;
    const all = this.directory.chunks;
    for (const id of ids) if (id < 0 || id >= all.length) throw new IndexFormatError(`no column chunk ${id}`);
    const datas = await this.readExtents(ids.map((id) => chunkExtent(all, id)));
    const spanNs = Number(this.maxTsNs - this.minTsNs);
    const dataLength = this.summary.dataLength;
    /** Packets in each chunk, and how many of them to decode. */
    const sizes = ids.map((id) => Math.min(per, this.count - id * per));
    const counts = sizes.map((n, k) => (need === undefined ? n : Math.max(0, Math.min(n, need[k]))));
    // One backing store per column for all the spans: typed arrays of their own would each cost an
    // ArrayBuffer allocation, and their collection, per chunk.
    const total = counts.reduce((a, b) => a + b, 0);
    const store = new ArrayBuffer(total * 20);
    const tsAll = new Float64Array(store, 0, total);
    const posAll = new Float64Array(store, total * 8, total);
    const lenAll = new Uint32Array(store, total * 16, total);
    let base = 0;
    return ids.map((id, k) => {
      const upTo = counts[k];
      const span: ColumnSpan = {
        first: id * per,
        count: upTo,
        tsOffset: tsAll.subarray(base, base + upTo),
        pos: posAll.subarray(base, base + upTo),
        len: lenAll.subarray(base, base + upTo),
      };
      base += upTo;
      const raw = datas[k];
      if (!raw.length) throw new IndexFormatError('empty column chunk');
      const payload =
        raw[0] === 1 ? boundedInflate(raw.subarray(1), sizes[k] * MAX_COLUMN_BYTES_PER_PACKET + 32) : raw.subarray(1);
      decodeColumnChunk(payload, upTo, span, spanNs, dataLength);
      return span;
    });
  }

  /** The chunk holding ordinal `i`. */
  chunkOf(ordinal: number): number {
    return Math.floor(ordinal / this.directory.chunkPackets);
  }

  /** Chunk directory entries (for time pruning of time-ordered files). */
  get chunks(): ChunkTable {
    return this.directory.chunks;
  }

  /**
   * The per-field Bloom filters: from the index's sketch section, or, for an index written without
   * one, rebuilt from the dictionaries, which hold every term (the same filters the writer makes).
   */
  async sketches(): Promise<Map<string, BloomFilter>> {
    const out = new Map<string, BloomFilter>();
    const ext = this.directory.sketches;
    if (!ext) {
      for (const field of this.directory.fields) {
        const filter = BloomFilter.forCount(field.termCount);
        for (const e of await this.terms(field)) filter.add(sketchKey(e.term));
        out.set(field.name, filter);
      }
      return out;
    }
    const [data] = await this.readExtents([ext]);
    const c = new Cursor(data);
    for (let n = c.uvarint(), k = 0; k < n; k++) {
      const name = c.string();
      const hashes = c.uvarint();
      const bits = c.bytes();
      if (hashes < 1 || hashes > 32 || bits.length === 0) throw new IndexFormatError('bad sketch');
      out.set(name, new BloomFilter(new Uint8Array(bits), hashes));
    }
    return out;
  }
}
