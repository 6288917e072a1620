/**
 * What the query engine needs from a compiled filter (fixed `-sa…-pf` or expression `-q`), and the
 * shape of an index entry the filter can pre-check before any packet bytes are read.
 */
import type { PacketFields } from '../../packet/packet-fields.js';
import type { IndexEntry } from '../../formats/index/packet-index-format.js';

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
  /** Human-readable form, for logs and the summary line. */
  readonly description: string;
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
