import type { Readable } from 'node:stream';

/**
 * Anything our streaming readers accept: a Node Readable, any (async) iterable of chunks, or one
 * whole buffer (for data already in memory, e.g. a ranged read).
 */
export type ByteSource = Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array;

/** The source as an async iterator of chunks. */
function chunkIterator(source: ByteSource): AsyncIterator<Uint8Array> {
  if (source instanceof Uint8Array) source = [source];
  if (Symbol.asyncIterator in source) return (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const it = (source as Iterable<Uint8Array>)[Symbol.iterator]();
  return {
    next: async () => it.next(),
    return: async () => it.return?.() ?? { done: true, value: undefined },
  };
}

/**
 * A pull-based window over a chunked byte stream, for the streaming readers. It holds only the
 * chunks not consumed yet (bounded by the largest item a reader asks for plus one chunk), and
 * hands out zero-copy views when the requested bytes sit inside one chunk, which for 64 KiB
 * chunks and packet-sized records is almost always.
 */
export class ByteQueue {
  private readonly it: AsyncIterator<Uint8Array>;
  private chunks: Buffer[] = [];
  /** Read position inside chunks[0]. */
  private head = 0;
  private buffered = 0;
  private ended = false;
  /** Bytes consumed since the start of the stream (the file position of the next byte). */
  position = 0;

  constructor(source: ByteSource) {
    this.it = chunkIterator(source);
  }

  /** Bytes available without waiting. */
  get available(): number {
    return this.buffered;
  }

  /** True once the source is exhausted and every byte has been consumed. */
  get done(): boolean {
    return this.ended && this.buffered === 0;
  }

  /**
   * Waits until `n` bytes are buffered. Returns false when the stream ends first (the bytes that
   * did arrive stay available: that is how readers detect a torn last record).
   */
  async ensure(n: number): Promise<boolean> {
    while (this.buffered < n) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        return this.buffered >= n;
      }
      const v = r.value;
      if (v.length === 0) continue;
      const b = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.length);
      this.chunks.push(b);
      this.buffered += b.length;
    }
    return true;
  }

  /** Returns `n` buffered bytes starting `ahead` bytes past the read position, without consuming. */
  peek(n: number, ahead = 0): Buffer {
    return this.gather(n, ahead, false);
  }

  /** Consumes and returns `n` buffered bytes (a view when they sit in one chunk, else a copy). */
  take(n: number): Buffer {
    return this.gather(n, 0, true);
  }

  /** Consumes `n` buffered bytes. */
  skip(n: number): void {
    this.consume(n);
  }

  /** Consumes whatever is buffered and drains the source; returns how many bytes that was. */
  async drain(): Promise<number> {
    let n = this.buffered;
    this.consume(this.buffered);
    while (!this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else {
        n += r.value.length;
        this.position += r.value.length;
      }
    }
    return n;
  }

  /** Stops the underlying source early (destroys a Readable). */
  async close(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }

  readInt32BE(ahead = 0): number {
    const c = this.chunks[0];
    const at = this.head + ahead;
    if (at + 4 <= c.length) return c.readInt32BE(at);
    return this.gather(4, ahead, false).readInt32BE(0);
  }

  private gather(n: number, ahead: number, consume: boolean): Buffer {
    if (n + ahead > this.buffered)
      throw new RangeError(`ByteQueue: ${n + ahead} bytes requested, ${this.buffered} buffered`);
    const c = this.chunks[0];
    const start = this.head + ahead;
    let out: Buffer;
    if (n === 0) out = EMPTY;
    else if (start + n <= c.length) out = c.subarray(start, start + n);
    else {
      out = Buffer.allocUnsafe(n);
      let skip = start;
      let filled = 0;
      for (let i = 0; filled < n; i++) {
        const ch = this.chunks[i];
        if (skip >= ch.length) {
          skip -= ch.length;
          continue;
        }
        const m = Math.min(ch.length - skip, n - filled);
        ch.copy(out, filled, skip, skip + m);
        filled += m;
        skip = 0;
      }
    }
    if (consume) this.consume(n);
    return out;
  }

  private consume(n: number): void {
    this.buffered -= n;
    this.position += n;
    let left = n;
    while (left > 0) {
      const c = this.chunks[0];
      const rest = c.length - this.head;
      if (left < rest) {
        this.head += left;
        return;
      }
      left -= rest;
      this.chunks.shift();
      this.head = 0;
    }
    if (this.chunks.length > 0 && this.head === this.chunks[0].length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads the first `n` bytes of a source (fewer if it is shorter) and returns them together with a
 * source that replays them followed by the rest: lets a tool sniff a file's magic and then hand
 * the whole stream to the right reader.
 */
export async function peekSource(
  source: ByteSource,
  n: number,
): Promise<{ head: Buffer; source: AsyncIterable<Buffer> }> {
  const it = chunkIterator(source);
  const prefix: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    prefix.push(b);
    have += b.length;
  }
  const all = prefix.length === 1 ? prefix[0] : Buffer.concat(prefix);
  const replay: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: async function* () {
      if (all.length > 0) yield all;
      if (ended) return;
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
        }
      } finally {
        await it.return?.();
      }
    },
  };
  return { head: all.subarray(0, Math.min(n, all.length)), source: replay };
}
