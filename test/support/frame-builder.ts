/**
 * Builds well-formed frames (Ethernet, VLAN tags, IPv4/IPv6 with extension headers, TCP/UDP/ICMP/
 * ICMPv6, correct lengths and checksums) for the synthetic capture generator and for tests. Frames
 * must be valid enough that tshark dissects them exactly as our decoder does.
 */

export interface VlanTag {
  /** 0x8100 (802.1Q), 0x88a8 (802.1ad) or 0x9100 (old QinQ). */
  tpid: number;
  vid: number;
  pcp?: number;
}

export type Ipv6ExtHeader =
  | { type: 0 | 60 | 43 /** extra 8-byte units beyond the first (padding) */; units?: number }
  | { type: 51 }
  | { type: 44; offset: number; more: boolean; id?: number };

export type IpSpec =
  | {
      version: 4;
      src: Uint8Array;
      dst: Uint8Array;
      ttl?: number;
      id?: number;
      /** Fragment offset in bytes (a multiple of 8); later fragments carry no transport header. */
      fragmentOffset?: number;
      moreFragments?: boolean;
      /** IPv4 options, padded to a multiple of 4 bytes. */
      options?: Uint8Array;
      tos?: number;
    }
  | {
      version: 6;
      src: Uint8Array;
      dst: Uint8Array;
      hopLimit?: number;
      ext?: Ipv6ExtHeader[];
    };

export type L4Spec =
  | { proto: 'tcp'; srcPort: number; dstPort: number; seq?: number; ack?: number; flags?: number; window?: number }
  | { proto: 'udp'; srcPort: number; dstPort: number }
  | { proto: 'icmp'; type: number; code: number; rest?: number }
  | { proto: 'icmpv6'; type: number; code: number; rest?: number }
  /** Any other protocol number: the payload follows the IP header(s) as is. */
  | { proto: 'raw'; number: number };

export interface FrameSpec {
  dstMac?: Uint8Array;
  srcMac?: Uint8Array;
  vlans?: VlanTag[];
  ip: IpSpec;
  l4: L4Spec;
  payload?: Uint8Array;
}

const DEFAULT_DST_MAC = Uint8Array.from([0x02, 0, 0, 0, 0, 0x02]);
const DEFAULT_SRC_MAC = Uint8Array.from([0x02, 0, 0, 0, 0, 0x01]);
const EMPTY = new Uint8Array(0);

const protoNumber = (l4: L4Spec): number =>
  l4.proto === 'tcp' ? 6 : l4.proto === 'udp' ? 17 : l4.proto === 'icmp' ? 1 : l4.proto === 'icmpv6' ? 58 : l4.number;

