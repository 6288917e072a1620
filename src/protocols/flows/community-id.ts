/**
 * Community ID flow hashing, version 1 (corelight/community-id-spec): `1:` + base64(SHA-1(seed ·
 * saddr · daddr · proto · 0 · sport · dport)), the endpoints ordered so both directions hash
 * alike; for ICMP the "ports" are the type and its counterpart type (echo ↔ echo reply, ...), and
 * a type with no counterpart is hashed one-way, unordered. Packetbeat publishes it as
 * `network.community_id`; tshark's `communityid` post-dissector computes the same value (the
 * tests check ours against it).
 */
import { createHash } from 'node:crypto';
import { parseIpv4 } from '../../packet/ip-text.js';
import { parseIPv6 } from '../../query/filter/ip.js';
import type { FlowTuple } from '../types.js';

const PROTO_NUMBER = { tcp: 6, udp: 17, icmp: 1, 'ipv6-icmp': 58 } as const;

// ICMP type → the type answering it (both ways), from the spec's reference implementation.
const ICMP4_PAIRS: ReadonlyMap<number, number> = pairs([
  [8, 0],
  [13, 14],
  [15, 16],
  [10, 9],
  [17, 18],
]);
const ICMP6_PAIRS: ReadonlyMap<number, number> = pairs([
  [128, 129],
  [130, 131],
  [133, 134],
  [135, 136],
  [139, 140],
  [144, 145],
]);

function pairs(list: [number, number][]): Map<number, number> {
  const m = new Map<number, number>();
  for (const [a, b] of list) {
    m.set(a, b);
    m.set(b, a);
  }
  return m;
}

const words = new Uint16Array(8);

/** IPv4 or IPv6 text → network-order bytes, or null. */
export function ipTextToBytes(text: string): Uint8Array | null {
  if (text.includes(':')) {
    if (!parseIPv6(text, words)) return null;
    const out = new Uint8Array(16);
    for (let i = 0; i < 8; i++) {
      out[i * 2] = words[i] >> 8;
      out[i * 2 + 1] = words[i] & 0xff;
    }
    return out;
  }
  return parseIpv4(text);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * The Community ID of a flow tuple. For ICMP, `srcPort`/`dstPort` hold the type and code. Returns
 * null when an address does not parse (never for tuples the decoder produced).
 */
export function communityId(t: FlowTuple, seed = 0): string | null {
  const src = ipTextToBytes(t.srcIp);
  const dst = ipTextToBytes(t.dstIp);
  if (src === null || dst === null) return null;
  const proto = PROTO_NUMBER[t.transport];
  let sport = t.srcPort;
  let dport = t.dstPort;
  let oneWay = false;
  if (t.transport === 'icmp' || t.transport === 'ipv6-icmp') {
    const counterpart = (t.transport === 'icmp' ? ICMP4_PAIRS : ICMP6_PAIRS).get(sport);
    if (counterpart === undefined) oneWay = true;
    else dport = counterpart;
  }
  let a = src;
  let b = dst;
  if (!oneWay) {
    const c = compareBytes(src, dst);
    if (c > 0 || (c === 0 && sport > dport)) {
      a = dst;
      b = src;
      const p = sport;
      sport = dport;
      dport = p;
    }
  }
  const buf = Buffer.allocUnsafe(2 + a.length + b.length + 2 + 4);
  let o = buf.writeUInt16BE(seed & 0xffff, 0);
  buf.set(a, o);
  o += a.length;
  buf.set(b, o);
  o += b.length;
  buf[o++] = proto;
  buf[o++] = 0;
  o = buf.writeUInt16BE(sport & 0xffff, o);
  buf.writeUInt16BE(dport & 0xffff, o);
  return `1:${createHash('sha1').update(buf).digest('base64')}`;
}

/**
 * Memoises community ids per flow (a flow's events all carry the same one); bounded: cleared when
 * full, so a flood of distinct flows costs time, never memory.
 */
export class CommunityIdCache {
  private readonly map = new Map<string, string | null>();

  constructor(private readonly maxEntries = 65536) {}

  get(t: FlowTuple): string | null {
    const key = `${t.transport} ${t.srcIp} ${t.srcPort} ${t.dstIp} ${t.dstPort}`;
    let v = this.map.get(key);
    if (v === undefined) {
      if (this.map.size >= this.maxEntries) this.map.clear();
      v = communityId(t);
      this.map.set(key, v);
    }
    return v;
  }
}
