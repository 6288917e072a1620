/**
 * The decoded view of one packet that filters, the inspector, and the index all use.
 * The decoder fills one reusable instance per stream (no per-packet allocation beyond the
 * address strings, which are produced lazily or cached by the decoder).
 *
 * All offsets below are absolute indexes into the buffer that was handed to the decoder
 * (`decodeFrame(buf, ...)` / `decodePcapValue(buf, ...)`), so a filter can look at raw bytes with
 * `buf[offset + i]` or `buf.indexOf(pattern, offset)` without any copy. -1 means "not present".
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

  // ---- additions (issue #3) ----
  /** Where the link-layer frame starts in the decoded buffer (its bytes are [frameOffset, frameOffset+length)). */
  frameOffset: number;
  /** orig_len from the pcap packet header (wire length); equals `length` when unknown. */
  origLength: number;
  /** Inner VLAN id of a QinQ (stacked) tag pair, -1 when there is at most one tag. */
  innerVlan: number;
  /** EtherType after any VLAN tags (0x0800, 0x86dd, 0x0806, ...), -1 when the link layer has none. */
  etherType: number;
  /** Offset of the IP header, -1 when not IP. The raw addresses sit at +12/+16 (IPv4) or +8/+24 (IPv6). */
  l3Offset: number;
  /** Offset of the transport (TCP/UDP/ICMP/ICMPv6) header, -1 when not decoded. */
  l4Offset: number;
  /** Offset and length of the transport payload (after the TCP/UDP/ICMP header), -1/0 when none. */
  payloadOffset: number;
  payloadLength: number;
  /** True for any IP fragment (first or later); `fragmentOffset` is the fragment's byte offset. */
  fragment: boolean;
  fragmentOffset: number;
  /** TCP flags byte (FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ...), -1 when not TCP. */
  tcpFlags: number;
  /** ICMP/ICMPv6 type and code, -1 when not ICMP. */
  icmpType: number;
  icmpCode: number;
}

/** A fresh PacketFields with every field in its "absent" state (one per stream, then reused). */
export function createPacketFields(): PacketFields {
  const out = {} as PacketFields;
  out.tsNs = 0n;
  resetPacketFields(out);
  return out;
}

/**
 * Puts every decoded field back to "absent". `tsNs` is left alone: the caller owns the time
 * (it comes from a Kafka key, a SequenceFile key or a pcap header, not from the frame).
 * Assigning every property in the same order keeps one hidden class for all instances.
 */
export function resetPacketFields(out: PacketFields): void {
  out.linkType = -1;
  out.vlan = -1;
  out.ipVersion = 0;
  out.srcAddr = null;
  out.dstAddr = null;
  out.protocol = -1;
  out.srcPort = -1;
  out.dstPort = -1;
  out.length = 0;
  out.error = null;
  out.frameOffset = 0;
  out.origLength = 0;
  out.innerVlan = -1;
  out.etherType = -1;
  out.l3Offset = -1;
  out.l4Offset = -1;
  out.payloadOffset = -1;
  out.payloadLength = 0;
  out.fragment = false;
  out.fragmentOffset = 0;
  out.tcpFlags = -1;
  out.icmpType = -1;
  out.icmpCode = -1;
}
