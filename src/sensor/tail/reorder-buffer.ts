/**
 * Merges the packets of several partitions into packet-time order, within a bounded lateness and
 * bounded memory. A sensor spreads packets over partitions by key hash; each partition is close to
 * capture order, but fetches return the partitions unevenly, so packets arrive interleaved out of
 * time order. They wait here in a min-heap on time. `lateness` is how far out of order packets may
 * be, across or within partitions. The earliest goes out when one of these holds:
 *
 * 1. no open partition can still deliver an earlier one. A partition that is behind (it has
 *    records we have not fetched yet) may: until its latest time is `lateness` past the packet,
 *    the packet waits, however long the fetch takes, so reading history gives the exact merged
 *    order. A partition that is caught up (nothing more to fetch) holds the packet until the newest
 *    time seen is `lateness` past it, or, with a wall-clock limit (following a live topic), until
 *    it has waited that long in real time, so a quiet partition cannot stall the others. A
 *    partition that reached its end offset no longer counts;
 * 2. the buffer holds more than `maxBytes` of frames (memory stays bounded whatever the input).
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
  /** The open partitions (all behind until told otherwise). */
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
  /** Open partitions with records not fetched yet. */
  private readonly behind = new Set<number>();
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
    for (const p of o.partitions) {
      this.latest.set(p, NONE);
      this.behind.add(p);
    }
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

  /** The partition reached its end offset: it no longer holds packets back. */
  close(partition: number): void {
    this.latest.delete(partition);
    this.behind.delete(partition);
  }

  /** Whether the partition has records not fetched yet (default for a partition: behind). */
  setBehind(partition: number, behind: boolean): void {
    if (!this.latest.has(partition)) return;
    if (behind) this.behind.add(partition);
    else this.behind.delete(partition);
  }

  /**
   * The packets that may go out now, in order (rules 1-2). `wallLatenessMs` enables the wall-clock
   * limit for caught-up partitions; `limit` stops early (e.g. --max-packets).
   */
  release(nowMs: number, wallLatenessMs: number | null, limit = Number.POSITIVE_INFINITY): TailPacket[] {
    const out: TailPacket[] = [];
    // Behind partitions: a packet waits until each has gone `lateness` past it.
    let behindBound: bigint | null = null;
    for (const p of this.behind) {
      const l = this.latest.get(p)!;
      const bound = l === NONE ? NONE : l - this.o.latenessNs;
      if (behindBound === null || bound < behindBound) behindBound = bound;
    }
    const anyCaughtUp = this.latest.size > this.behind.size;
    const byLateness = this.newest === NONE ? NONE : this.newest - this.o.latenessNs;
    for (;;) {
      if (out.length >= limit) break;
      const top = this.heap.peek();
      if (top === undefined) break;
      let due = this.bytes > this.o.maxBytes;
      if (!due) {
        const behindAllow = behindBound === null || (behindBound !== NONE && top.tsNs <= behindBound);
        const caughtUpAllow =
          !anyCaughtUp ||
          top.tsNs <= byLateness ||
          (wallLatenessMs !== null && nowMs - top.arrivedMs >= wallLatenessMs);
        due = behindAllow && caughtUpAllow;
      }
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
}
