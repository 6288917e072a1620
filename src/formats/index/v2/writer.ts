/**
 * Builds an index v2 file (layout: ./format.ts) from the columns the sink collected while writing a
 * data file. Work happens once, at seal time: terms are sorted per field, postings laid out by a
 * counting pass (ordinals come out already sorted), column chunks deflated one by one.
 */
import { randomBytes } from 'node:crypto';
import { deflateRawSync, type ZlibOptions } from 'node:zlib';
import { ByteWriter, encodeContainerHeader, longSize } from '../avro-binary.js';
import { BloomFilter, sketchKey } from '../bloom.js';
import type { IndexColumns, IndexSummary } from '../packet-index-format.js';
import {
  CHUNK_PACKETS,
  type ChunkDir,
  COMPRESS_POSTINGS_AT,
  DICT_BLOCK_TERMS,
  DIRECTORY_KEY,
  type DirectoryInput,
  encodeDirectory,
  type FieldDir,
  SECTION_KINDS,
  SECTION_SCHEMA,
  type SectionKind,
  writeTerm,
} from './format.js';
import { addressTextToBytes, compareTerms, flowTerm, fnv1a, type Term, type TermKind, V2_FIELDS } from './terms.js';
import { HOST_IS_LITTLE_ENDIAN } from '../../../lib/endian.js';

/**
 * Deflate level 1: the index is encoded on the ingest process's event loop at every seal, and level 6
 * (zlib's default) cost about a fifth more CPU there for under 1% smaller indexes (readers inflate
 * any level).
 */
const DEFLATE: ZlibOptions = { level: 1 };

/** Thrown when a file cannot be described by v2 (its time span exceeds 2^53 ns, ~104 days): write v1. */
export class NotRepresentableInV2 extends Error {}

const SUMMARY_KEY = 'pcapline.summary';

interface Section {
  kind: SectionKind;
  field: string;
  first: number;
  count: number;
  data: Uint8Array;
}

class SectionWriter {
  readonly blocks: Buffer[] = [];
  /** Bytes written after the header so far. */
  length = 0;
  constructor(private readonly sync: Buffer) {}

  /**
   * Appends one section as one Avro block; returns the offset of its data bytes (after the header).
   * `s.data` goes into the blocks as it is (not copied): the caller hands it over and never changes it.
   */
  add(s: Section): number {
    const w = new ByteWriter(64);
    w.long(SECTION_KINDS.indexOf(s.kind));
    w.string(s.field);
    w.long(s.first);
    w.long(s.count);
    w.long(s.data.length);
    const prefix = w.toBuffer();
    const recordLength = prefix.length + s.data.length;
    const frame = new ByteWriter(16);
    frame.long(1);
    frame.long(recordLength);
    const head = frame.toBuffer();
    const dataOffset = this.length + head.length + prefix.length;
    this.blocks.push(head, prefix, Buffer.from(s.data.buffer, s.data.byteOffset, s.data.length), this.sync);
    this.length += head.length + recordLength + this.sync.length;
    if (longSize(1) + longSize(recordLength) !== head.length) throw new Error('block framing size mismatch');
    return dataOffset;
  }
}

/** `payload` behind a flag byte: deflated (1) when that keeps at most `worth` of its size, else raw (0). */
function packed(payload: Buffer, worth = 1, trials?: DeflateTrials): Buffer {
  if (trials && !trials.worthTrying(payload.length)) return Buffer.concat([Buffer.of(0), payload]);
  const z = deflateRawSync(payload, DEFLATE);
  const smaller = z.length < payload.length * worth;
  trials?.record(smaller);
  return smaller ? Buffer.concat([Buffer.of(1), z]) : Buffer.concat([Buffer.of(0), payload]);
}

