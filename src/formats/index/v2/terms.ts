/**
 * Terms of the v2 index: the values a posting list is keyed by. A field is either numeric (`int`:
 * ports, protocol, VLAN, the flow hash; -1 means "absent") or bytes (`addr`: 4 or 16 address bytes,
 * empty when the packet has no IP addresses). The term set is open: a field is a name and a kind, so
 * later fields (DNS names, TLS server names) add dictionaries without a format change.
 */
import { parseIpv4 } from '../../../packet/ip-text.js';

export type TermKind = 'int' | 'addr';
export type Term = number | Uint8Array;

export const TERM_KIND_CODE: Record<TermKind, number> = { int: 0, addr: 1 };
export const TERM_KIND_OF_CODE: readonly TermKind[] = ['int', 'addr'];

/** The term fields every v2 index holds, with their kinds. */
export const V2_FIELDS: readonly { name: string; kind: TermKind }[] = [
  { name: 'src', kind: 'addr' },
  { name: 'dst', kind: 'addr' },
  { name: 'srcPort', kind: 'int' },
  { name: 'dstPort', kind: 'int' },
  { name: 'protocol', kind: 'int' },
  { name: 'vlan', kind: 'int' },
  { name: 'flow', kind: 'int' },
];

/** Byte terms order by length first (absent, then IPv4, then IPv6), then bytewise. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return compareBytesAt(a, 0, a.length, b);
}

/** compareBytes of `data[at, at + n)` against `b`, without making a view of it (dictionary scans). */
export function compareBytesAt(data: Uint8Array, at: number, n: number, b: Uint8Array): number {
  if (n !== b.length) return n - b.length;
  for (let i = 0; i < n; i++) if (data[at + i] !== b[i]) return data[at + i] - b[i];
  return 0;
}

export function compareTerms(kind: TermKind, a: Term, b: Term): number {
  return kind === 'int' ? (a as number) - (b as number) : compareBytes(a as Uint8Array, b as Uint8Array);
}

const EMPTY = new Uint8Array(0);

/** Address text (dotted quad or IPv6) → 4 or 16 bytes; empty for null or unparsable text. */
export function addressTextToBytes(text: string | null): Uint8Array {
  if (text === null) return EMPTY;
  if (text.includes(':')) return parseIpv6Bytes(text) ?? EMPTY;
  return parseIpv4(text) ?? EMPTY;
}

function parseIpv6Bytes(text: string): Uint8Array | null {
  let s = text;
  const out = new Uint8Array(16);
  // An IPv4 tail (::ffff:1.2.3.4) becomes its two words.
  const lastColon = s.lastIndexOf(':');
  let tail: Uint8Array | null = null;
  if (s.indexOf('.', lastColon) > 0) {
    tail = parseIpv4(s.slice(lastColon + 1));
    if (!tail) return null;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const rest = halves.length === 2 ? (halves[1] === '' ? [] : halves[1].split(':')) : [];
  const words = halves.length === 2 ? [...head, ...Array(8 - head.length - rest.length).fill('0'), ...rest] : head;
  if (words.length !== 8) return null;
  for (let k = 0; k < 8; k++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(words[k])) return null;
    const v = Number.parseInt(words[k], 16);
    out[2 * k] = v >> 8;
    out[2 * k + 1] = v & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/** 32-bit FNV-1a of bytes (stable across files and processes: flow terms and sketches use it). */
export function fnv1a(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const mix32 = (h: number, v: number): number => {
  let x = (h ^ (v >>> 0)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
};

/**
 * The flow term of a packet: a 52-bit hash of (protocol, the two endpoints in a fixed order), the
 * same for both directions, or -1 when the packet has no IP addresses. A flow lookup yields
 * candidates only (hashes can collide): they are always checked against the other terms or the
 * packet itself.
 */
export function flowTerm(
  protocol: number,
  srcAddr: Uint8Array,
  srcHash: number,
  srcPort: number,
  dstAddr: Uint8Array,
  dstHash: number,
  dstPort: number,
): number {
  if (protocol < 0 || srcAddr.length === 0 || dstAddr.length === 0) return -1;
  const c = compareBytes(srcAddr, dstAddr);
  const swap = c > 0 || (c === 0 && srcPort > dstPort);
  const ha = swap ? dstHash : srcHash;
  const hb = swap ? srcHash : dstHash;
  const pa = (swap ? dstPort : srcPort) & 0x1ffff;
  const pb = (swap ? srcPort : dstPort) & 0x1ffff;
  let h1 = mix32(0x9e3779b9, protocol);
  h1 = mix32(h1, ha);
  h1 = mix32(h1, pa);
  h1 = mix32(h1, hb);
  h1 = mix32(h1, pb);
  let h2 = mix32(0x7f4a7c15, hb);
  h2 = mix32(h2, pb ^ (protocol << 17));
  h2 = mix32(h2, ha);
  h2 = mix32(h2, pa);
  return (h2 & 0xfffff) * 2 ** 32 + h1;
}
