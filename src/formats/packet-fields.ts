/**
 * The decoded view of one packet that filters, the inspector, and the index all use.
 * The decoder fills one reusable instance per stream (no per-packet allocation beyond the
 * address strings, which are produced lazily or cached by the decoder).
 */
export interface PacketFields {
  /** Packet time in nanoseconds since the epoch. */
  tsNs: bigint;
  /** Link type of the frame (1 Ethernet, 101 raw IP, 113 Linux cooked). */
  linkType: number;
  /** Outermost 802.1Q/802.1ad VLAN id, or -1 when untagged. */
  vlan: number;
  /** 4 or 6 for IP packets, 0 otherwise. */
  ipVersion: 0 | 4 | 6;
  /** Dotted quad or RFC 5952 IPv6 text; null when the packet is not IP. */
  srcAddr: string | null;
  dstAddr: string | null;
  /** IP protocol number (upper-layer protocol after IPv6 extension headers), -1 when not IP. */
  protocol: number;
  /** TCP/UDP ports, -1 when absent (non-TCP/UDP, or a non-first IPv4/IPv6 fragment). */
  srcPort: number;
  dstPort: number;
  /** Captured length of the frame (incl_len). */
  length: number;
  /** Why decoding stopped early (e.g. 'truncated ipv4 header'), or null when the packet decoded fully. */
  error: string | null;
}
