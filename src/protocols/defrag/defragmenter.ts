/**
 * IPv4 and IPv6 fragment reassembly (Packetbeat has none: elastic/beats#213, #33012, so a DNS
 * answer larger than the path MTU is lost there). Fragments are held per datagram (RFC 791 key:
 * source, destination, protocol, id; RFC 8200: source, destination, id) until every byte from 0 to
 * the last fragment's end is present, then the datagram is rebuilt as a plain IP packet (header
 * with the fragment fields cleared and the length fixed) for the decoder to read again.
 *
 * Bounded whatever the input: fragments per datagram, datagram size (65,535 bytes, larger is an
 * attack), datagrams pending, and bytes through the shared budget; datagrams incomplete after
 * `timeoutNs` of packet time are dropped. Everything dropped is counted.
 */
import type { PacketFields } from '../../packet/packet-fields.js';
import type { ByteBudget } from '../memory.js';
import type { AnalyzerStats } from '../stats.js';

export interface DefragOptions {
  maxPendingDatagrams?: number;
  maxFragmentsPerDatagram?: number;
  /** Packet time after which an incomplete datagram is dropped (default 30 s, as Linux's ipfrag_time). */
  timeoutNs?: bigint;
}

interface Fragment {
  offset: number;
  data: Uint8Array;
}

interface Pending {
  fragments: Fragment[];
  /** The IP header (IPv6: the unfragmentable part) from the offset-0 fragment, or null until it arrives. */
  header: Uint8Array | null;
  /** IPv6: where, in `header`, the next-header byte that must name the upper layer sits. */
  nextHeaderPos: number;
  upperLayer: number;
  /** Payload length, known once the last fragment (MF clear) arrived; -1 before. */
  total: number;
  bytes: number;
  firstTsNs: bigint;
}

const MAX_IP_PAYLOAD = 65535;
const u16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];

export class Defragmenter {
  private readonly pending = new Map<string, Pending>();
  private readonly maxPending: number;
  private readonly maxFragments: number;
  private readonly timeoutNs: bigint;

  constructor(
    private readonly budget: ByteBudget,
    private readonly stats: AnalyzerStats,
    options: DefragOptions = {},
  ) {
    this.maxPending = options.maxPendingDatagrams ?? 4096;
    this.maxFragments = options.maxFragmentsPerDatagram ?? 128;
    this.timeoutNs = options.timeoutNs ?? 30_000_000_000n;
  }

  get pendingDatagrams(): number {
    return this.pending.size;
  }

  /**
   * Takes one decoded fragment (`f.fragment` is true). Returns the rebuilt datagram (raw IP, to
   * decode with LINKTYPE_RAW) when this fragment completed it, else null.
   */
  push(buf: Uint8Array, f: PacketFields, tsNs: bigint): Uint8Array | null {
    this.stats.ipFragments++;
    const l3 = f.l3Offset;
    const end = f.frameOffset + f.length;
    let key: string;
    let offset: number;
    let more: boolean;
    let payloadStart: number;
    let payloadEnd: number;
    let headerEnd: number;
    let nextHeaderPos = -1;
    let upper = f.protocol;
    if (f.ipVersion === 4) {
      const ihl = (buf[l3] & 15) * 4;
      const flags = u16(buf, l3 + 6);
      offset = (flags & 0x1fff) * 8;
      more = (flags & 0x2000) !== 0;
      payloadStart = l3 + ihl;
      payloadEnd = Math.min(l3 + u16(buf, l3 + 2), end);
      headerEnd = payloadStart;
      key = `4 ${f.srcAddr} ${f.dstAddr} ${buf[l3 + 9]} ${u16(buf, l3 + 4)}`;
    } else {
      const frag = findIpv6FragmentHeader(buf, l3, end);
      if (frag === null) {
        this.stats.ipFragmentsDropped++;
        return null;
      }
      const word = u16(buf, frag.pos + 2);
      offset = word & 0xfff8;
      more = (word & 1) !== 0;
      upper = buf[frag.pos];
      payloadStart = frag.pos + 8;
      payloadEnd = Math.min(l3 + 40 + u16(buf, l3 + 4), end);
      headerEnd = frag.pos;
      nextHeaderPos = frag.prevNextPos - l3;
      const id = ((buf[frag.pos + 4] << 24) | (buf[frag.pos + 5] << 16) | u16(buf, frag.pos + 6)) >>> 0;
      key = `6 ${f.srcAddr} ${f.dstAddr} ${id}`;
    }
    const len = payloadEnd - payloadStart;
    if (len < 0 || offset + len > MAX_IP_PAYLOAD) {
      this.stats.ipFragmentsDropped++;
      return null;
    }
    let p = this.pending.get(key);
    if (p === undefined) {
      if (this.pending.size >= this.maxPending) this.dropOldest();
      p = { fragments: [], header: null, nextHeaderPos: -1, upperLayer: upper, total: -1, bytes: 0, firstTsNs: tsNs };
      this.pending.set(key, p);
    }
    const cost = len + (offset === 0 ? headerEnd - l3 : 0);
    if (p.fragments.length >= this.maxFragments || !this.budget.tryReserve(cost)) {
      this.drop(key, p, 1);
      return null;
    }
    p.bytes += cost;
    p.fragments.push({ offset, data: buf.slice(payloadStart, payloadEnd) });
    if (offset === 0) {
      p.header = buf.slice(l3, headerEnd);
      p.nextHeaderPos = nextHeaderPos;
      p.upperLayer = upper;
    }
    if (!more) p.total = offset + len;
    if (p.header === null || p.total < 0) return null;
    const datagram = this.assemble(p);
    if (datagram === null) return null; // holes remain
    this.pending.delete(key);
    this.budget.release(p.bytes);
    this.stats.ipDatagramsReassembled++;
    return datagram;
  }

