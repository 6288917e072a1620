/**
 * Packet decoding for filters, the inspector and the index: link layer (Ethernet with 802.1Q /
 * 802.1ad / QinQ tags, raw IP, Linux cooked v1/v2, BSD loopback), IPv4 (fragments: transport
 * header only in the first), IPv6 with its extension-header chain, then TCP/UDP ports and
 * ICMP/ICMPv6 type/code.
 *
 * This is the query's hot path, so it fills a caller-owned PacketFields in place, reads bytes by
 * index (no slices, no DataView, no per-packet objects; address strings come from a cache) and
 * never throws: every read is bounds-checked, and on short or garbage input it records why in
 * `out.error` and keeps whatever it decoded before that point.
 */
import { ipv4Text, ipv6Text } from './ip-text.js';
import { resetPacketFields, type PacketFields } from './packet-fields.js';
import {
  LINKTYPE_ETHERNET,
  METRON_HEADERS_LENGTH,
  PCAP_GLOBAL_HEADER_LENGTH,
  pcapMagicAt,
  readU32,
} from '../formats/pcap/pcap-record.js';

export { LINKTYPE_ETHERNET };
export const LINKTYPE_NULL = 0;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
/** DLT_RAW values some systems write into pcap files instead of 101. */
const DLT_RAW_ALT1 = 12;
const DLT_RAW_ALT2 = 14;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
const TPID_8021Q = 0x8100;
const TPID_8021AD = 0x88a8;
const TPID_QINQ_OLD = 0x9100;
const MAX_VLAN_TAGS = 8;
const MAX_IPV6_EXT_HEADERS = 16;

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

/** Link types decodeFrame understands. */
export const SUPPORTED_LINK_TYPES: readonly number[] = [
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  DLT_RAW_ALT1,
  DLT_RAW_ALT2,
  LINKTYPE_RAW,
  LINKTYPE_LOOP,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL2,
];

const u16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];

/**
 * Decodes the frame at buf[offset, offset+length) captured with `linkType`. Resets every field of
 * `out` except `tsNs` (the caller owns the time) and returns true when the packet decoded without
 * error. `length` and `origLength` are set to `length`; offsets in `out` index into `buf`.
 */
export function decodeFrame(
  buf: Uint8Array,
  offset: number,
  length: number,
  linkType: number,
  out: PacketFields,
): boolean {
  resetPacketFields(out);
  out.linkType = linkType;
  out.frameOffset = offset;
  out.length = length;
  out.origLength = length;
  if (!(offset >= 0 && length >= 0) || offset > buf.length) {
    out.error = 'frame outside the buffer';
    return false;
  }
  let end = offset + length;
  let cut = false;
  if (end > buf.length) {
    end = buf.length;
    cut = true;
  }
  decodeLink(buf, offset, end, linkType, out);
  if (cut && out.error === null) out.error = 'frame cut short by the end of the buffer';
  return out.error === null;
}

/**
 * Decodes a one-packet pcap (a SequenceFile value) held in buf[offset, offset+length): any magic
 * and byte order, the frame decoded with the file's link type. Sets `tsNs` from the packet header
 * when the headers are readable (callers holding a ns-precise SequenceFile key set tsNs after
 * this call), `length`/`origLength` from incl_len/orig_len and `frameOffset` to the frame's start,
 * so the frame's raw bytes are buf[frameOffset, frameOffset+length).
 */
export function decodePcapValue(buf: Uint8Array, out: PacketFields, offset = 0, length = buf.length - offset): boolean {
  if (offset < 0 || length < 0 || offset + length > buf.length) {
    resetPacketFields(out);
    out.error = 'pcap value outside the buffer';
    return false;
  }
  if (length < PCAP_GLOBAL_HEADER_LENGTH) {
    resetPacketFields(out);
    out.error = 'truncated pcap global header';
    return false;
  }
  const magic = pcapMagicAt(buf, offset);
  if (magic === null) {
    resetPacketFields(out);
    out.error = 'bad pcap magic';
    return false;
  }
  const le = magic.littleEndian;
  const linkType = readU32(buf, offset + 20, le);
  if (length < METRON_HEADERS_LENGTH) {
    resetPacketFields(out);
    out.linkType = linkType;
    out.error = 'truncated pcap packet header';
    return false;
  }
  const h = offset + PCAP_GLOBAL_HEADER_LENGTH;
  const sec = readU32(buf, h, le);
  const frac = readU32(buf, h + 4, le);
  const incl = readU32(buf, h + 8, le);
  const orig = readU32(buf, h + 12, le);
  const avail = length - METRON_HEADERS_LENGTH;
  const captured = Math.min(incl, avail);
  decodeFrame(buf, h + 16, captured, linkType, out);
  out.tsNs = BigInt(sec) * 1_000_000_000n + BigInt(magic.nanos ? frac : frac * 1000);
  out.origLength = orig;
  if (incl > avail && out.error === null) out.error = 'pcap value shorter than incl_len';
  return out.error === null;
}

