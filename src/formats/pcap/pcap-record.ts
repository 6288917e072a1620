/**
 * The per-record pcap bytes Metron stores as each SequenceFile value (metron-compat §2.1): a complete
 * one-packet libpcap file = 24-byte global header + 16-byte packet header + frame, always
 * little-endian, microsecond magic, v2.4, snaplen 65535, linktype 1, orig_len = incl_len.
 * Also: parsing the global/packet headers of any pcap (µs or ns magic, either byte order).
 */

export const PCAP_GLOBAL_HEADER_LENGTH = 24;
export const PCAP_PACKET_HEADER_LENGTH = 16;
/** Global + packet header: what Metron prepends to every frame. */
export const METRON_HEADERS_LENGTH = 40;

/** The magic as a big-endian read of the first 4 bytes. */
export const MAGIC_US_BE = 0xa1b2c3d4; // µs, big-endian headers
export const MAGIC_US_LE = 0xd4c3b2a1; // µs, little-endian headers (Metron on x86)
export const MAGIC_NS_BE = 0xa1b23c4d; // ns, big-endian headers
export const MAGIC_NS_LE = 0x4d3cb2a1; // ns, little-endian headers
/** pcapng Section Header Block type: recognised only to say "not supported" clearly. */
export const MAGIC_PCAPNG = 0x0a0d0d0a;

export const LINKTYPE_ETHERNET = 1;

/** What the 4 magic bytes say about the rest of the file; null for an unknown magic. */
export interface PcapMagic {
  littleEndian: boolean;
  nanos: boolean;
}

/** Classifies the magic at `off` (needs 4 bytes). */
export function pcapMagicAt(buf: Uint8Array, off: number): PcapMagic | null {
  switch (readU32(buf, off, false)) {
    case MAGIC_US_LE:
      return US_LE;
    case MAGIC_US_BE:
      return US_BE;
    case MAGIC_NS_LE:
      return NS_LE;
    case MAGIC_NS_BE:
      return NS_BE;
    default:
      return null;
  }
}
const US_LE: PcapMagic = Object.freeze({ littleEndian: true, nanos: false });
const US_BE: PcapMagic = Object.freeze({ littleEndian: false, nanos: false });
const NS_LE: PcapMagic = Object.freeze({ littleEndian: true, nanos: true });
const NS_BE: PcapMagic = Object.freeze({ littleEndian: false, nanos: true });

