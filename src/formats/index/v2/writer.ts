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
  type Directory,
  encodeDirectory,
  type FieldDir,
  SECTION_KINDS,
  SECTION_SCHEMA,
  type SectionKind,
  writeTerm,
} from './format.js';
import { addressTextToBytes, compareTerms, flowTerm, fnv1a, type Term, type TermKind, V2_FIELDS } from './terms.js';

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
  constructor(private readonly sync: Uint8Array) {}

  /** Appends one section as one Avro block; returns the offset of its data bytes (after the header). */
  add(s: Section): number {
    const w = new ByteWriter(s.data.length + 64);
    w.long(SECTION_KINDS.indexOf(s.kind));
    w.string(s.field);
    w.long(s.first);
    w.long(s.count);
    w.long(s.data.length);
    const prefix = w.length;
    w.raw(s.data);
    const record = w.view();
    const frame = new ByteWriter(16);
    frame.long(1);
    frame.long(record.length);
    const head = frame.toBuffer();
    const dataOffset = this.length + head.length + prefix;
    this.blocks.push(head, Buffer.from(record), Buffer.from(this.sync));
    this.length += head.length + record.length + this.sync.length;
    if (longSize(1) + longSize(record.length) !== head.length) throw new Error('block framing size mismatch');
    return dataOffset;
  }
}

/** `payload` behind a flag byte: deflated (1) when that keeps at most `worth` of its size, else raw (0). */
function packed(payload: Buffer, worth = 1): Buffer {
  const z = deflateRawSync(payload, DEFLATE);
  return z.length < payload.length * worth ? Buffer.concat([Buffer.of(1), z]) : Buffer.concat([Buffer.of(0), payload]);
}

/** Per-packet term numbers of one field: `termOf[i]` indexes `terms` (sorted). */
interface FieldTerms {
  name: string;
  kind: TermKind;
  terms: Term[];
  termOf: Uint32Array;
}

function intField(name: string, values: ArrayLike<number>, n: number): FieldTerms {
  const distinct = new Map<number, number>();
  for (let i = 0; i < n; i++) if (!distinct.has(values[i])) distinct.set(values[i], 0);
  const terms = [...distinct.keys()].sort((a, b) => a - b);
  for (let k = 0; k < terms.length; k++) distinct.set(terms[k], k);
  const termOf = new Uint32Array(n);
  for (let i = 0; i < n; i++) termOf[i] = distinct.get(values[i])!;
  return { name, kind: 'int', terms, termOf };
}

function addressField(
  name: string,
  ids: Int32Array,
  n: number,
  bytesOfId: Uint8Array[],
  absent: Uint8Array,
): FieldTerms {
  const used = new Map<number, number>();
  for (let i = 0; i < n; i++) if (!used.has(ids[i])) used.set(ids[i], 0);
  const bytesOf = (id: number) => (id >= 0 && id < bytesOfId.length ? bytesOfId[id] : absent);
  // Distinct ids can map to the same bytes (unparsable text): merge them into one term.
  const byKey = new Map<string, Uint8Array>();
  for (const id of used.keys()) byKey.set(Buffer.from(bytesOf(id)).toString('hex'), bytesOf(id));
  const terms: Uint8Array[] = [...byKey.values()].sort((a, b) => compareTerms('addr', a, b));
  const rank = new Map(terms.map((t, k) => [Buffer.from(t).toString('hex'), k]));
  for (const id of used.keys()) used.set(id, rank.get(Buffer.from(bytesOf(id)).toString('hex'))!);
  const termOf = new Uint32Array(n);
  for (let i = 0; i < n; i++) termOf[i] = used.get(ids[i])!;
  return { name, kind: 'addr', terms, termOf };
}

/**
 * Encodes the v2 index of `columns` (the packets of one data file, in record order). `out.sketches`
 * receives the file's sketches (the store catalog records them without reading the index back).
 */