/** One's-complement sum of buf[from, to) added to `sum` (not folded). */
function sum16(buf: Uint8Array, from: number, to: number, sum = 0): number {
  let i = from;
  for (; i + 1 < to; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < to) sum += buf[i] << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Transport header + payload, with the checksum left at 0 (filled once the pseudo header is known). */
function buildL4(l4: L4Spec, payload: Uint8Array): { bytes: Buffer; checksumAt: number } {
  switch (l4.proto) {
    case 'tcp': {
      const b = Buffer.alloc(20 + payload.length);
      b.writeUInt16BE(l4.srcPort, 0);
      b.writeUInt16BE(l4.dstPort, 2);
      b.writeUInt32BE((l4.seq ?? 1) >>> 0, 4);
      b.writeUInt32BE((l4.ack ?? 0) >>> 0, 8);
      b[12] = 5 << 4;
      b[13] = l4.flags ?? 0x18;
      b.writeUInt16BE(l4.window ?? 65535, 14);
      b.set(payload, 20);
      return { bytes: b, checksumAt: 16 };
    }
    case 'udp': {
      const b = Buffer.alloc(8 + payload.length);
      b.writeUInt16BE(l4.srcPort, 0);
      b.writeUInt16BE(l4.dstPort, 2);
      b.writeUInt16BE(8 + payload.length, 4);
      b.set(payload, 8);
      return { bytes: b, checksumAt: 6 };
    }
    case 'icmp':
    case 'icmpv6': {
      const b = Buffer.alloc(8 + payload.length);
      b[0] = l4.type;
      b[1] = l4.code;
      b.writeUInt32BE((l4.rest ?? 0) >>> 0, 4);
      b.set(payload, 8);
      return { bytes: b, checksumAt: 2 };
    }
    case 'raw':
      return { bytes: Buffer.from(payload), checksumAt: -1 };
  }
}

function buildIpv6Ext(ext: Ipv6ExtHeader[], finalNext: number): { bytes: Buffer; firstNext: number } {
  const parts: Buffer[] = [];
  for (let i = 0; i < ext.length; i++) {
    const h = ext[i];
    const next = i + 1 < ext.length ? ext[i + 1].type : finalNext;
    if (h.type === 44) {
      const b = Buffer.alloc(8);
      b[0] = next;
      b.writeUInt16BE((h.offset & 0xfff8) | (h.more ? 1 : 0), 2);
      b.writeUInt32BE((h.id ?? 0x12345678) >>> 0, 4);
      parts.push(b);
    } else if (h.type === 51) {
      // AH with a 96-bit ICV: 12 + 12 = 24 bytes, payload length field = 24/4 - 2 = 4.
      const b = Buffer.alloc(24);
      b[0] = next;
      b[1] = 4;
      b.writeUInt32BE(0x100, 4); // SPI
      b.writeUInt32BE(1, 8); // sequence
      parts.push(b);
    } else {
      const units = h.units ?? 0;
      const len = 8 * (units + 1);
      const b = Buffer.alloc(len);
      b[0] = next;
      b[1] = units;
      if (h.type === 43) {
        // Routing type 0 with segments left 0: a header to skip, nothing to route (tests only).
        b[2] = 0;
        b[3] = 0;
      } else {
        // PadN option filling the rest of the header.
        b[2] = 1;
        b[3] = len - 4;
      }
      parts.push(b);
    }
  }
  return { bytes: Buffer.concat(parts), firstNext: ext.length > 0 ? ext[0].type : finalNext };
}

/** The IP packet (no link layer). */
export function buildIpPacket(ip: IpSpec, l4: L4Spec, payload: Uint8Array = EMPTY): Buffer {
  const proto = protoNumber(l4);
  if (ip.version === 4) {
    const later = (ip.fragmentOffset ?? 0) > 0;
    const t = later ? { bytes: Buffer.from(payload), checksumAt: -1 } : buildL4(l4, payload);
    const opts = ip.options ?? EMPTY;
    const optLen = Math.ceil(opts.length / 4) * 4;
    const ihl = 20 + optLen;
    const b = Buffer.alloc(ihl + t.bytes.length);
    b[0] = 0x40 | (ihl / 4);
    b[1] = ip.tos ?? 0;
    b.writeUInt16BE(b.length, 2);
    b.writeUInt16BE(ip.id ?? 1, 4);
    b.writeUInt16BE(((ip.fragmentOffset ?? 0) / 8) | (ip.moreFragments ? 0x2000 : 0), 6);
    b[8] = ip.ttl ?? 64;
    b[9] = proto;
    b.set(ip.src, 12);
    b.set(ip.dst, 16);
    b.set(opts, 20);
    b.writeUInt16BE(fold(sum16(b, 0, ihl)), 10);
    b.set(t.bytes, ihl);
    if (t.checksumAt >= 0 && l4.proto !== 'icmpv6') {
      let s = 0;
      if (l4.proto !== 'icmp') {
        s = sum16(b, 12, 20, s) + proto + t.bytes.length; // pseudo header
      }
      s = sum16(b, ihl, b.length, s);
      let c = fold(s);
      if (c === 0 && l4.proto === 'udp') c = 0xffff;
      b.writeUInt16BE(c, ihl + t.checksumAt);
    }
    return b;
  }
  const ext = ip.ext ?? [];
  const later = ext.some((h) => h.type === 44 && h.offset > 0);
  const t = later ? { bytes: Buffer.from(payload), checksumAt: -1 } : buildL4(l4, payload);
  const e = buildIpv6Ext(ext, proto);
  const b = Buffer.alloc(40 + e.bytes.length + t.bytes.length);
  b.writeUInt32BE(0x60000000, 0);
  b.writeUInt16BE(e.bytes.length + t.bytes.length, 4);
  b[6] = e.firstNext;
  b[7] = ip.hopLimit ?? 64;
  b.set(ip.src, 8);
  b.set(ip.dst, 24);
  b.set(e.bytes, 40);
  const l4At = 40 + e.bytes.length;
  b.set(t.bytes, l4At);
  if (t.checksumAt >= 0 && l4.proto !== 'icmp') {
    let s = sum16(b, 8, 40) + proto + t.bytes.length; // pseudo header (length fits 16 bits here)
    s = sum16(b, l4At, b.length, s);
    let c = fold(s);
    if (c === 0 && l4.proto === 'udp') c = 0xffff;
    b.writeUInt16BE(c, l4At + t.checksumAt);
  }
  return b;
}

/** A complete Ethernet frame. */
export function buildFrame(spec: FrameSpec): Buffer {
  const ip = buildIpPacket(spec.ip, spec.l4, spec.payload ?? EMPTY);
  const vlans = spec.vlans ?? [];
  const b = Buffer.alloc(14 + 4 * vlans.length + ip.length);
  b.set(spec.dstMac ?? DEFAULT_DST_MAC, 0);
  b.set(spec.srcMac ?? DEFAULT_SRC_MAC, 6);
  let p = 12;
  for (const v of vlans) {
    b.writeUInt16BE(v.tpid, p);
    b.writeUInt16BE((((v.pcp ?? 0) & 7) << 13) | (v.vid & 0x0fff), p + 2);
    p += 4;
  }
  b.writeUInt16BE(spec.ip.version === 4 ? 0x0800 : 0x86dd, p);
  b.set(ip, p + 2);
  return b;
}

/** Bytes of headers a frame for `spec` has before its payload (to size payloads for a target frame length). */
export function frameOverhead(spec: Omit<FrameSpec, 'payload'>): number {
  return buildFrame({ ...spec, payload: EMPTY }).length;
}
