/**
 * Merges packets from several Kafka partitions into one stream ordered by packet time. Sensors
 * key packets by time, not by flow (reference: protocols-and-peers.md §5.1), so one TCP
 * connection's packets are spread over partitions that are consumed at different speeds; the
 * analyzer needs them back in time order. A packet is released once a packet `latenessNs` newer
 * has been seen (bounded lateness, as in stream processors' watermarks); packets arriving later
 * than that are still analyzed (the TCP reorder window absorbs small disorder) and counted.
 * Memory is bounded: past `maxHeld` packets the oldest is released early, and counted.
 */
export interface HeldPacket {
  tsNs: bigint;
  partition: number;
  offset: number;
  data: Buffer;
  frameOffset: number;
  frameLength: number;
  linkType: number;
}

export interface MergerStats {
  /** Released after the watermark had already passed their time. */
  late: number;
  /** Released before their time because the buffer was full. */
  forced: number;
}

export class TimeMerger {
  private readonly heap: HeldPacket[] = [];
  private maxSeenNs = -1n;
  private releasedNs = -1n;
  readonly stats: MergerStats = { late: 0, forced: 0 };

  constructor(
    private readonly latenessNs: bigint,
    private readonly maxHeld: number,
  ) {}

  get held(): number {
    return this.heap.length;
  }

  push(p: HeldPacket, release: (p: HeldPacket) => void): void {
    if (p.tsNs > this.maxSeenNs) this.maxSeenNs = p.tsNs;
    if (p.tsNs < this.releasedNs) this.stats.late++;
    this.heapPush(p);
    while (this.heap.length > this.maxHeld) {
      this.stats.forced++;
      this.emit(release);
    }
    const watermark = this.maxSeenNs - this.latenessNs;
    while (this.heap.length > 0 && this.heap[0].tsNs <= watermark) this.emit(release);
  }

  /** Releases everything held (input idle or ending). */
  drain(release: (p: HeldPacket) => void): void {
    while (this.heap.length > 0) this.emit(release);
  }

  /** Per partition, the lowest offset still held (what must not be committed yet). */
  lowestHeldOffsets(): Map<number, number> {
    const m = new Map<number, number>();
    for (const p of this.heap) {
      const o = m.get(p.partition);
      if (o === undefined || p.offset < o) m.set(p.partition, p.offset);
    }
    return m;
  }

  private emit(release: (p: HeldPacket) => void): void {
    const p = this.heapPop();
    if (p.tsNs > this.releasedNs) this.releasedNs = p.tsNs;
    release(p);
  }

  // A binary min-heap on (tsNs, partition, offset): ties keep each partition's order.
  private less(a: HeldPacket, b: HeldPacket): boolean {
    if (a.tsNs !== b.tsNs) return a.tsNs < b.tsNs;
    if (a.partition !== b.partition) return a.partition < b.partition;
    return a.offset < b.offset;
  }

  private heapPush(p: HeldPacket): void {
    const h = this.heap;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private heapPop(): HeldPacket {
    const h = this.heap;
    const top = h[0];
    const last = h.pop() as HeldPacket;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
