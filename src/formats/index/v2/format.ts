/**
 * Index v2 layout (docs/design.md §5): an Avro object container file, codec `null`, whose records are
 * sections (`pcapline.index.v2.Section`: kind, field, first, count, data bytes), one section per
 * block. Because nothing is compressed at the container level, every section's data has a fixed
 * byte offset, and the header's directory (`pcapline.directory`) says where each one is: a query
 * reads the header, then only the dictionary blocks, posting lists and column chunks it needs, each
 * with one ranged read.
 *
 *   COLUMNS     `chunkPackets` packets: time delta, record length ×2 (+1 when a gap, a sync escape,
 *               precedes the record, then the gap)
 *   (COLUMNS and DICTIONARY data start with a byte: 1 when the rest is raw-deflated, else 0)
 *   DICTIONARY  up to `DICT_BLOCK_TERMS` sorted terms of one field: term, posting count, posting
 *               bytes ×2 (+1 when the list is deflated)
 *   POSTINGS    every posting list of one field, in term order: ordinals, delta-encoded varints
 *   SKETCHES    a Bloom filter per field (what the store catalog copies)
 */
import { ByteWriter, Cursor, IndexFormatError } from '../avro-binary.js';
import { compareBytesAt, TERM_KIND_CODE, TERM_KIND_OF_CODE, type Term, type TermKind } from './terms.js';
import { HOST_IS_LITTLE_ENDIAN } from '../../../lib/endian.js';

export const DIRECTORY_KEY = 'pcapline.directory';
export const CHUNK_PACKETS = 128;
export const DICT_BLOCK_TERMS = 128;
/** Upper bound of one packet's bytes in an inflated column chunk (time delta, length, gap varints). */
export const MAX_COLUMN_BYTES_PER_PACKET = 10 + 10 + 10;

export const SECTION_KINDS = ['COLUMNS', 'DICTIONARY', 'POSTINGS', 'SKETCHES'] as const;
export type SectionKind = (typeof SECTION_KINDS)[number];

export const SECTION_SCHEMA = {
  type: 'record',
  name: 'Section',
  namespace: 'pcapline.index.v2',
  fields: [
    { name: 'kind', type: { type: 'enum', name: 'SectionKind', symbols: [...SECTION_KINDS] } },
    { name: 'field', type: 'string' },
    { name: 'first', type: 'long' },
    { name: 'count', type: 'long' },
    { name: 'data', type: 'bytes' },
  ],
} as const;

/** Where one section's data bytes are, relative to the end of the container header. */
export interface Extent {
  offset: number;
  length: number;
}

export interface ChunkDir extends Extent {
  /** Time of the chunk's first packet minus the file's minTsNs (ns). */
  firstTsOffset: number;
}

export interface DictBlockDir extends Extent {
  firstTerm: Term;
  termCount: number;
}

export interface FieldDir {
  name: string;
  kind: TermKind;
  termCount: number;
  postings: Extent;
  blocks: DictBlockDir[];
}

/**
 * The column chunks' directory entries as parallel arrays. A file has hundreds to thousands of them
 * and every query opening the file decodes them all: objects would be most of that cost.
 */
export interface ChunkTable {
  readonly length: number;
  readonly offset: Float64Array;
  readonly size: Uint32Array;
  readonly firstTsOffset: Float64Array;
}

export interface Directory {
  chunkPackets: number;
  chunks: ChunkTable;
  fields: FieldDir[];
  sketches: Extent | null;
}

/** A directory as the writer builds it. */
export interface DirectoryInput extends Omit<Directory, 'chunks'> {
  chunks: readonly ChunkDir[];
}

/**
 * Chunk `i`'s extent. Entries are checked when used, not when the directory is decoded (a query
 * uses a few of each file's hundreds): a crafted offset fails here as a format error.
 */
export function chunkExtent(t: ChunkTable, i: number): Extent {
  const offset = t.offset[i];
  if (!Number.isSafeInteger(offset) || offset < 0) throw new IndexFormatError(`bad offset of column chunk ${i}`);
  return { offset, length: t.size[i] };
}

/** Chunk `i`'s first packet time as ns after the file's minimum (checked when used, as chunkExtent). */
export function chunkFirstTs(t: ChunkTable, i: number): bigint {
  const ts = t.firstTsOffset[i];
  if (!Number.isSafeInteger(ts) || ts < 0) throw new IndexFormatError(`bad first time of column chunk ${i}`);
  return BigInt(ts);
}

export function writeTerm(w: ByteWriter, kind: TermKind, t: Term): void {
  if (kind === 'int') w.long(t as number);
  else w.bytes(t as Uint8Array);
}

export function readTerm(c: Cursor, kind: TermKind): Term {
  return kind === 'int' ? c.long() : c.bytes();
}