export function encodeIndexV2(
  columns: IndexColumns,
  addresses: readonly string[],
  summary: IndexSummary,
  out: { sketches?: Map<string, BloomFilter> } = {},
): Buffer[] {
  const n = columns.count;
  const minTs = n ? BigInt(summary.minTsNs) : 0n;
  if (n && BigInt(summary.maxTsNs) - minTs >= 2n ** 53n)
    throw new NotRepresentableInV2('the file spans more than 2^53 ns; written as index v1');
  const sync = randomBytes(16);
  const sections = new SectionWriter(sync);
  let timeOrdered = true;

  // Columns: time, record length, and the gap before the record (a sync escape) per packet.
  const chunks: ChunkDir[] = [];
  const w = new ByteWriter(CHUNK_PACKETS * 8);
  let prevTs = -1n;
  for (let first = 0; first < n; first += CHUNK_PACKETS) {
    const end = Math.min(n, first + CHUNK_PACKETS);
    w.length = 0;
    // Times are in ns, but most sensors stamp µs: deltas then divide by 1000 (a byte or two each).
    let scale = 1000;
    for (let i = first; i < end && scale > 1; i++) if ((columns.ts[i] - minTs) % 1000n !== 0n) scale = 1;
    w.uvarint(scale);
    w.uvarint(columns.pos[first]);
    let prevOffset = 0;
    const firstTsOffset = Number(columns.ts[first] - minTs);
    for (let i = first; i < end; i++) {
      const ts = columns.ts[i];
      if (ts < prevTs) timeOrdered = false;
      prevTs = ts;
      const off = Number(ts - minTs);
      w.long((off - prevOffset) / scale);
      prevOffset = off;
      // The record length, its low bit saying whether a gap (a sync escape) precedes the record.
      const gap = i === first ? 0 : columns.pos[i] - (columns.pos[i - 1] + columns.len[i - 1]);
      w.uvarint(columns.len[i] * 2 + (gap !== 0 ? 1 : 0));
      if (gap !== 0) w.long(gap);
    }
    // Kept raw unless deflate saves a quarter: a one-flow query decodes one chunk per packet it
    // returns, and inflating costs more than the bytes it saves.
    const data = packed(w.view(), 0.75);
    const offset = sections.add({ kind: 'COLUMNS', field: '', first, count: end - first, data });
    chunks.push({ offset, length: data.length, firstTsOffset });
  }

  // Terms.
  const bytesOfId = addresses.map((a) => addressTextToBytes(a));
  const hashOfId = bytesOfId.map((b) => fnv1a(b));
  const absent = new Uint8Array(0);
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
  const fieldTerms: FieldTerms[] = V2_FIELDS.map(({ name }) => {
    switch (name) {
      case 'src':
        return addressField(name, columns.src, n, bytesOfId, absent);
      case 'dst':
        return addressField(name, columns.dst, n, bytesOfId, absent);
      case 'srcPort':
        return intField(name, columns.srcPort, n);
      case 'dstPort':
        return intField(name, columns.dstPort, n);
      case 'protocol':
        return intField(name, columns.protocol, n);
      case 'vlan':
        return intField(name, columns.vlan, n);
      default:
        return intField(name, flow, n);
    }
  });

  const fields: FieldDir[] = [];
  const sketches: { name: string; filter: BloomFilter }[] = [];
  for (const f of fieldTerms) {
    const t = f.terms.length;
    const counts = new Uint32Array(t);
    for (let i = 0; i < n; i++) counts[f.termOf[i]]++;
    const starts = new Uint32Array(t + 1);
    for (let k = 0; k < t; k++) starts[k + 1] = starts[k] + counts[k];
    const fill = starts.slice(0, t);
    const ordinals = new Uint32Array(n);
    for (let i = 0; i < n; i++) ordinals[fill[f.termOf[i]]++] = i;
    const postings = new ByteWriter(n * 2 + 16);
    const lengths = new Uint32Array(t);
    const deflated = new Uint8Array(t);
    const list = new ByteWriter(1024);
    for (let k = 0; k < t; k++) {
      list.length = 0;
      let prev = -1;
      for (let j = starts[k]; j < starts[k + 1]; j++) {
        list.uvarint(ordinals[j] - prev - 1);
        prev = ordinals[j];
      }
      let bytes: Uint8Array = list.view();
      if (bytes.length >= COMPRESS_POSTINGS_AT) {
        const z = deflateRawSync(bytes, DEFLATE);
        if (z.length * 4 <= bytes.length * 3) {
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
      const data = packed(d.view());
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

  const sk = new ByteWriter(4096);
  sk.uvarint(sketches.length);
  for (const s of sketches) {
    sk.string(s.name);
    sk.uvarint(s.filter.hashes);
    sk.bytes(s.filter.bits);
  }
  const sketchData = sk.toBuffer();
  const sketchOffset = sections.add({
    kind: 'SKETCHES',
    field: '',
    first: 0,
    count: sketches.length,
    data: sketchData,
  });

  const directory: Directory = {
    chunkPackets: CHUNK_PACKETS,
    chunks,
    fields,
    sketches: { offset: sketchOffset, length: sketchData.length },
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