/**
 * Whether deflate is worth trying on the next piece of one stream of small pieces (the column
 * chunks; one field's posting lists). A deflateRawSync call costs ~70 µs whatever the size (a zlib
 * stream is built for it), and on typical traffic column chunks never shrink by the quarter they
 * must, posting lists rarely: 1,250 of 1,280 calls per 100,000 packets were wasted, more CPU than
 * the rest of the index. After `MISSES` pieces in a row that did not shrink, only every `EVERY`th
 * piece is tried (and any of `ALWAYS` bytes or more) until one shrinks. The state lasts across the
 * files a process writes (a partition's files look alike; a 1,000-packet file has too few pieces to
 * learn from). Readers see the same format: a piece is raw or deflated either way.
 */
export class DeflateTrials {
  static readonly MISSES = 8;
  static readonly EVERY = 16;
  static readonly ALWAYS = 4096;
  private misses = 0;
  private skipped = 0;

  worthTrying(bytes: number): boolean {
    if (this.misses < DeflateTrials.MISSES || bytes >= DeflateTrials.ALWAYS) return true;
    return ++this.skipped % DeflateTrials.EVERY === 0;
  }

  record(shrank: boolean): void {
    this.misses = shrank ? 0 : this.misses + 1;
    if (shrank) this.skipped = 0;
  }
}

/** The deflate trials of each stream of pieces (the column chunks; each field's dictionary blocks and posting lists). */
export type DeflateTrialsByStream = Map<string, DeflateTrials>;

/** This thread's trials, used unless the caller brings its own (a worker thread keeps its own). */
const trialsByStream: DeflateTrialsByStream = new Map();
const trialsOf = (all: DeflateTrialsByStream, stream: string): DeflateTrials => {
  const known = all.get(stream);
  if (known) return known;
  const fresh = new DeflateTrials();
  all.set(stream, fresh);
  return fresh;
};

/** Per-packet term numbers of one field: `termOf[i]` indexes `terms` (sorted). */
interface FieldTerms {
  name: string;
  kind: TermKind;
  terms: Term[];
  termOf: Uint32Array;
}

/**
 * Provisional term ids in order of first appearance, then ranks by value: one lookup per packet.
 * Values in [-1, 65535] (ports, protocol, VLAN, absent) go through a table, others (flow hashes)
 * through a Map.
 */
function intField(name: string, values: ArrayLike<number>, n: number, termOf: Uint32Array): FieldTerms {
  const table = smallIdTable();
  const big = new Map<number, number>();
  const seen: number[] = [];
  // Provisional ids first, ranked in place below (a second n-sized array would cost 4 MB per 1M packets).
  for (let i = 0; i < n; i++) {
    const v = values[i];
    let id: number | undefined;
    if (v >= -1 && v <= 65535 && (v | 0) === v) {
      id = table[v + 1];
      if (id < 0) {
        id = seen.push(v) - 1;
        table[v + 1] = id;
      }
    } else {
      id = big.get(v);
      if (id === undefined) {
        id = seen.push(v) - 1;
        big.set(v, id);
      }
    }
    termOf[i] = id;
  }
  for (const v of seen) if (v >= -1 && v <= 65535 && (v | 0) === v) table[v + 1] = -1; // clean for the next use
  const order = Array.from(seen.keys()).sort((a, b) => seen[a] - seen[b]);
  const rank = new Uint32Array(seen.length);
  for (let k = 0; k < order.length; k++) rank[order[k]] = k;
  for (let i = 0; i < n; i++) termOf[i] = rank[termOf[i]];
  return { name, kind: 'int', terms: order.map((id) => seen[id]), termOf };
}

/** Term ids of the values -1..65535 (at v + 1), -1 when unseen: shared, left clean after each use. */
let smallIds: Int32Array | null = null;
const smallIdTable = (): Int32Array => {
  smallIds ??= new Int32Array(65537).fill(-1);
  return smallIds;
};