  /** Drops datagrams still incomplete `timeoutNs` after their first fragment. */
  expire(nowNs: bigint): void {
    for (const [key, p] of this.pending) {
      if (nowNs - p.firstTsNs < this.timeoutNs) break; // insertion order = first-fragment order
      this.drop(key, p, p.fragments.length);
    }
  }

  /** End of input: whatever is incomplete is lost; count it. */
  flush(): void {
    for (const [key, p] of this.pending) this.drop(key, p, p.fragments.length);
  }

  private dropOldest(): void {
    const first = this.pending.entries().next();
    if (!first.done) this.drop(first.value[0], first.value[1], first.value[1].fragments.length);
  }

  private drop(key: string, p: Pending, fragments: number): void {
    this.stats.ipFragmentsDropped += fragments;
    this.budget.release(p.bytes);
    this.pending.delete(key);
  }

  private assemble(p: Pending): Uint8Array | null {
    const frags = p.fragments.slice().sort((a, b) => a.offset - b.offset);
    let covered = 0;
    for (const fr of frags) {
      if (fr.offset > covered) return null;
      covered = Math.max(covered, fr.offset + fr.data.length);
    }
    if (covered < p.total) return null;
    const header = p.header as Uint8Array;
    const out = new Uint8Array(header.length + p.total);
    out.set(header, 0);
    // Overlaps: the earliest-offset copy wins (later fragments only fill what is still empty).
    for (let i = frags.length - 1; i >= 0; i--) {
      const fr = frags[i];
      out.set(
        fr.data.subarray(0, Math.max(0, Math.min(fr.data.length, p.total - fr.offset))),
        header.length + fr.offset,
      );
    }
    if (out[0] >> 4 === 4) {
      const total = header.length + p.total;
      out[2] = total >> 8;
      out[3] = total & 0xff;
      out[6] = 0; // no more fragments, offset 0
      out[7] = 0;
    } else {
      const payload = header.length - 40 + p.total;
      out[4] = payload >> 8;
      out[5] = payload & 0xff;
      out[p.nextHeaderPos] = p.upperLayer;
    }
    return out;
  }
}

/** Walks the IPv6 extension chain to the fragment header: its offset and the offset of the byte naming it. */
export function findIpv6FragmentHeader(
  buf: Uint8Array,
  l3: number,
  end: number,
): { pos: number; prevNextPos: number } | null {
  let next = buf[l3 + 6];
  let prevNextPos = l3 + 6;
  let q = l3 + 40;
  for (let n = 0; n < 16 && q + 8 <= end; n++) {
    if (next === 44) return { pos: q, prevNextPos };
    let len: number;
    if (next === 0 || next === 43 || next === 60) len = (buf[q + 1] + 1) * 8;
    else if (next === 51) len = (buf[q + 1] + 2) * 4;
    else return null;
    prevNextPos = q;
    next = buf[q];
    q += len;
  }
  return null;
}