export function encodeDirectory(d: DirectoryInput): Buffer {
  const w = new ByteWriter(4096);
  const n = d.chunks.length;
  w.uvarint(3);
  w.uvarint(d.chunkPackets);
  w.uvarint(n);
  // The chunk table as fixed-width little-endian columns (offsets f64, first times f64, sizes u32):
  // a reader copies it into typed arrays with one memcpy instead of decoding thousands of varints,
  // which is most of opening an index before V8 has optimised anything (docs/design.md §5).
  const table = Buffer.alloc(n * CHUNK_ENTRY_BYTES);
  d.chunks.forEach((ch, i) => {
    table.writeDoubleLE(ch.offset, 8 * i);
    table.writeDoubleLE(ch.firstTsOffset, 8 * (n + i));
    table.writeUInt32LE(ch.length, 16 * n + 4 * i);
  });
  w.raw(table);
  w.uvarint(d.fields.length);
  for (const f of d.fields) {
    w.string(f.name);
    w.uvarint(TERM_KIND_CODE[f.kind]);
    w.uvarint(f.termCount);
    w.uvarint(f.postings.offset);
    w.uvarint(f.postings.length);
    w.uvarint(f.blocks.length);
    // Version 3: the block list's byte length first, so a reader steps over the lists of the fields
    // a query does not look at without walking their varints (thousands per file: opening an index
    // runs before V8 optimises anything, so each one cost a query over many files real time).
    const list = new ByteWriter(256);
    for (const b of f.blocks) {
      writeTerm(list, f.kind, b.firstTerm);
      list.uvarint(b.offset);
      list.uvarint(b.length);
      list.uvarint(b.termCount);
    }
    w.uvarint(list.length);
    w.raw(list.view());
  }
  w.uvarint(d.sketches ? d.sketches.offset : 0);
  w.uvarint(d.sketches ? d.sketches.length : 0);
  return w.toBuffer();
}

/** Bytes of one chunk table entry in a version 2 or 3 directory. */
const CHUNK_ENTRY_BYTES = 20;

/** A chunk table in the layout the arrays use: offsets f64, first times f64, sizes u32 (one backing store). */
function chunkTable(nChunks: number): ChunkTable & { store: Uint8Array } {
  const buffer = new ArrayBuffer(nChunks * CHUNK_ENTRY_BYTES);
  return {
    length: nChunks,
    offset: new Float64Array(buffer, 0, nChunks),
    firstTsOffset: new Float64Array(buffer, nChunks * 8, nChunks),
    size: new Uint32Array(buffer, nChunks * 16, nChunks),
    store: new Uint8Array(buffer),
  };
}

/** Versions 2 and 3: fixed-width little-endian columns, copied whole (entries are checked when used: chunkExtent). */
function copyChunkTable(c: Cursor, nChunks: number): ChunkTable {
  const bytes = nChunks * CHUNK_ENTRY_BYTES;
  if (c.pos + bytes > c.buf.length) throw new IndexFormatError('index directory truncated in its chunk list');
  const t = chunkTable(nChunks);
  const src = c.buf.subarray(c.pos, c.pos + bytes);
  if (HOST_IS_LITTLE_ENDIAN) t.store.set(src);
  else {
    const v = new DataView(src.buffer, src.byteOffset, src.byteLength);
    for (let i = 0; i < nChunks; i++) {
      t.offset[i] = v.getFloat64(8 * i, true);
      t.firstTsOffset[i] = v.getFloat64(8 * (nChunks + i), true);
      t.size[i] = v.getUint32(16 * nChunks + 4 * i, true);
    }
  }
  c.pos += bytes;
  return t;
}

/** Version 1: per chunk the offset delta, size and first time as unsigned varints. */
function decodeVarintChunks(c: Cursor, nChunks: number): ChunkTable {
  // Each entry takes at least 3 bytes: a count beyond that is a lie (it would size the arrays).
  if (nChunks * 3 > c.buf.length) throw new IndexFormatError('index directory truncated in its chunk list');
  const chunks = chunkTable(nChunks);
  let prev = 0;
  for (let i = 0; i < nChunks; i++) {
    const offset = prev + c.uvarint();
    const size = c.uvarint();
    if (size > 0xffffffff) throw new IndexFormatError('index column chunk implausibly large');
    chunks.offset[i] = offset;
    chunks.size[i] = size;
    chunks.firstTsOffset[i] = c.uvarint();
    prev = offset;
  }
  return chunks;
}