function addressField(
  name: string,
  ids: Int32Array,
  n: number,
  termOf: Uint32Array,
  bytesOfId: Uint8Array[],
  absent: Uint8Array,
): FieldTerms {
  // Ids are -1 (no address) or indexes of bytesOfId: a table, one slot per id.
  const slots = new Int32Array(bytesOfId.length + 1).fill(-1);
  const distinct: number[] = [];
  for (let i = 0; i < n; i++) {
    const slot = ids[i] + 1;
    if (slots[slot] < 0) slots[slot] = distinct.push(ids[i]) - 1;
  }
  const bytesOf = (id: number) => (id >= 0 && id < bytesOfId.length ? bytesOfId[id] : absent);
  // Distinct ids can map to the same bytes (unparsable text): merge them into one term.
  const byKey = new Map<string, Uint8Array>();
  for (const id of distinct) byKey.set(Buffer.from(bytesOf(id)).toString('hex'), bytesOf(id));
  const terms: Uint8Array[] = [...byKey.values()].sort((a, b) => compareTerms('addr', a, b));
  const rank = new Map(terms.map((t, k) => [Buffer.from(t).toString('hex'), k]));
  for (const id of distinct) slots[id + 1] = rank.get(Buffer.from(bytesOf(id)).toString('hex'))!;
  for (let i = 0; i < n; i++) termOf[i] = slots[ids[i] + 1];
  return { name, kind: 'addr', terms, termOf };
}

/**
 * Times minus `minTs` as numbers (exact: a v2 file spans less than 2^53 ns) of packets
 * [first, end), into `out`, from the two 32-bit halves of each time: no BigInt made per packet.
 */
function timeOffsets(ts: BigInt64Array, first: number, end: number, minTs: bigint, out: Float64Array): void {
  if (!HOST_IS_LITTLE_ENDIAN) {
    for (let i = first; i < end; i++) out[i - first] = Number(ts[i] - minTs);
    return;
  }
  const words = new Uint32Array(ts.buffer, ts.byteOffset + first * 8, (end - first) * 2);
  const minLo = Number(BigInt.asUintN(32, minTs));
  const minHi = Number(BigInt.asIntN(32, minTs >> 32n));
  for (let k = 0; k < end - first; k++) out[k] = ((words[2 * k + 1] | 0) - minHi) * 4294967296 + (words[2 * k] - minLo);
}

/** The columns the writer reads: an IndexColumns, or the same arrays handed to a worker thread. */
export type IndexColumnsView = Pick<
  IndexColumns,
  'count' | 'ts' | 'pos' | 'len' | 'protocol' | 'src' | 'dst' | 'srcPort' | 'dstPort' | 'vlan'
>;

/** Whether v2 can describe a file of `count` packets between these times (else: v1). */
export const fitsV2 = (count: number, minTsNs: bigint, maxTsNs: bigint): boolean =>
  count === 0 || maxTsNs - minTsNs < 2n ** 53n;

export interface EncodeV2Options {
  /** The container's 16-byte sync marker (random by default; tests fix it to compare encodings). */
  sync?: Uint8Array;
  /** Deflate trials to consult and update (default: this thread's). */
  trials?: DeflateTrialsByStream;
}

/**
 * Encodes the v2 index of `columns` (the packets of one data file, in record order). `out.sketches`
 * receives the file's sketches (the store catalog records them without reading the index back).
 */
