/**
 * A byte budget shared by everything the analyzer buffers (out-of-order TCP segments, IP
 * fragments, plugins' partial messages), so memory stays bounded whatever the input: a holder
 * reserves before it keeps bytes and releases when it lets them go; a refused reservation is the
 * holder's cue to drop (and count) rather than grow.
 */
export class ByteBudget {
  private usedBytes = 0;
  private peakBytes = 0;

  constructor(readonly limit: number) {}

  get used(): number {
    return this.usedBytes;
  }

  get peak(): number {
    return this.peakBytes;
  }

  tryReserve(n: number): boolean {
    if (this.usedBytes + n > this.limit) return false;
    this.usedBytes += n;
    if (this.usedBytes > this.peakBytes) this.peakBytes = this.usedBytes;
    return true;
  }

  release(n: number): void {
    this.usedBytes -= n;
    if (this.usedBytes < 0) this.usedBytes = 0;
  }
}

/**
 * A growable byte buffer for one direction of one stream (a plugin's partial message), capped
 * per stream and charged to the shared budget. `append` returns false when the bytes would not
 * fit: the caller drops the message and resets.
 */
export class StreamBuffer {
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end = 0;
  private reserved = 0;

  constructor(
    private readonly budget: ByteBudget,
    private readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.end - this.start;
  }

  /** The buffered bytes (a view, valid until the next append/consume). */
  view(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  append(data: Uint8Array): boolean {
    const need = this.length + data.length;
    if (need > this.maxBytes) return false;
    if (this.end + data.length > this.buf.length) {
      const cap = Math.min(Math.max(need * 2, 1024), this.maxBytes);
      if (cap > this.reserved && !this.budget.tryReserve(cap - this.reserved)) return false;
      if (cap > this.reserved) this.reserved = cap;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(this.start, this.end), 0);
      this.buf = next;
      this.end -= this.start;
      this.start = 0;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
    return true;
  }

  consume(n: number): void {
    this.start += Math.min(n, this.length);
    if (this.start === this.end) this.start = this.end = 0;
  }

  /** Drops everything and gives the memory back. */
  clear(): void {
    this.budget.release(this.reserved);
    this.reserved = 0;
    this.buf = new Uint8Array(0);
    this.start = this.end = 0;
  }
}
