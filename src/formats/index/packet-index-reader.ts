import { inflateRawSync } from 'node:zlib';
import {
  ADDRESSES_KEY,
  type DecodedIndex,
  IndexColumns,
  type IndexSummary,
  SUMMARY_KEY,
} from './packet-index-format.js';

/**
 * A columnar reader for our index files: it decodes Avro's container format and the fixed entry
 * layout (9 zigzag varints) straight into typed arrays, without an object or a bigint per entry.
 * The query reads every candidate file's index, so this is on its hot path; avsc (which builds an
 * object per record, with bigint longs) remains the writer and the reference in tests.
 */
class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** A zigzag varint that fits in a JS number (ints, lengths, counts, file positions < 2^53). */
  long(): number {
    const b = this.buf;
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= b.length) throw new Error('index truncated inside a number');
      const byte = b[this.pos++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
      if (scale > 2 ** 63) throw new Error('index number too long');
    }
    // zigzag: even → n/2, odd → -(n+1)/2 (exact while result < 2^53)
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }

  /** A zigzag varint long written into words[2i], words[2i+1] (little-endian halves of an int64). */
  longInto(words: Uint32Array, i: number): void {
    const b = this.buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= b.length) throw new Error('index truncated inside a number');
      const byte = b[this.pos++];
      const bits = byte & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      if (byte < 0x80) break;
      shift += 7;
      if (shift > 63) throw new Error('index number too long');
    }
    lo >>>= 0;
    hi >>>= 0;
    // zigzag decode of the 64-bit value: (v >>> 1) ^ -(v & 1)
    const negative = lo & 1;
    let nlo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    let nhi = hi >>> 1;
    if (negative) {
      nlo = ~nlo >>> 0;
      nhi = ~nhi >>> 0;
    }
    words[2 * i] = nlo;
    words[2 * i + 1] = nhi;
  }

  bytes(): Buffer {
    const n = this.long();
    if (n < 0 || this.pos + n > this.buf.length) throw new Error('index truncated inside a byte string');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

const MAGIC = Buffer.from('Obj\x01', 'latin1');

export function readIndexColumns(file: Buffer): DecodedIndex {
  if (file.length < 4 || !file.subarray(0, 4).equals(MAGIC)) throw new Error('not an Avro object container file');
  const c = new Cursor(file);
  c.pos = 4;
  const meta = new Map<string, Buffer>();
  for (let n = c.long(); n !== 0; n = c.long()) {
    if (n < 0) {
      c.long(); // block size in bytes, present when the count is negative
      n = -n;
    }
    for (let i = 0; i < n; i++) meta.set(c.bytes().toString('utf8'), c.bytes());
  }
  const sync = file.subarray(c.pos, c.pos + 16);
  c.pos += 16;
  const codec = meta.get('avro.codec')?.toString('utf8') ?? 'null';
  if (codec !== 'null' && codec !== 'deflate') throw new Error(`unsupported index codec ${codec}`);
  const summaryBytes = meta.get(SUMMARY_KEY);
  const addressBytes = meta.get(ADDRESSES_KEY);
  if (!summaryBytes || !addressBytes) throw new Error('index file has no pcapline.summary metadata');
  const summary = JSON.parse(summaryBytes.toString('utf8')) as IndexSummary;
  const addresses = JSON.parse(addressBytes.toString('utf8')) as string[];
  const columns = new IndexColumns(summary.count);
  const tsWords = new Uint32Array(columns.ts.buffer, columns.ts.byteOffset, columns.ts.length * 2);
  let i = 0;
  while (c.pos < file.length) {
    const count = c.long();
    const size = c.long();
    if (count < 0 || size < 0 || c.pos + size + 16 > file.length) throw new Error('index truncated inside a block');
    const raw = file.subarray(c.pos, c.pos + size);
    c.pos += size;
    if (!file.subarray(c.pos, c.pos + 16).equals(sync)) throw new Error('index block has a bad sync marker');
    c.pos += 16;
    if (i + count > summary.count) throw new Error(`index holds more entries than its summary says (${summary.count})`);
    const block = new Cursor(codec === 'deflate' ? inflateRawSync(raw) : raw);
    for (let k = 0; k < count; k++, i++) {
      block.longInto(tsWords, i);
      columns.pos[i] = block.long();
      columns.len[i] = block.long();
      columns.protocol[i] = block.long();
      columns.src[i] = block.long();
      columns.dst[i] = block.long();
      columns.srcPort[i] = block.long();
      columns.dstPort[i] = block.long();
      columns.vlan[i] = block.long();
    }
  }
  columns.count = i;
  if (i !== summary.count)
    throw new Error(`index holds ${i} entries but its summary says ${summary.count} (torn index)`);
  return { summary, addresses, columns };
}

/** Reads a whole index file (indexes are small next to their data) into columns. */
export async function decodeIndex(file: Buffer): Promise<DecodedIndex> {
  return readIndexColumns(file);
}