export function decodeDirectory(bytes: Uint8Array): Directory {
  const c = new Cursor(bytes);
  const version = c.uvarint();
  if (version < 1 || version > 3) throw new IndexFormatError(`index directory version ${version} is not supported`);
  const chunkPackets = c.uvarint();
  if (chunkPackets < 1 || chunkPackets > 1 << 20) throw new IndexFormatError('bad index chunk size');
  const nChunks = c.uvarint();
  const chunks = version === 1 ? decodeVarintChunks(c, nChunks) : copyChunkTable(c, nChunks);
  const fields: FieldDir[] = [];
  const nFields = c.uvarint();
  for (let i = 0; i < nFields; i++) {
    const name = c.string();
    const kind = TERM_KIND_OF_CODE[c.uvarint()];
    if (!kind) throw new IndexFormatError(`index field ${name} has an unknown term kind`);
    const termCount = c.uvarint();
    const postings = { offset: c.uvarint(), length: c.uvarint() };
    const nBlocks = c.uvarint();
    // A query looks at the blocks of a few fields only: step over them now, decode them when first
    // asked (a list shorter than its count says fails then). Versions 1 and 2 do not say how long
    // the list is: walk it.
    let start: number;
    if (version >= 3) {
      const length = c.uvarint();
      start = c.pos;
      if (start + length > c.buf.length || length < nBlocks * 4)
        throw new IndexFormatError(`index directory truncated in the blocks of ${name}`);
      c.pos += length;
    } else {
      start = c.pos;
      if (kind === 'int') c.skipVarints(nBlocks * 4);
      else
        for (let k = 0; k < nBlocks; k++) {
          c.skipBytes();
          c.skipVarints(3);
        }
    }
    fields.push(lazyBlocks({ name, kind, termCount, postings }, bytes, start, c.pos, nBlocks));
  }
  const so = c.uvarint();
  const sl = c.uvarint();
  return { chunkPackets, chunks, fields, sketches: sl > 0 ? { offset: so, length: sl } : null };
}

/** A field whose dictionary block list, bytes [start, end), is decoded on first use. */
function lazyBlocks(
  head: Omit<FieldDir, 'blocks'>,
  bytes: Uint8Array,
  start: number,
  end: number,
  nBlocks: number,
): FieldDir {
  let blocks: DictBlockDir[] | null = null;
  return {
    ...head,
    get blocks(): DictBlockDir[] {
      if (blocks === null) {
        const c = new Cursor(bytes.subarray(0, end), start);
        const out: DictBlockDir[] = [];
        for (let k = 0; k < nBlocks; k++) {
          const firstTerm = readTerm(c, head.kind);
          out.push({ firstTerm, offset: c.uvarint(), length: c.uvarint(), termCount: c.uvarint() });
        }
        if (c.pos !== end) throw new IndexFormatError(`the dictionary block list of ${head.name} has stray bytes`);
        blocks = out;
      }
      return blocks;
    },
  };
}

/** One dictionary entry: a term, how many packets carry it, where its posting list is. */
export interface TermEntry {
  term: Term;
  count: number;
  /** Offset of the posting list inside its field's POSTINGS data, and its byte length. */
  postingOffset: number;
  postingLength: number;
  /** The posting list is raw-deflated (long, dense lists: a protocol, untagged VLAN, a busy port). */
  compressed: boolean;
}

/** Posting lists at least this long are stored deflated when that saves a quarter of their bytes. */
export const COMPRESS_POSTINGS_AT = 64;
/** Most bytes one ordinal takes in a posting list (a varint of a 32-bit gap). */
export const MAX_POSTING_BYTES = 5;

/**
 * The entries of a dictionary block with lo ≤ term ≤ hi (either bound may be omitted). Terms are
 * compared where they lie and only the entries in range become objects, and the scan stops past
 * `hi` (terms are sorted): a lookup of one address or port reads a block of 128 to find one entry,
 * and a one-flow query makes about nine such lookups per file.
 */
export function decodeDictionaryRange(
  data: Uint8Array,
  kind: TermKind,
  termCount: number,
  lo?: Term,
  hi?: Term,
): TermEntry[] {
  const c = new Cursor(data);
  let offset = c.uvarint();
  const out: TermEntry[] = [];
  for (let i = 0; i < termCount; i++) {
    let below = false;
    let above = false;
    let term: Term;
    if (kind === 'int') {
      const v = c.long();
      below = lo !== undefined && v < (lo as number);
      above = hi !== undefined && v > (hi as number);
      term = v;
    } else {
      const n = c.long();
      if (n < 0 || c.pos + n > data.length) throw new IndexFormatError('index truncated inside a byte string');
      const at = c.pos;
      c.pos += n;
      below = lo !== undefined && compareBytesAt(data, at, n, lo as Uint8Array) < 0;
      above = hi !== undefined && compareBytesAt(data, at, n, hi as Uint8Array) > 0;
      term = below || above ? EMPTY_TERM : data.subarray(at, at + n);
    }
    if (above) break;
    const count = c.uvarint();
    const stored = c.uvarint();
    const postingLength = Math.floor(stored / 2);
    if (!below) out.push({ term, count, postingOffset: offset, postingLength, compressed: stored % 2 === 1 });
    offset += postingLength;
  }
  return out;
}

const EMPTY_TERM = new Uint8Array(0);

/** Decodes one posting list (first ordinal, then gaps minus one) into `out` from `at`; returns the new end. */
export function decodePostingList(
  bytes: Uint8Array,
  count: number,
  out: Uint32Array,
  at: number,
  limit: number,
): number {
  const c = new Cursor(bytes);
  let ord = -1;
  let k = at;
  for (let i = 0; i < count; i++) {
    ord += c.uvarint() + 1;
    if (ord >= limit) throw new IndexFormatError(`posting ${ord} beyond the file's ${limit} packets`);
    out[k++] = ord;
  }
  return k;
}
