/**
 * The few pieces of Avro's binary encoding the index readers and writers need, without avsc: zigzag
 * varints, length-prefixed bytes, and the object container header (magic, metadata map, sync
 * marker). Readers decode straight into typed arrays; every inflate is bounded (a crafted file must
 * not expand without limit).
 */
import { inflateRawSync } from 'node:zlib';

export const AVRO_MAGIC = Buffer.from('Obj\x01', 'latin1');
export const SYNC_LENGTH = 16;

/** Thrown for bytes that are not a well-formed index (callers turn it into "scan instead"). */
export class IndexFormatError extends Error {}

/** A read position over a buffer. */
export class Cursor {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    pos = 0,
  ) {
    this.pos = pos;
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** A zigzag varint that fits in a JS number (ints, lengths, counts, file positions < 2^53). */
  long(): number {
    const b = this.buf;
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= b.length) throw new IndexFormatError('index truncated inside a number');
      const byte = b[this.pos++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
      if (scale > 2 ** 63) throw new IndexFormatError('index number too long');
    }
    // zigzag: even → n/2, odd → -(n+1)/2 (exact while result < 2^53)
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }

  /** An unsigned varint (not zigzag) that fits in a JS number. */
  uvarint(): number {
    const b = this.buf;
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= b.length) throw new IndexFormatError('index truncated inside a number');
      const byte = b[this.pos++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
      if (scale > 2 ** 56) throw new IndexFormatError('index number too long');
    }
  }

  /** A zigzag varint long written into words[2i], words[2i+1] (little-endian halves of an int64). */
  longInto(words: Uint32Array, i: number): void {
    const b = this.buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= b.length) throw new IndexFormatError('index truncated inside a number');
      const byte = b[this.pos++];
      const bits = byte & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      if (byte < 0x80) break;
      shift += 7;
      if (shift > 63) throw new IndexFormatError('index number too long');
    }
    lo >>>= 0;
    hi >>>= 0;
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

  /** A zigzag long as a bigint (for nanosecond times, which exceed 2^53). */
  bigLong(): bigint {
    const b = this.buf;
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= b.length) throw new IndexFormatError('index truncated inside a number');
      const byte = b[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) break;
      shift += 7n;
      if (shift > 63n) throw new IndexFormatError('index number too long');
    }
    return result & 1n ? -((result + 1n) >> 1n) : result >> 1n;
  }

  /** Steps over `n` varints (zigzag or not): each ends at its first byte below 0x80. */
  skipVarints(n: number): void {
    const b = this.buf;
    let p = this.pos;
    for (let left = n; left > 0; ) {
      if (p >= b.length) throw new IndexFormatError('index truncated inside a number');
      if (b[p++] < 0x80) left--;
    }
    this.pos = p;
  }

  /** Steps over a length-prefixed byte string. */
  skipBytes(): void {
    const n = this.long();
    if (n < 0 || this.pos + n > this.buf.length) throw new IndexFormatError('index truncated inside a byte string');
    this.pos += n;
  }

  bytes(): Uint8Array {
    const n = this.long();
    if (n < 0 || this.pos + n > this.buf.length) throw new IndexFormatError('index truncated inside a byte string');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    const b = this.bytes();
    return Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8');
  }
}

/** A growable output buffer for Avro binary. */
export class ByteWriter {
  private buf: Buffer;
  length = 0;
  constructor(capacity = 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(16, capacity));
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.length + n, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  /** Zigzag varint of a safe integer. */
  long(n: number): void {
    this.uvarint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  /** Zigzag varint of a bigint (64-bit). */
  bigLong(n: bigint): void {
    let v = n >= 0n ? n << 1n : (-n << 1n) - 1n;
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.length++] = Number(v);
  }

  /** Unsigned varint of a non-negative safe integer. */
  uvarint(n: number): void {
    this.ensure(10);
    let v = n;
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Avro `bytes`: zigzag length, then the bytes. */
  bytes(bytes: Uint8Array): void {
    this.long(bytes.length);
    this.raw(bytes);
  }

  string(s: string): void {
    this.bytes(Buffer.from(s, 'utf8'));
  }

  /** A copy of what was written. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }

  /** A view of what was written (valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** Bytes of a zigzag varint (for computing offsets before writing). */
export function longSize(n: number): number {
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  let size = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    size++;
  }
  return size;
}

export interface ContainerHeader {
  meta: Map<string, Uint8Array>;
  sync: Uint8Array;
  /** Offset of the first data block (the end of the header). */
  dataStart: number;
}

/**
 * Parses an Avro object container header from the start of a file. Returns null when `buf` is too
 * short to hold the whole header (read more and retry); throws on bytes that are not a container.
 */
export function parseContainerHeader(buf: Uint8Array): ContainerHeader | null {
  if (buf.length < 4) return null;
  if (!Buffer.from(buf.buffer, buf.byteOffset, 4).equals(AVRO_MAGIC))
    throw new IndexFormatError('not an Avro object container file');
  const c = new Cursor(buf, 4);
  const meta = new Map<string, Uint8Array>();
  try {
    for (let n = c.long(); n !== 0; n = c.long()) {
      if (n < 0) {
        c.long(); // block size in bytes, present when the count is negative
        n = -n;
      }
      for (let i = 0; i < n; i++) meta.set(c.string(), c.bytes());
    }
  } catch (err) {
    if (err instanceof IndexFormatError && /truncated/.test(err.message)) return null;
    throw err;
  }
  if (c.pos + SYNC_LENGTH > buf.length) return null;
  const sync = buf.subarray(c.pos, c.pos + SYNC_LENGTH);
  return { meta, sync, dataStart: c.pos + SYNC_LENGTH };
}

/** Encodes an Avro object container header with the given metadata (values as bytes). */
export function encodeContainerHeader(meta: Iterable<[string, Uint8Array]>, sync: Uint8Array): Buffer {
  const w = new ByteWriter(4096);
  w.raw(AVRO_MAGIC);
  const entries = [...meta];
  w.long(entries.length);
  for (const [k, v] of entries) {
    w.string(k);
    w.bytes(v);
  }
  w.long(0);
  w.raw(sync);
  return w.toBuffer();
}

/**
 * Raw inflate refusing to produce more than `maxOutputLength` bytes: the sizes a well-formed index
 * can need are known, so a crafted one fails fast instead of exhausting memory.
 */
export function boundedInflate(raw: Uint8Array, maxOutputLength: number): Buffer {
  try {
    return inflateRawSync(raw, { maxOutputLength: Math.max(1, Math.floor(maxOutputLength)) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE')
      throw new IndexFormatError(`index block inflates beyond ${maxOutputLength} bytes`);
    throw new IndexFormatError(`index block does not inflate (${(err as Error).message})`);
  }
}