function decodeLink(buf: Uint8Array, p: number, end: number, linkType: number, out: PacketFields): void {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      if (end - p < 14) {
        out.error = 'truncated ethernet header';
        return;
      }
      decodeEtherType(buf, p + 14, end, u16(buf, p + 12), out);
      return;
    case LINKTYPE_RAW:
    case DLT_RAW_ALT1:
    case DLT_RAW_ALT2:
      decodeRawIp(buf, p, end, out);
      return;
    case LINKTYPE_IPV4:
      decodeIpv4(buf, p, end, out);
      return;
    case LINKTYPE_IPV6:
      decodeIpv6(buf, p, end, out);
      return;
    case LINKTYPE_LINUX_SLL:
      // packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
      if (end - p < 16) {
        out.error = 'truncated linux cooked header';
        return;
      }
      decodeEtherType(buf, p + 16, end, u16(buf, p + 14), out);
      return;
    case LINKTYPE_LINUX_SLL2:
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) address length(1) address(8)
      if (end - p < 20) {
        out.error = 'truncated linux cooked v2 header';
        return;
      }
      decodeEtherType(buf, p + 20, end, u16(buf, p), out);
      return;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      // A 4-byte address family: host order for NULL, network order for LOOP. AF_INET is 2
      // everywhere; AF_INET6 is 24, 28 or 30 depending on the BSD.
      if (end - p < 4) {
        out.error = 'truncated loopback header';
        return;
      }
      const fam =
        linkType === LINKTYPE_LOOP || (buf[p] === 0 && buf[p + 1] === 0) ? u16(buf, p + 2) : buf[p] | (buf[p + 1] << 8);
      if (fam === 2) {
        out.etherType = ETHERTYPE_IPV4;
        decodeIpv4(buf, p + 4, end, out);
      } else if (fam === 24 || fam === 28 || fam === 30) {
        out.etherType = ETHERTYPE_IPV6;
        decodeIpv6(buf, p + 4, end, out);
      }
      return;
    }
    default:
      out.error = 'unsupported link type';
  }
}

function decodeRawIp(buf: Uint8Array, p: number, end: number, out: PacketFields): void {
  if (end - p < 1) {
    out.error = 'empty raw ip packet';
    return;
  }
  const v = buf[p] >> 4;
  if (v === 4) {
    out.etherType = ETHERTYPE_IPV4;
    decodeIpv4(buf, p, end, out);
  } else if (v === 6) {
    out.etherType = ETHERTYPE_IPV6;
    decodeIpv6(buf, p, end, out);
  } else out.error = 'raw packet is not ip';
}

/** Skips 802.1Q/802.1ad tags (recording the outer and inner VLAN ids), then dispatches on the EtherType. */
function decodeEtherType(buf: Uint8Array, p: number, end: number, type: number, out: PacketFields): void {
  for (let tags = 0; type === TPID_8021Q || type === TPID_8021AD || type === TPID_QINQ_OLD; tags++) {
    if (tags === MAX_VLAN_TAGS) {
      out.error = 'too many vlan tags';
      return;
    }
    if (end - p < 4) {
      out.error = 'truncated vlan tag';
      return;
    }
    const vid = u16(buf, p) & 0x0fff;
    if (out.vlan === -1) out.vlan = vid;
    else if (out.innerVlan === -1) out.innerVlan = vid;
    type = u16(buf, p + 2);
    p += 4;
  }
  out.etherType = type;
  if (type === ETHERTYPE_IPV4) decodeIpv4(buf, p, end, out);
  else if (type === ETHERTYPE_IPV6) decodeIpv6(buf, p, end, out);
  // Anything else (ARP, LLDP, 802.3 length field, ...) is a valid non-IP frame: no error.
}

function decodeIpv4(buf: Uint8Array, p: number, end: number, out: PacketFields): void {
  if (end - p < 20) {
    out.error = 'truncated ipv4 header';
    return;
  }
  const vihl = buf[p];
  if (vihl >> 4 !== 4) {
    out.error = 'bad ipv4 version';
    return;
  }
  out.ipVersion = 4;
  out.l3Offset = p;
  out.srcAddr = ipv4Text(buf, p + 12);
  out.dstAddr = ipv4Text(buf, p + 16);
  const proto = buf[p + 9];
  out.protocol = proto;
  const ihl = (vihl & 15) * 4;
  if (ihl < 20) {
    out.error = 'bad ipv4 header length';
    return;
  }
  const frag = u16(buf, p + 6);
  const fragOffset = (frag & 0x1fff) * 8;
  if ((frag & 0x2000) !== 0 || fragOffset !== 0) {
    out.fragment = true;
    out.fragmentOffset = fragOffset;
  }
  if (p + ihl > end) {
    out.error = 'truncated ipv4 options';
    return;
  }
  // Trim Ethernet padding: the datagram ends at total length when that lies inside the capture.
  const total = u16(buf, p + 2);
  const ipEnd = total >= ihl && p + total < end ? p + total : end;
  if (fragOffset !== 0) return; // a later fragment carries no transport header
  decodeTransport(buf, p + ihl, ipEnd, proto, out);
}

