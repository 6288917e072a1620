/**
 * Merges packets from several Kafka partitions into one stream ordered by packet time. Sensors
 * key packets by time, not by flow (docs/protocols.md, streaming mode), so one TCP
 * connection's packets are spread over partitions that are consumed at different speeds; the
 * analyzer needs them back in time order.
 *
 * The watermark is per partition, as in stream processors: a packet is released once every
 * partition that still has messages to deliver has moved past its time (less `latenessNs`, the
 * disorder tolerated inside one partition). A partition that is caught up (nothing left to
 * fetch) does not hold the others back. Packets arriving after the watermark passed them are
 * still analyzed (the TCP reorder window absorbs small disorder) and counted. Memory is bounded:
 * past `maxHeld` packets the oldest is released early, and counted.
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
  /** Per partition: the newest packet time seen, and whether it has nothing more to deliver now. */
  private readonly progress = new Map<number, { maxTsNs: bigint; caughtUp: boolean }>();
  readonly stats: MergerStats = { late: 0, forced: 0 };

  constructor(
    private readonly latenessNs: bigint,
    private readonly maxHeld: number,
  ) {}

  get held(): number {
    return this.heap.length;
  }

  /** The partitions this consumer owns, and which of them have nothing to deliver (after a group join). */
  assign(partitions: readonly { partition: number; caughtUp: boolean }[]): void {
    this.progress.clear();
    for (const p of partitions) this.progress.set(p.partition, { maxTsNs: -1n, caughtUp: p.caughtUp });
  }

  /** After each fetched batch: whether the partition has reached its end for now. */
  setCaughtUp(partition: number, caughtUp: boolean, release: (p: HeldPacket) => void): void {
    const pr = this.progress.get(partition);
    if (pr) pr.caughtUp = caughtUp;
    else this.progress.set(partition, { maxTsNs: -1n, caughtUp });
    this.releaseReady(release);
  }

  push(p: HeldPacket, release: (p: HeldPacket) => void): void {
    if (p.tsNs > this.maxSeenNs) this.maxSeenNs = p.tsNs;
    if (p.tsNs < this.releasedNs) this.stats.late++;
    const pr = this.progress.get(p.partition);
    if (pr === undefined) this.progress.set(p.partition, { maxTsNs: p.tsNs, caughtUp: false });
    else if (p.tsNs > pr.maxTsNs) pr.maxTsNs = p.tsNs;
    this.heapPush(p);
    while (this.heap.length > this.maxHeld) {
      this.stats.forced++;
      this.emit(release);
    }
    this.releaseReady(release);
  }

  /** Everything at or before this time can be released: no lagging partition can still bring older packets. */
  watermark(): bigint {
    let w = this.maxSeenNs;
    for (const pr of this.progress.values()) if (!pr.caughtUp && pr.maxTsNs < w) w = pr.maxTsNs;
    return w - this.latenessNs;
  }

  private releaseReady(release: (p: HeldPacket) => void): void {
    const w = this.watermark();
    while (this.heap.length > 0 && this.heap[0].tsNs <= w) this.emit(release);
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
