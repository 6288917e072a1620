/**
 * A stored record's one-packet pcap, read once: the headers are parsed into a caller-owned struct
 * (no object, no bigint per packet) and the frame decoded straight from them when the filter needs
 * fields, instead of parsing the same 40 bytes twice (parsePcapValue, then decodePcapValue).
 */
import { pcapMagicAt, readU16, readU32 } from '../../formats/pcap/pcap-record.js';
import { decodeFrame } from '../../packet/decode.js';
import type { PacketFields } from '../../packet/packet-fields.js';

export interface PcapHeader {
  linkType: number;
  inclLen: number;
  origLen: number;
  /** Where the frame starts in the value. */
  frameOffset: number;
}

export const createPcapHeader = (): PcapHeader => ({ linkType: 0, inclLen: 0, origLen: 0, frameOffset: 0 });

/**
 * Fills `out` from a one-packet pcap value; false when the value is damaged (bad magic or
 * version, truncated, incl_len beyond the bytes, orig_len below incl_len).
 */
export function readPcapHeader(value: Uint8Array, out: PcapHeader): boolean {
  if (value.length < 40) return false;
  const magic = pcapMagicAt(value, 0);
  if (magic === null) return false;
  const le = magic.littleEndian;
  if (readU16(value, 4, le) !== 2) return false;
  if (readU32(value, 28, le) >= (magic.nanos ? 1_000_000_000 : 1_000_000)) return false;
  const incl = readU32(value, 32, le);
  const orig = readU32(value, 36, le);
  if (incl > value.length - 40 || orig < incl) return false;
  out.linkType = readU32(value, 20, le);
  out.inclLen = incl;
  out.origLen = orig;
  out.frameOffset = 40;
  return true;
}

/** Decodes the frame described by `h` into `fields` (time from the caller: the record's ns key). */
export function decodeWithHeader(value: Uint8Array, h: PcapHeader, tsNs: bigint, fields: PacketFields): void {
  decodeFrame(value, h.frameOffset, h.inclLen, h.linkType, fields);
  fields.tsNs = tsNs;
  fields.origLength = h.origLen;
}
