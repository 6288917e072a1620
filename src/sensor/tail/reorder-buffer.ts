/**
 * Merges the packets of several partitions into packet-time order, within a bounded lateness and
 * bounded memory. A sensor spreads packets over partitions by key hash; each partition is in
 * capture order, but fetches return the partitions unevenly, so their packets arrive interleaved
 * out of time order. Packets wait here in a min-heap on time, and the earliest goes out when:
 *
 * 1. no partition can still deliver an earlier one: its time is at or below every open partition's
 *    latest time (each partition is in time order; a partition that reached its end offset no
 *    longer counts). Reading history, this alone gives the exact merged order;
 * 2. it is `lateness` older (in packet time) than the newest packet seen: a quiet partition cannot
 *    hold the others back for longer than that;
 * 3. with a wall-clock limit (following a live topic): it has waited that long in real time, so
 *    the last packets before a pause are not held until traffic resumes;
 * 4. the buffer holds more than `maxBytes` of frames (memory stays bounded whatever the input).
 *
 * A packet that arrives after a later one went out is still written (never dropped), out of
 * order, and counted in `late`.
 */
import { MinHeap } from '../../query/engine/min-heap.js';

export interface TailPacket {
  tsNs: bigint;
  partition: number;
  offset: bigint;
  frame: Buffer;
  origLen: number;
  /** Date.now() when it was fetched (for the wall-clock rule). */
  arrivedMs: number;
  /** Arrival order, to keep equal times in a stable order. */
  seq: number;
}

export interface ReorderOptions {
  latenessNs: bigint;
  maxBytes: number;
  /** Partitions whose latest time holds the watermark (rule 1). */
  partitions: readonly number[];
}

const NONE = -1n;

interface HeldOffsets {
  offsets: bigint[];
  head: number;
  gone: Set<bigint>;
}

/** Drops the written offsets at the front; compacts the array once most of it is behind the head. */
function advance(h: HeldOffsets): void {
  while (h.head < h.offsets.length && h.gone.has(h.offsets[h.head])) h.gone.delete(h.offsets[h.head++]);
  if (h.head > 1024 && h.head * 2 > h.offsets.length) {
    h.offsets = h.offsets.slice(h.head);
    h.head = 0;
  }
}

export class ReorderBuffer {
  private readonly heap = new MinHeap<TailPacket>((a, b) =>
    a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : a.seq - b.seq,
  );
  /** Latest packet time per open partition (NONE until its first packet). */
  private readonly latest = new Map<number, bigint>();
  private newest = NONE;
  private lastOut = NONE;
  private seq = 0;
  /**
   * Offsets held per partition in arrival (= offset) order, with the ones already written marked
   * gone: the lowest held offset without scanning the heap.
   */
  private readonly held = new Map<number, HeldOffsets>();
  /** Frame bytes held. */
  bytes = 0;
  /** Packets written after a later packet (arrived beyond the lateness bound). */
  late = 0;

  constructor(private readonly o: ReorderOptions) {
    for (const p of o.partitions) this.latest.set(p, NONE);
  }

  get size(): number {
    return this.heap.size;
  }

  push(p: Omit<TailPacket, 'seq'>): void {
    const packet = p as TailPacket;
    packet.seq = this.seq++;
    this.heap.push(packet);
    this.bytes += p.frame.length;
    if (p.tsNs > this.newest) this.newest = p.tsNs;
    let h = this.held.get(p.partition);
    if (!h) {
      h = { offsets: [], head: 0, gone: new Set() };
      this.held.set(p.partition, h);
    }
    h.offsets.push(p.offset);
    const l = this.latest.get(p.partition);
    if (l !== undefined && p.tsNs > l) this.latest.set(p.partition, p.tsNs);
  }

  /** The partition reached its end offset: it no longer holds packets back (rule 1). */
  close(partition: number): void {
    this.latest.delete(partition);
  }

  /**
   * The packets that may go out now, in order (rules 1-4). `wallLatenessMs` enables rule 3;
   * `limit` stops early (e.g. --max-packets).
   */
  release(nowMs: number, wallLatenessMs: number | null, limit = Number.POSITIVE_INFINITY): TailPacket[] {
    const out: TailPacket[] = [];
    const watermark = this.watermark();
    const byLateness = this.newest === NONE ? NONE : this.newest - this.o.latenessNs;
    for (;;) {
      if (out.length >= limit) break;
      const top = this.heap.peek();
      if (top === undefined) break;
      const due =
        top.tsNs <= watermark ||
        top.tsNs <= byLateness ||
        (wallLatenessMs !== null && nowMs - top.arrivedMs >= wallLatenessMs) ||
        this.bytes > this.o.maxBytes;
      if (!due) break;
      out.push(this.take());
    }
    return out;
  }

  /** Everything left, in order (at the end of the input or on a stop). */
  drain(limit = Number.POSITIVE_INFINITY): TailPacket[] {
    const out: TailPacket[] = [];
    while (this.heap.size > 0 && out.length < limit) out.push(this.take());
    return out;
  }

  /**
   * The lowest offset still held for a partition, or null when none is (a group may commit up to
   * it, exclusive: everything before it has been written).
   */
  lowestHeldOffset(partition: number): bigint | null {
    const h = this.held.get(partition);
    if (!h) return null;
    advance(h);
    return h.head < h.offsets.length ? h.offsets[h.head] : null;
  }

  private take(): TailPacket {
    const p = this.heap.pop()!;
    const h = this.held.get(p.partition)!;
    h.gone.add(p.offset);
    if (h.gone.size >= 256) advance(h); // keeps the bookkeeping as small as the buffer
    this.bytes -= p.frame.length;
    if (p.tsNs < this.lastOut) this.late++;
    else this.lastOut = p.tsNs;
    return p;
  }

  /** Rule 1: the lowest latest-time over open partitions; every partition closed → no limit. */
  private watermark(): bigint {
    let w: bigint | null = null;
    for (const t of this.latest.values()) if (w === null || t < w) w = t;
    return w ?? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000_000n;
  }
}