export function encodeIndexV2(
  columns: IndexColumnsView,
  addresses: readonly string[],
  summary: IndexSummary,
  out: { sketches?: Map<string, BloomFilter> } = {},
  options: EncodeV2Options = {},
): Buffer[] {
  const n = columns.count;
  const minTs = n ? BigInt(summary.minTsNs) : 0n;
  if (!fitsV2(n, minTs, BigInt(summary.maxTsNs)))
    throw new NotRepresentableInV2('the file spans more than 2^53 ns; written as index v1');
  if (options.sync && options.sync.length !== 16) throw new RangeError('sync must be 16 bytes');
  const sync = options.sync ? Buffer.from(options.sync) : randomBytes(16);
  const trials = options.trials ?? trialsByStream;
  const sections = new SectionWriter(sync);
  let timeOrdered = true;

  // Columns: time, record length, and the gap before the record (a sync escape) per packet.
  const chunks: ChunkDir[] = [];
  const w = new ByteWriter(CHUNK_PACKETS * 8);
  const offsets = new Float64Array(CHUNK_PACKETS);
  const columnTrials = trialsOf(trials, 'columns');
  let prevTs = Number.NEGATIVE_INFINITY;
  for (let first = 0; first < n; first += CHUNK_PACKETS) {
    const end = Math.min(n, first + CHUNK_PACKETS);
    timeOffsets(columns.ts, first, end, minTs, offsets);
    w.length = 0;
    // Times are in ns, but most sensors stamp µs: deltas then divide by 1000 (a byte or two each).
    let scale = 1000;
    for (let i = first; i < end && scale > 1; i++) if (offsets[i - first] % 1000 !== 0) scale = 1;
    w.uvarint(scale);
    w.uvarint(columns.pos[first]);
    let prevOffset = 0;
    const firstTsOffset = offsets[0];
    for (let i = first; i < end; i++) {
      const off = offsets[i - first];
      if (off < prevTs) timeOrdered = false;
      prevTs = off;
      w.long((off - prevOffset) / scale);
      prevOffset = off;
      // The record length, its low bit saying whether a gap (a sync escape) precedes the record.
      const gap = i === first ? 0 : columns.pos[i] - (columns.pos[i - 1] + columns.len[i - 1]);
      w.uvarint(columns.len[i] * 2 + (gap !== 0 ? 1 : 0));
      if (gap !== 0) w.long(gap);
    }
    // Kept raw unless deflate saves a quarter: a one-flow query decodes one chunk per packet it
    // returns, and inflating costs more than the bytes it saves.
    const data = packed(w.view(), 0.75, columnTrials);
    const offset = sections.add({ kind: 'COLUMNS', field: '', first, count: end - first, data });
    chunks.push({ offset, length: data.length, firstTsOffset });
  }

  // Terms.
  const bytesOfId = addresses.map((a) => addressTextToBytes(a));
  const hashOfId = bytesOfId.map((b) => fnv1a(b));
  const absent = new Uint8Array(0);
  /** The flow term of each packet (one field's values, made only when that field's turn comes). */
  const flows = (): Float64Array => {
    const flow = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const s = columns.src[i];
      const d = columns.dst[i];
      flow[i] =
        s < 0 || d < 0
          ? -1
          : flowTerm(
              columns.protocol[i],
              bytesOfId[s],
              hashOfId[s],
              columns.srcPort[i],
              bytesOfId[d],
              hashOfId[d],
              columns.dstPort[i],
            );
    }
    return flow;
  };
  // Per-packet term ids and ordinals of the field being written: one pair of arrays serves all the
  // fields in turn (each is done with them before the next), so a job makes 8 bytes a packet of
  // scratch, not 8 per field.
  const termOf = new Uint32Array(n);
  const ordinals = new Uint32Array(n);
  const postings = new ByteWriter(n * 2 + 16); // each field's section gets a copy (toBuffer)
  const termsOf = (name: string): FieldTerms => {
    switch (name) {
      case 'src':
        return addressField(name, columns.src, n, termOf, bytesOfId, absent);
      case 'dst':
        return addressField(name, columns.dst, n, termOf, bytesOfId, absent);
      case 'srcPort':
        return intField(name, columns.srcPort, n, termOf);
      case 'dstPort':
        return intField(name, columns.dstPort, n, termOf);
      case 'protocol':
        return intField(name, columns.protocol, n, termOf);
      case 'vlan':
        return intField(name, columns.vlan, n, termOf);
      default:
        return intField(name, flows(), n, termOf);
    }
  };

  const fields: FieldDir[] = [];
  const sketches: { name: string; filter: BloomFilter }[] = [];
  for (const { name } of V2_FIELDS) {
    const f = termsOf(name);
    const t = f.terms.length;
    const counts = new Uint32Array(t);
    for (let i = 0; i < n; i++) counts[f.termOf[i]]++;
    const starts = new Uint32Array(t + 1);
    for (let k = 0; k < t; k++) starts[k + 1] = starts[k] + counts[k];
    const fill = starts.slice(0, t);
    for (let i = 0; i < n; i++) ordinals[fill[f.termOf[i]]++] = i;
    postings.length = 0;
    const lengths = new Uint32Array(t);
    const deflated = new Uint8Array(t);
    const list = new ByteWriter(1024);
    const postingTrials = trialsOf(trials, `postings:${f.name}`);
    for (let k = 0; k < t; k++) {
      list.length = 0;
      let prev = -1;
      for (let j = starts[k]; j < starts[k + 1]; j++) {
        list.uvarint(ordinals[j] - prev - 1);
        prev = ordinals[j];
      }
      let bytes: Uint8Array = list.view();
      if (bytes.length >= COMPRESS_POSTINGS_AT && postingTrials.worthTrying(bytes.length)) {
        const z = deflateRawSync(bytes, DEFLATE);
        const shrank = z.length * 4 <= bytes.length * 3;
        postingTrials.record(shrank);
        if (shrank) {
          bytes = z;
          deflated[k] = 1;
        }
      }
      postings.raw(bytes);
      lengths[k] = bytes.length;
    }
    const blocks: FieldDir['blocks'] = [];
    let postingAt = 0;
    for (let first = 0; first < t; first += DICT_BLOCK_TERMS) {
      const end = Math.min(t, first + DICT_BLOCK_TERMS);
      const d = new ByteWriter(1024);
      d.uvarint(postingAt);
      for (let k = first; k < end; k++) {
        writeTerm(d, f.kind, f.terms[k]);
        d.uvarint(counts[k]);
        d.uvarint(lengths[k] * 2 + deflated[k]);
        postingAt += lengths[k];
      }
      // Kept raw unless deflate saves a quarter, as column chunks are: a query reads one block per
      // term it looks up, and a block of flow hashes (random bytes) deflates to ~93% of its size,
      // so inflating it cost more than the bytes saved (100 inflates in a one-flow query over
      // 100 files); sorted addresses and ports still shrink by more and stay deflated.
      const data = packed(d.view(), 0.75, trialsOf(trials, `dictionary:${f.name}`));
      const offset = sections.add({ kind: 'DICTIONARY', field: f.name, first, count: end - first, data });
      blocks.push({ firstTerm: f.terms[first], offset, length: data.length, termCount: end - first });
    }
    const postingData = postings.toBuffer();
    const postingOffset = sections.add({ kind: 'POSTINGS', field: f.name, first: 0, count: n, data: postingData });
    fields.push({
      name: f.name,
      kind: f.kind,
      termCount: t,
      postings: { offset: postingOffset, length: postingData.length },
      blocks,
    });
    const filter = BloomFilter.forCount(t);
    for (const term of f.terms) filter.add(sketchKey(term));
    sketches.push({ name: f.name, filter });
  }

  // No sketch section: the dictionaries hold every term, so a reader rebuilds the same filters from
  // them (IndexV2.sketches) for the rare catalog rebuild, and small files' indexes stay smaller than
  // v1's (at 5,000 packets the section was 1.4 of 21.8 bytes a packet). The sink hands the filters
  // to the catalog directly (`out.sketches`).
  const directory: DirectoryInput = {
    chunkPackets: CHUNK_PACKETS,
    chunks,
    fields,
    sketches: null,
  };
  const fullSummary: IndexSummary = { ...summary, version: 2, count: n, timeOrdered };
  const header = encodeContainerHeader(
    [
      ['avro.schema', Buffer.from(JSON.stringify(SECTION_SCHEMA))],
      ['avro.codec', Buffer.from('null')],
      [SUMMARY_KEY, Buffer.from(JSON.stringify(fullSummary))],
      [DIRECTORY_KEY, encodeDirectory(directory)],
    ],
    sync,
  );
  out.sketches = new Map(sketches.map((x) => [x.name, x.filter]));
  return [header, ...sections.blocks];
}
