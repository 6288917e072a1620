/**
 * FROM_VALUE, Metron's FROM_PACKET (metron-compat §1.7): the value already is a one-packet pcap
 * (global header + packet header + frame); the key is ignored. The time comes from the packet
 * header per the magic (µs or ns, either byte order; Metron misread little-endian ns files, we do
 * not) and the value is stored unchanged. A value we cannot trust (too short, unknown magic,
 * lengths that do not add up, a second packet) is refused rather than stored.
 */
import { isPcapValueProblem, parsePcapValue } from '../formats/pcap/pcap-record.js';
import { checkTimestamp, reject, type Scheme, type SchemeRecord, type TimestampRange } from './types.js';

const EMPTY = Buffer.alloc(0);

export function fromValueScheme(range: TimestampRange): Scheme {
  // One record object per scheme, refilled for every accepted record (types.ts: Scheme).
  const accepted: SchemeRecord = {
    ok: true,
    tsNs: 0n,
    kind: 'pcap',
    data: EMPTY,
    frameOffset: 0,
    frameLength: 0,
    linkType: 0,
  };
  return (_key, value) => {
    if (value === null || value === undefined || value.length === 0) {
      return reject('empty-value', value == null ? 'value is null' : 'value is empty');
    }
    const info = parsePcapValue(value, 0, value.length);
    if (isPcapValueProblem(info)) return reject(info.problem, info.detail);
    if (info.trailing !== 0) {
      return reject(
        'inconsistent-pcap',
        `${info.trailing} bytes after the first packet; a record must hold exactly one packet`,
      );
    }
    const bad = checkTimestamp(info.tsNs, range);
    if (bad) return bad;
    accepted.tsNs = info.tsNs;
    accepted.data = value;
    accepted.frameOffset = info.frameOffset;
    accepted.frameLength = info.inclLen;
    // The upper bits of a pcap link type carry the FCS length flag (pcap-linktype(7)); decoders
    // need only the type, as src/formats/pcap/pcap-file.ts reads it.
    accepted.linkType = info.linkType & 0xffff;
    return accepted;
  };
}
