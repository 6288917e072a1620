/**
 * The scheme: one Kafka record → one timestamped pcap record (or a typed rejection).
 *
 *   const scheme = createScheme('FROM_KEY', 'MICROSECONDS');
 *   const r = scheme(message.key, message.value);
 *   if (!r.ok) count(r.reason); else index(appendToSequenceFile(writer, r), recordLengthOf(r), ...);
 */
import { recordLengthForFrame, recordLengthForValue } from '../formats/sequencefile/format.js';
import type { SequenceFileWriter } from '../formats/sequencefile/writer.js';
import { fromKeyScheme } from './from-key.js';
import { fromValueScheme } from './from-value.js';
import {
  DEFAULT_TIMESTAMP_RANGE,
  type Scheme,
  type SchemeRecord,
  type TimestampRange,
  type TsGranularity,
  type TsScheme,
} from './types.js';

export * from './types.js';
export { MISSING_KEY_MESSAGE } from './from-key.js';

/** Case-insensitive; FROM_PACKET (Metron's name) → FROM_VALUE; null for anything else (a config error, unlike Metron's silent fallback). */
export function parseTsScheme(name: string): TsScheme | null {
  const n = name.trim().toUpperCase();
  if (n === 'FROM_KEY') return 'FROM_KEY';
  if (n === 'FROM_VALUE' || n === 'FROM_PACKET') return 'FROM_VALUE';
  return null;
}

/** Case-insensitive, as Metron's TimestampConverters; null for an unknown unit. */
export function parseTsGranularity(name: string): TsGranularity | null {
  const n = name.trim().toUpperCase();
  return n === 'MILLISECONDS' || n === 'MICROSECONDS' || n === 'NANOSECONDS' ? n : null;
}

/** Builds the record converter. The granularity applies to FROM_KEY only (FROM_VALUE reads the pcap header). */
export function createScheme(
  scheme: TsScheme,
  granularity: TsGranularity = 'MICROSECONDS',
  range: TimestampRange = DEFAULT_TIMESTAMP_RANGE,
): Scheme {
  return scheme === 'FROM_KEY' ? fromKeyScheme(granularity, range) : fromValueScheme(range);
}

/** Appends an accepted record with the right writer call; returns the record's file position. */
export function appendToSequenceFile(writer: SequenceFileWriter, rec: SchemeRecord): number {
  return rec.kind === 'frame' ? writer.appendFrame(rec.tsNs, rec.data) : writer.appendValue(rec.tsNs, rec.data);
}

/** Bytes the record occupies in the SequenceFile from its position (sync escapes excluded). */
export function recordLengthOf(rec: SchemeRecord): number {
  return rec.kind === 'frame' ? recordLengthForFrame(rec.data.length) : recordLengthForValue(rec.data.length);
}
