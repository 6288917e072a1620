/**
 * What the scheme turns a Kafka record into, and how it says no. A bad record is a value, never an
 * exception: ingest counts it, logs it (rate-limited), dead-letters it and moves on, so one poison
 * message can neither stop nor block its partition (Metron crash-looped on them, metron-compat §1.8).
 */

/** `kafka.pcap.ts_scheme`. Metron's FROM_PACKET is accepted as another name for FROM_VALUE. */
export type TsScheme = 'FROM_KEY' | 'FROM_VALUE';

/** `kafka.pcap.ts_granularity`: the unit of the FROM_KEY key. */
export type TsGranularity = 'MILLISECONDS' | 'MICROSECONDS' | 'NANOSECONDS';

export const REJECT_REASONS = [
  'missing-key',
  'bad-key-length',
  'empty-value',
  'truncated-pcap',
  'bad-pcap-magic',
  'inconsistent-pcap',
  'timestamp-out-of-range',
] as const;

/** Why a record was refused (a stable label for counters, logs and the dead-letter headers). */
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface SchemeRejection {
  ok: false;
  reason: RejectReason;
  /** Human-readable specifics (lengths, the magic, the time), for the log line. */
  detail: string;
}

/** A record ready for the SequenceFile writer and the index. */
export interface SchemeRecord {
  ok: true;
  /** Packet time, ns since the epoch: the SequenceFile key. */
  tsNs: bigint;
  /**
   * 'frame': `data` is the raw link-layer frame (FROM_KEY); the writer adds Metron's pcap headers
   * (SequenceFileWriter.appendFrame). 'pcap': `data` is the one-packet pcap from the value, stored
   * unchanged as Metron does (SequenceFileWriter.appendValue).
   */
  kind: 'frame' | 'pcap';
  data: Buffer;
  /** Where the frame sits inside `data` and its link type: decodeFrame(data, frameOffset, frameLength, linkType, fields). */
  frameOffset: number;
  frameLength: number;
  linkType: number;
}

export type SchemeResult = SchemeRecord | SchemeRejection;

/**
 * The part of a Kafka message the scheme looks at (kafkajs gives Buffer | null for both). An
 * accepted record is one object per scheme, refilled by every call (no allocation per record on
 * the ingest hot path): use it before calling the scheme again. Rejections are fresh objects.
 */
export type Scheme = (key: Buffer | null | undefined, value: Buffer | null | undefined) => SchemeResult;

/**
 * Accepted packet times, both bounds exclusive. Default: after 1970-01-01T00:00:00Z (a zero key
 * is what Metron made of an empty key: a broken sensor, not a packet time) and before
 * 2200-01-01T00:00:00Z (beyond that is a unit mix-up, e.g. ns keys read as µs). The upper bound
 * also keeps every key below 2^63, so Hadoop's signed LongWritable never shows a negative time.
 */
export interface TimestampRange {
  minExclusiveNs: bigint;
  maxExclusiveNs: bigint;
}

/** 2200-01-01T00:00:00Z = 7258118400 s. */
export const DEFAULT_TIMESTAMP_RANGE: Readonly<TimestampRange> = Object.freeze({
  minExclusiveNs: 0n,
  maxExclusiveNs: 7_258_118_400n * 1_000_000_000n,
});

export const reject = (reason: RejectReason, detail: string): SchemeRejection => ({ ok: false, reason, detail });

/** Range check shared by both schemes. */
export function checkTimestamp(tsNs: bigint, range: TimestampRange): SchemeRejection | null {
  if (tsNs > range.minExclusiveNs && tsNs < range.maxExclusiveNs) return null;
  return reject(
    'timestamp-out-of-range',
    `timestamp ${tsNs} ns is outside (${range.minExclusiveNs}, ${range.maxExclusiveNs})`,
  );
}
