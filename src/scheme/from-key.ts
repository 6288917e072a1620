/**
 * FROM_KEY (Metron's FromKeyDeserializer, metron-compat §1.6): the key is an 8-byte big-endian
 * unsigned time in the configured unit, the value the raw Ethernet frame. Unlike Metron, a key
 * that is not exactly 8 bytes is refused instead of being read as a smaller or truncated number,
 * and the unit conversion cannot wrap (the range check catches it).
 */
import { LINKTYPE_ETHERNET } from '../formats/pcap/pcap-record.js';
import {
  checkTimestamp,
  reject,
  type Scheme,
  type SchemeRecord,
  type TimestampRange,
  type TsGranularity,
} from './types.js';

const NS_PER_UNIT: Record<TsGranularity, bigint> = {
  MILLISECONDS: 1_000_000n,
  MICROSECONDS: 1_000n,
  NANOSECONDS: 1n,
};

/** Metron's exact message for a null key (FromKeyDeserializerTest, metron-compat §8.1). */
export const MISSING_KEY_MESSAGE = 'Expected a key but none provided';

const EMPTY = Buffer.alloc(0);

export function fromKeyScheme(granularity: TsGranularity, range: TimestampRange): Scheme {
  const factor = NS_PER_UNIT[granularity];
  // One record object per scheme, refilled for every accepted record (types.ts: Scheme).
  const accepted: SchemeRecord = {
    ok: true,
    tsNs: 0n,
    kind: 'frame',
    data: EMPTY,
    frameOffset: 0,
    frameLength: 0,
    linkType: LINKTYPE_ETHERNET,
  };
  return (key, value) => {
    if (key === null || key === undefined) return reject('missing-key', MISSING_KEY_MESSAGE);
    if (key.length !== 8)
      return reject('bad-key-length', `key has ${key.length} bytes, expected 8 (big-endian unsigned time)`);
    if (value === null || value === undefined || value.length === 0) {
      return reject('empty-value', value == null ? 'value is null' : 'value is empty');
    }
    // Read as two words: below 2^53 units (every real clock) one BigInt is made, not readBigUInt64BE's four.
    const high = key.readUInt32BE(0);
    const units = high < 0x200000 ? BigInt(high * 4294967296 + key.readUInt32BE(4)) : key.readBigUInt64BE(0);
    const tsNs = factor === 1n ? units : units * factor;
    const bad = checkTimestamp(tsNs, range);
    if (bad) return bad;
    accepted.tsNs = tsNs;
    accepted.data = value;
    accepted.frameLength = value.length;
    return accepted;
  };
}