function decodeIpv6(buf: Uint8Array, p: number, end: number, out: PacketFields): void {
  if (end - p < 40) {
    out.error = 'truncated ipv6 header';
    return;
  }
  if (buf[p] >> 4 !== 6) {
    out.error = 'bad ipv6 version';
    return;
  }
  out.ipVersion = 6;
  out.l3Offset = p;
  out.srcAddr = ipv6Text(buf, p + 8);
  out.dstAddr = ipv6Text(buf, p + 24);
  const payload = u16(buf, p + 4);
  // Payload length 0 is a jumbogram (or TSO capture): then the capture decides where it ends.
  const ipEnd = payload > 0 && p + 40 + payload < end ? p + 40 + payload : end;
  let next = buf[p + 6];
  let q = p + 40;
  for (let n = 0; n < MAX_IPV6_EXT_HEADERS; n++) {
    let len: number;
    switch (next) {
      case 0: // hop-by-hop options
      case 43: // routing
      case 60: // destination options
        if (ipEnd - q < 2) {
          truncatedExt(out, next);
          return;
        }
        len = (buf[q + 1] + 1) * 8;
        break;
      case 51: // authentication header: length in 4-byte units, minus 2
        if (ipEnd - q < 2) {
          truncatedExt(out, next);
          return;
        }
        len = (buf[q + 1] + 2) * 4;
        break;
      case 44: {
        // fragment header: next(1) reserved(1) offset<<3|flags(2) id(4)
        if (ipEnd - q < 8) {
          truncatedExt(out, next);
          return;
        }
        const fragOffset = u16(buf, q + 2) & 0xfff8;
        out.fragment = true;
        out.fragmentOffset = fragOffset;
        next = buf[q];
        q += 8;
        if (fragOffset !== 0) {
          out.protocol = next; // the upper layer, as in IPv4; its header is in the first fragment
          return;
        }
        continue;
      }
      default:
        out.protocol = next;
        decodeTransport(buf, q, ipEnd, next, out);
        return;
    }
    if (q + len > ipEnd) {
      truncatedExt(out, next);
      return;
    }
    next = buf[q];
    q += len;
  }
  out.protocol = next;
  out.error = 'too many ipv6 extension headers';
}

function truncatedExt(out: PacketFields, header: number): void {
  out.protocol = header;
  out.error = 'truncated ipv6 extension header';
}

function decodeTransport(buf: Uint8Array, p: number, end: number, proto: number, out: PacketFields): void {
  const avail = end - p;
  switch (proto) {
    case PROTO_TCP: {
      if (avail < 4) {
        out.error = 'truncated tcp header';
        return;
      }
      out.l4Offset = p;
      out.srcPort = u16(buf, p);
      out.dstPort = u16(buf, p + 2);
      if (avail < 20) {
        if (avail >= 14) out.tcpFlags = buf[p + 13];
        out.error = 'truncated tcp header';
        return;
      }
      out.tcpFlags = buf[p + 13];
      const doff = (buf[p + 12] >> 4) * 4;
      if (doff < 20) {
        out.error = 'bad tcp header length';
        return;
      }
      if (doff > avail) {
        out.error = 'truncated tcp options';
        return;
      }
      out.payloadOffset = p + doff;
      out.payloadLength = avail - doff;
      return;
    }
    case PROTO_UDP:
      if (avail < 8) {
        if (avail >= 4) {
          out.l4Offset = p;
          out.srcPort = u16(buf, p);
          out.dstPort = u16(buf, p + 2);
        }
        out.error = 'truncated udp header';
        return;
      }
      out.l4Offset = p;
      out.srcPort = u16(buf, p);
      out.dstPort = u16(buf, p + 2);
      out.payloadOffset = p + 8;
      out.payloadLength = avail - 8;
      return;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
      // ICMP in IPv4 and ICMPv6 in IPv6 are the normal cases; the other pairing is nonsense
      // but harmless to read the same way.
      if (avail < 4) {
        out.error = proto === PROTO_ICMP ? 'truncated icmp header' : 'truncated icmpv6 header';
        return;
      }
      out.l4Offset = p;
      out.icmpType = buf[p];
      out.icmpCode = buf[p + 1];
      if (avail >= 8) {
        out.payloadOffset = p + 8;
        out.payloadLength = avail - 8;
      }
      return;
    default:
      return; // another upper layer: addresses and protocol are all we report
  }
}
