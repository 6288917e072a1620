/**
 * One direction of a TCP connection, put back in sequence order: a bounded reorder buffer
 * (Packetbeat has none, elastic/beats#544: a segment captured out of order looks like a gap
 * there), retransmissions dropped, overlaps trimmed, and a gap reported when the missing bytes
 * cannot arrive any more: the buffer is full (segments or bytes), the memory budget refuses more,
 * a segment waited longer than the reorder window in packet time, or the stream ends.
 *
 * Sequence numbers are compared modulo 2^32 (`(a - b) | 0`), so streams that wrap work.
 */
import type { ByteBudget } from '../memory.js';
import type { AnalyzerStats } from '../stats.js';
import type { PacketRef } from '../types.js';

export interface StreamLimits {
  /** Out-of-order segments held per direction before the hole is declared a gap. */
  maxSegments: number;
  /** Out-of-order bytes held per direction before the hole is declared a gap. */
  maxBytes: number;
  /** Packet time a segment may wait for the hole before it to fill. */
  reorderWindowNs: bigint;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxSegments: 128,
  maxBytes: 512 * 1024,
  reorderWindowNs: 2_000_000_000n,
};

/** Receives the stream in order. */
export interface StreamReceiver {
  data(payload: Uint8Array, tsNs: bigint, ref: PacketRef): void;
  gap(nbytes: number): void;
  fin(): void;
}

interface Segment {
  seq: number;
  data: Uint8Array;
  tsNs: bigint;
  ref: PacketRef;
}

const seqDiff = (a: number, b: number): number => (a - b) | 0;

export class TcpStream {
  /** Next expected sequence number; meaningful once `synced`. */
  private nextSeq = 0;
  private synced = false;
  private finSeq = 0;
  private finPending = false;
  finished = false;
  /** True when the stream's start is known from its SYN (not guessed from the first data seen). */
  sawSyn = false;
  private readonly ooo: Segment[] = [];
  private oooBytes = 0;

  constructor(
    private readonly receiver: StreamReceiver,
    private readonly limits: StreamLimits,
    private readonly budget: ByteBudget,
    private readonly stats: AnalyzerStats,
  ) {}

  /** The SYN's sequence number: data starts at isn + 1. */
  syn(isn: number): void {
    if (this.synced) return;
    this.nextSeq = (isn + 1) | 0;
    this.synced = true;
    this.sawSyn = true;
  }

  /** A segment in capture order; `fin` when it carries FIN. */
  segment(seq: number, payload: Uint8Array, fin: boolean, tsNs: bigint, ref: PacketRef): void {
    if (this.finished) return;
    if (!this.synced) {
      this.nextSeq = seq | 0;
      this.synced = true;
    }
    if (fin) {
      this.finSeq = (seq + payload.length) | 0;
      this.finPending = true;
    }
    if (payload.length > 0) this.accept(seq | 0, payload, tsNs, ref);
    this.maybeFin();
  }

  /** Segments older than the reorder window give up on their hole. */
  expire(nowNs: bigint): void {
    if (this.ooo.length > 0 && nowNs - this.ooo[0].tsNs >= this.limits.reorderWindowNs) this.flushGaps();
  }

  /** The connection ends: deliver what is buffered, each hole reported as a gap. */
  close(): void {
    this.flushGaps();
    this.maybeFin(true);
    this.releaseAll();
  }

  get buffered(): number {
    return this.oooBytes;
  }

  private accept(seq: number, payload: Uint8Array, tsNs: bigint, ref: PacketRef): void {
    let rel = seqDiff(seq, this.nextSeq);
    if (rel + payload.length <= 0) {
      this.stats.tcpRetransmissions++;
      return;
    }
    if (rel < 0) {
      this.stats.tcpOverlapsTrimmed++;
      payload = payload.subarray(-rel);
      seq = this.nextSeq;
      rel = 0;
    }
    if (rel === 0) {
      this.deliver(payload, tsNs, ref);
      this.drain();
      return;
    }
    this.stats.tcpOutOfOrder++;
    if (this.ooo.length >= this.limits.maxSegments || this.oooBytes + payload.length > this.limits.maxBytes) {
      this.gapToFirst();
      this.drain();
      rel = seqDiff(seq, this.nextSeq);
      if (rel + payload.length <= 0) return;
      if (rel <= 0) {
        this.deliver(payload.subarray(-rel), tsNs, ref);
        this.drain();
        return;
      }
    }
    if (!this.budget.tryReserve(payload.length)) {
      // No memory to hold it: what is buffered goes out now and this segment's bytes become part of a gap.
      this.flushGaps();
      return;
    }
    this.insert({ seq, data: payload.slice(), tsNs, ref });
  }

  private insert(s: Segment): void {
    let i = this.ooo.length;
    while (i > 0 && seqDiff(this.ooo[i - 1].seq, s.seq) > 0) i--;
    this.ooo.splice(i, 0, s);
    this.oooBytes += s.data.length;
  }

  private deliver(payload: Uint8Array, tsNs: bigint, ref: PacketRef): void {
    this.nextSeq = (this.nextSeq + payload.length) | 0;
    this.receiver.data(payload, tsNs, ref);
  }

  /** Delivers buffered segments that have become contiguous. */
  private drain(): void {
    while (this.ooo.length > 0) {
      const s = this.ooo[0];
      const rel = seqDiff(s.seq, this.nextSeq);
      if (rel > 0) return;
      this.ooo.shift();
      this.oooBytes -= s.data.length;
      this.budget.release(s.data.length);
      if (rel + s.data.length <= 0) {
        this.stats.tcpRetransmissions++;
        continue;
      }
      if (rel < 0) this.stats.tcpOverlapsTrimmed++;
      this.deliver(rel < 0 ? s.data.subarray(-rel) : s.data, s.tsNs, s.ref);
    }
  }

  private gapToFirst(): void {
    if (this.ooo.length === 0) return;
    const missing = seqDiff(this.ooo[0].seq, this.nextSeq);
    if (missing <= 0) return;
    this.stats.tcpGaps++;
    this.stats.tcpGapBytes += missing;
    this.nextSeq = this.ooo[0].seq;
    this.receiver.gap(missing);
  }

  private flushGaps(): void {
    while (this.ooo.length > 0) {
      this.gapToFirst();
      this.drain();
    }
    this.maybeFin();
  }

  /** Delivers the FIN once every byte before it was delivered; `force` (at close) reports the missing ones as a gap. */
  private maybeFin(force = false): void {
    if (!this.finPending || this.finished) return;
    const missing = seqDiff(this.finSeq, this.nextSeq);
    if (missing > 0) {
      if (!force) return; // data before the FIN is still to come
      this.stats.tcpGaps++;
      this.stats.tcpGapBytes += missing;
      this.nextSeq = this.finSeq;
      this.receiver.gap(missing);
    }
    this.finished = true;
    this.releaseAll();
    this.receiver.fin();
  }

  private releaseAll(): void {
    this.budget.release(this.oooBytes);
    this.oooBytes = 0;
    this.ooo.length = 0;
  }
}
