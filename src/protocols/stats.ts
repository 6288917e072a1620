/**
 * What the analyzer saw, dropped and why: every limit that sheds data has a counter here, so a
 * run that lost something says so (Packetbeat users asked for exactly this, elastic/beats#1368).
 */
export interface AnalyzerStats {
  packets: number;
  bytes: number;
  /** Frames the decoder could not read to the transport layer. */
  undecodable: number;
  /** Non-IP frames and IP protocols other than TCP/UDP/ICMP. */
  ignored: number;
  ipFragments: number;
  ipDatagramsReassembled: number;
  /** Fragments dropped: incomplete at timeout, over the per-datagram or total limit, overlapping inconsistently. */
  ipFragmentsDropped: number;
  tcpSegments: number;
  tcpConnections: number;
  tcpRetransmissions: number;
  tcpOverlapsTrimmed: number;
  tcpOutOfOrder: number;
  /** Gaps reported to plugins, and the bytes they stand for. */
  tcpGaps: number;
  tcpGapBytes: number;
  /** Connections whose plugin state was discarded after a gap (Packetbeat's dropped_because_of_gaps). */
  tcpDroppedBecauseOfGaps: number;
  /** Connections expired for idleness, and evicted because a table was full. */
  tcpConnectionsExpired: number;
  tcpConnectionsEvicted: number;
  /** Half-open (SYN only) entries evicted because their table was full. */
  tcpHalfOpenEvicted: number;
  udpDatagrams: number;
  icmpPackets: number;
  /** Payload that matched no plugin by port nor by content. */
  unclassified: number;
  /** Messages a plugin could not buffer (over max message size or over the memory budget). */
  messagesTooLarge: number;
  /** Payload a plugin could not parse (malformed or hostile). */
  parseErrors: number;
  /** Requests and responses reported without their counterpart. */
  unmatched: number;
  events: number;
}

export function createStats(): AnalyzerStats {
  return {
    packets: 0,
    bytes: 0,
    undecodable: 0,
    ignored: 0,
    ipFragments: 0,
    ipDatagramsReassembled: 0,
    ipFragmentsDropped: 0,
    tcpSegments: 0,
    tcpConnections: 0,
    tcpRetransmissions: 0,
    tcpOverlapsTrimmed: 0,
    tcpOutOfOrder: 0,
    tcpGaps: 0,
    tcpGapBytes: 0,
    tcpDroppedBecauseOfGaps: 0,
    tcpConnectionsExpired: 0,
    tcpConnectionsEvicted: 0,
    tcpHalfOpenEvicted: 0,
    udpDatagrams: 0,
    icmpPackets: 0,
    unclassified: 0,
    messagesTooLarge: 0,
    parseErrors: 0,
    unmatched: 0,
    events: 0,
  };
}