/** Reads a uint32 in the file's byte order. */
export function readU32(buf: Uint8Array, off: number, littleEndian: boolean): number {
  return littleEndian
    ? (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0
    : ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

export function readU16(buf: Uint8Array, off: number, littleEndian: boolean): number {
  return littleEndian ? buf[off] | (buf[off + 1] << 8) : (buf[off] << 8) | buf[off + 1];
}

/**
 * The constant global header Metron writes (LE µs, v2.4, zone 0, sigfigs 0, snaplen 65535,
 * linktype 1). Frozen by convention: it is shared and must never be written to.
 */
export const METRON_GLOBAL_HEADER: Buffer = pcapGlobalHeader(LINKTYPE_ETHERNET, 65535);

/**
 * A little-endian global header: µs (the format of every file we store and query) or, with
 * `nanos`, the ns magic (pcap-tail's `--time-stamp-precision nano`, as tcpdump writes it).
 */
export function pcapGlobalHeader(linkType: number, snaplen: number, nanos = false): Buffer {
  const b = Buffer.alloc(PCAP_GLOBAL_HEADER_LENGTH);
  b.writeUInt32LE(nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0); // stored LE → bytes d4 c3 b2 a1 (µs) or 4d 3c b2 a1 (ns)
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeInt32LE(0, 8);
  b.writeUInt32LE(0, 12);
  b.writeUInt32LE(snaplen >>> 0, 16);
  b.writeUInt32LE(linkType >>> 0, 20);
  return b;
}

/**
 * Writes a little-endian µs packet header at `off` exactly as Metron does: ts_us = tsNs / 1000
 * (unsigned), ts_sec = low 32 bits of ts_us / 1e6, ts_usec = ts_us % 1e6. Sub-µs digits are lost
 * (the SequenceFile key keeps them).
 */
export function writePcapPacketHeader(buf: Buffer, off: number, tsNs: bigint, inclLen: number, origLen: number): void {
  const t = BigInt.asUintN(64, tsNs);
  writePcapPacketHeaderWords(buf, off, Number(t >> 32n), Number(t & 0xffffffffn), inclLen, origLen);
}

/** 2^32, and the µs times below which the double arithmetic of the fast path is exact (year 2255). */
const TWO_32 = 4_294_967_296;
const FAST_US_HIGH_WORDS = 2 ** 21 - 1;

/**
 * The same with the time given as the high and low 32-bit words of the unsigned ns count (as the
 * SequenceFile key is written): no BigInt division per packet on the ingest hot path.
 */
export function writePcapPacketHeaderWords(
  buf: Buffer,
  off: number,
  nsHigh: number,
  nsLow: number,
  inclLen: number,
  origLen: number,
): void {
  // us = floor((nsHigh·2^32 + nsLow) / 1000) by long division on the two words: every intermediate
  // is an integer below 2^53, and a quotient by 1000 is never within rounding error of the next integer.
  const usHigh = Math.floor(nsHigh / 1000);
  const usLow = Math.floor(((nsHigh - usHigh * 1000) * TWO_32 + nsLow) / 1000);
  let sec: number;
  let usec: number;
  if (usHigh < FAST_US_HIGH_WORDS) {
    const u = usHigh * TWO_32 + usLow;
    usec = u % 1_000_000;
    sec = ((u - usec) / 1_000_000) % TWO_32;
  } else {
    const us = (BigInt(nsHigh) * 0x1_0000_0000n + BigInt(nsLow)) / 1000n;
    sec = Number(BigInt.asUintN(32, us / 1_000_000n));
    usec = Number(us % 1_000_000n);
  }
  buf.writeUInt32LE(sec, off);
  buf.writeUInt32LE(usec, off + 4);
  buf.writeUInt32LE(inclLen >>> 0, off + 8);
  buf.writeUInt32LE(origLen >>> 0, off + 12);
}

/**
 * Writes a little-endian ns packet header at `off` (for a file with the ns magic): ts_sec = low 32
 * bits of tsNs / 1e9, ts_nsec = tsNs % 1e9. Nothing is lost below the second.
 */
export function writePcapPacketHeaderNs(
  buf: Buffer,
  off: number,
  tsNs: bigint,
  inclLen: number,
  origLen: number,
): void {
  const ns = BigInt.asUintN(64, tsNs);
  buf.writeUInt32LE(Number(BigInt.asUintN(32, ns / 1_000_000_000n)), off);
  buf.writeUInt32LE(Number(ns % 1_000_000_000n), off + 4);
  buf.writeUInt32LE(inclLen >>> 0, off + 8);
  buf.writeUInt32LE(origLen >>> 0, off + 12);
}

/** Writes Metron's 40 header bytes for a frame of `frameLength` at `off`. */
export function writeMetronHeaders(buf: Buffer, off: number, tsNs: bigint, frameLength: number): void {
  buf.set(METRON_GLOBAL_HEADER, off); // Buffer#copy wraps its source in a new view first: one per packet
  writePcapPacketHeader(buf, off + PCAP_GLOBAL_HEADER_LENGTH, tsNs, frameLength, frameLength);
}

/** The same with the time as the words of the unsigned ns count (writePcapPacketHeaderWords). */
export function writeMetronHeadersWords(
  buf: Buffer,
  off: number,
  nsHigh: number,
  nsLow: number,
  frameLength: number,
): void {
  buf.set(METRON_GLOBAL_HEADER, off);
  writePcapPacketHeaderWords(buf, off + PCAP_GLOBAL_HEADER_LENGTH, nsHigh, nsLow, frameLength, frameLength);
}

/**
 * Metron's `PcapHelper.addHeaders(ts, frame, LITTLE)`: a fresh one-packet pcap. Used by tests and
 * tools; the ingest path never builds it (the SequenceFile writer emits headers and frame as
 * separate chunks).
 */
export function metronPcapValue(tsNs: bigint, frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(METRON_HEADERS_LENGTH + frame.length);
  writeMetronHeaders(out, 0, tsNs, frame.length);
  out.set(frame, METRON_HEADERS_LENGTH);
  return out;
}

/** The first packet of a one-packet pcap (a SequenceFile value), as parsed by `parsePcapValue`. */
export interface PcapValueInfo {
  magic: PcapMagic;
  linkType: number;
  snaplen: number;
  versionMajor: number;
  versionMinor: number;
  tsNs: bigint;
  /** Raw ts_sec and fractional part (µs or ns per the magic). */
  tsSec: number;
  tsFrac: number;
  inclLen: number;
  origLen: number;
  /** Where the frame starts (absolute index into the buffer) and how many of its bytes are present. */
  frameOffset: number;
  /** Bytes after the first packet (another packet, or garbage); 0 for a well-formed Metron value. */
  trailing: number;
}

export type PcapValueProblem =
  | { problem: 'truncated-pcap'; detail: string }
  | { problem: 'bad-pcap-magic'; detail: string }
  | { problem: 'inconsistent-pcap'; detail: string };

/**
 * Parses the global header and the first packet header of a one-packet pcap held in
 * buf[off, off+len). Never throws: a problem is returned as a value the caller maps to its own
 * rejection/error type. Checks what makes the time and the frame bounds trustworthy: the magic,
 * major version 2, the fractional part below one second, incl_len within the value and not above
 * orig_len.
 */
export function parsePcapValue(buf: Uint8Array, off = 0, len = buf.length - off): PcapValueInfo | PcapValueProblem {
  if (len < PCAP_GLOBAL_HEADER_LENGTH) {
    return { problem: 'truncated-pcap', detail: `${len} bytes, shorter than the 24-byte pcap global header` };
  }
  const magic = pcapMagicAt(buf, off);
  if (magic === null) {
    const hex = Buffer.from(buf.buffer, buf.byteOffset + off, 4).toString('hex');
    const what = readU32(buf, off, false) === MAGIC_PCAPNG ? 'pcapng is not supported' : 'not a pcap magic';
    return { problem: 'bad-pcap-magic', detail: `magic ${hex}: ${what}` };
  }
  const le = magic.littleEndian;
  const versionMajor = readU16(buf, off + 4, le);
  const versionMinor = readU16(buf, off + 6, le);
  if (versionMajor !== 2) {
    return { problem: 'inconsistent-pcap', detail: `pcap version ${versionMajor}.${versionMinor}, expected 2.x` };
  }
  if (len < METRON_HEADERS_LENGTH) {
    return { problem: 'truncated-pcap', detail: `${len} bytes, shorter than the 40 bytes of pcap headers` };
  }
  const snaplen = readU32(buf, off + 16, le);
  const linkType = readU32(buf, off + 20, le);
  const p = off + PCAP_GLOBAL_HEADER_LENGTH;
  const tsSec = readU32(buf, p, le);
  const tsFrac = readU32(buf, p + 4, le);
  const inclLen = readU32(buf, p + 8, le);
  const origLen = readU32(buf, p + 12, le);
  if (tsFrac >= (magic.nanos ? 1_000_000_000 : 1_000_000)) {
    return { problem: 'inconsistent-pcap', detail: `fractional timestamp ${tsFrac} is not below one second` };
  }
  const avail = len - METRON_HEADERS_LENGTH;
  if (inclLen > avail) {
    return { problem: 'truncated-pcap', detail: `incl_len ${inclLen} but only ${avail} frame bytes present` };
  }
  if (origLen < inclLen) {
    return { problem: 'inconsistent-pcap', detail: `orig_len ${origLen} below incl_len ${inclLen}` };
  }
  const tsNs = BigInt(tsSec) * 1_000_000_000n + BigInt(magic.nanos ? tsFrac : tsFrac * 1000);
  return {
    magic,
    linkType,
    snaplen,
    versionMajor,
    versionMinor,
    tsNs,
    tsSec,
    tsFrac,
    inclLen,
    origLen,
    frameOffset: p + PCAP_PACKET_HEADER_LENGTH,
    trailing: avail - inclLen,
  };
}

export const isPcapValueProblem = (r: PcapValueInfo | PcapValueProblem): r is PcapValueProblem => 'problem' in r;

/**
 * Time of the first packet header of a pcap value in ns, or null when it cannot be read. Cheap
 * (no object): used where only the time is needed (IntWritable-keyed files, sorting).
 */
export function pcapValueTimeNs(buf: Uint8Array, off = 0, len = buf.length - off): bigint | null {
  if (len < METRON_HEADERS_LENGTH) return null;
  const magic = pcapMagicAt(buf, off);
  if (magic === null) return null;
  const sec = readU32(buf, off + 24, magic.littleEndian);
  const frac = readU32(buf, off + 28, magic.littleEndian);
  if (frac >= (magic.nanos ? 1_000_000_000 : 1_000_000)) return null; // not a time: damaged header
  return BigInt(sec) * 1_000_000_000n + BigInt(magic.nanos ? frac : frac * 1000);
}

/**
 * Metron's PcapPackerComparator (metron-compat §8.5): orders two pcap values by the (ts_sec, ts_frac) of their
 * first packet header, compared as unsigned numbers (the old int-overflow comparator got the
 * 20-year case wrong). Unreadable values sort first.
 */
export function comparePcapValues(a: Uint8Array, b: Uint8Array): number {
  const ta = pcapValueTimeNs(a);
  const tb = pcapValueTimeNs(b);
  if (ta === null || tb === null) return ta === tb ? 0 : ta === null ? -1 : 1;
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}
