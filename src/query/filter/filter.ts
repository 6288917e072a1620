/**
 * What the query engine needs from a compiled filter (fixed `-sa…-pf` or expression `-q`), and the
 * shape of an index entry the filter can pre-check before any packet bytes are read.
 */
import type { PacketFields } from '../../packet/packet-fields.js';
import type { IndexEntry } from '../../formats/index/packet-index-format.js';
import { addressTextToBytes, type Term } from '../../formats/index/v2/terms.js';

/**
 * The 5-tuple and time of one packet as an index entry holds them. Field names match PacketFields,
 * so a decoded PacketFields is itself a FlowKey. Addresses may be text (dotted quad / RFC 5952) or
 * raw network-order bytes (4 or 16); both are understood without conversion by the fixed filter.
 */
export interface FlowKey {
  tsNs: bigint;
  /** IP protocol number, -1 when not IP. */
  protocol: number;
  srcAddr: string | Uint8Array | null;
  dstAddr: string | Uint8Array | null;
  /** -1 when absent (not TCP/UDP, or a non-first fragment). */
  srcPort: number;
  dstPort: number;
  /** Outer VLAN id, -1 when untagged. */
  vlan: number;
}

/**
 * The flow part of an index entry (src/formats/packet-index.ts): addresses are ids into the file's
 * address table (-1 when the packet has no IP addresses).
 */
export type IndexedFlow = Omit<IndexEntry, 'pos' | 'len'>;

export interface PacketFilter {
  readonly kind: 'fixed' | 'query';
  /** True when the filter accepts every packet (no fields, or an empty query): skip evaluation. */
  readonly matchesAll: boolean;
  /**
   * The full test. `frame` holds the link-layer frame in [frameStart, frameEnd) (the pcap record
   * headers are not part of it). Allocation-free for fixed filters and for expressions that only
   * use header fields.
   */
  readonly test: (p: PacketFields, frame: Buffer, frameStart: number, frameEnd: number) => boolean;
  /**
   * A pre-check on an index entry: false means the packet certainly does not match, so it need not
   * be read. Null when the filter says nothing about FlowKey fields (every entry may match).
   */
  readonly indexPredicate: ((k: FlowKey) => boolean) | null;
  /**
   * indexPredicate bound to one index file's address table, for entries that hold address ids.
   * Call once per index file (address matching is done once per table entry, not per packet).
   * Null exactly when indexPredicate is null.
   */
  readonly forAddressTable: ((addresses: readonly string[]) => (e: IndexedFlow) => boolean) | null;
  /**
   * True when indexPredicate decides alone (the filter uses nothing but FlowKey fields), so a packet
   * that passes it is a match without decoding it again.
   */
  readonly indexExact: boolean;
  /**
   * The filter over the inverted index's terms (index v2): which packets can match, decided from
   * term dictionaries and posting lists without reading packets. Null when the filter says nothing
   * about term fields (every packet may match).
   */
  readonly termPlan: TermPlan | null;
  /** Human-readable form, for logs and the summary line. */
  readonly description: string;
}

/** The term fields of the inverted index a filter can constrain (index v2, docs/design.md §5). */
export type TermField = 'src' | 'dst' | 'srcPort' | 'dstPort' | 'protocol' | 'vlan';

/**
 * Which terms of one field a filter accepts. Terms are what the index stores: numbers for ports,
 * protocol and VLAN (-1 when absent), 4 or 16 address bytes (empty when the packet has no IP).
 */
export interface TermMatch {
  /** Inclusive bounds of the accepted terms in the field's order, when known: only the dictionary
   * blocks in between are read. Omitted: the whole dictionary is read and `accepts` decides. */
  lo?: Term;
  hi?: Term;
  /** Exactly one accepted term (lets a one-flow query use the flow term). */
  only?: Term;
  accepts(term: Term): boolean;
}

/**
 * A filter as term-level logic. `unknown` is what the index cannot decide (packet bytes, length,
 * time, or comparisons between fields): those packets are candidates, checked after reading.
 */
export type TermPlan =
  | { op: 'all' }
  | { op: 'none' }
  | { op: 'unknown' }
  | { op: 'term'; field: TermField; match: TermMatch }
  | { op: 'and' | 'or'; parts: TermPlan[] }
  | { op: 'not'; part: TermPlan };

export const termAnd = (parts: TermPlan[]): TermPlan =>
  parts.length === 0 ? { op: 'all' } : parts.length === 1 ? parts[0] : { op: 'and', parts };
export const termOr = (parts: TermPlan[]): TermPlan =>
  parts.length === 0 ? { op: 'none' } : parts.length === 1 ? parts[0] : { op: 'or', parts };

/** An inclusive numeric range as a term match (ports, protocol, VLAN). */
export function numberRangeMatch(lo: number, hi: number): TermMatch {
  return { lo, hi, only: lo === hi ? lo : undefined, accepts: (t) => typeof t === 'number' && t >= lo && t <= hi };
}

/**
 * An address or CIDR block as a term match: `text` is the block's normalised form ('10.0.0.0/8',
 * '2001:db8::1'), `matches` the filter's own test on raw bytes.
 */
export function addressBlockMatch(text: string, matches: (bytes: Uint8Array) => boolean): TermMatch {
  const slash = text.indexOf('/');
  const base = addressTextToBytes(slash < 0 ? text : text.slice(0, slash));
  const accepts = (t: Term) => typeof t !== 'number' && t.length > 0 && matches(t);
  if (base.length === 0) return { accepts };
  const prefix = slash < 0 ? base.length * 8 : Number(text.slice(slash + 1));
  const lo = Uint8Array.from(base);
  const hi = Uint8Array.from(base);
  for (let bit = prefix; bit < base.length * 8; bit++) {
    lo[bit >> 3] &= ~(0x80 >> (bit & 7));
    hi[bit >> 3] |= 0x80 >> (bit & 7);
  }
  return { lo, hi, only: prefix === base.length * 8 ? lo : undefined, accepts };
}

/**
 * Generic forAddressTable: presents each entry as a FlowKey whose addresses come from the table
 * (no allocation per entry: the strings already exist in the table).
 */
export function bindAddressTable(
  pred: (k: FlowKey) => boolean,
  addresses: readonly string[],
): (e: IndexedFlow) => boolean {
  let current: IndexedFlow | null = null;
  // The time is read through (only when the predicate uses it: an entry's time may be a view that
  // allocates a bigint per read).
  const key: FlowKey = {
    get tsNs(): bigint {
      return current === null ? 0n : current.tsNs;
    },
    protocol: -1,
    srcAddr: null,
    dstAddr: null,
    srcPort: -1,
    dstPort: -1,
    vlan: -1,
  };
  return (e) => {
    current = e;
    key.protocol = e.protocol;
    key.srcAddr = e.src >= 0 && e.src < addresses.length ? addresses[e.src] : null;
    key.dstAddr = e.dst >= 0 && e.dst < addresses.length ? addresses[e.dst] : null;
    key.srcPort = e.srcPort;
    key.dstPort = e.dstPort;
    key.vlan = e.vlan;
    return pred(key);
  };
}
