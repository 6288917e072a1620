/**
 * Hadoop SequenceFile v6 (uncompressed) wire format, shared by the writer and the readers
 * (metron-compat §2.2). Header: "SEQ" 6, key class and value class as Hadoop Text (vint length +
 * UTF-8), compressed and blockCompressed booleans, metadata (int32 BE count + Text pairs), a
 * 16-byte sync marker. Record: int32 BE recordLength (= keyLength + valueLength), int32 BE
 * keyLength, key bytes, value bytes. A recordLength of -1 is a sync escape: the 16-byte marker
 * follows.
 */
import { pcapValueTimeNs } from '../pcap/pcap-record.js';
import { PcaplineError } from '../../lib/errors.js';

export const SEQ_MAGIC = Buffer.from('SEQ', 'latin1');
export const SEQ_VERSION = 6;
export const LONG_WRITABLE = 'org.apache.hadoop.io.LongWritable';
export const INT_WRITABLE = 'org.apache.hadoop.io.IntWritable';
export const BYTES_WRITABLE = 'org.apache.hadoop.io.BytesWritable';
export const SYNC_SIZE = 16;
/** The -1 length plus the marker. */
export const SYNC_ESCAPE_LENGTH = 4 + SYNC_SIZE;
/** Hadoop 2.x SYNC_INTERVAL (100 × 20 bytes): Metron's cadence, and the sample file's. */
export const HADOOP2_SYNC_INTERVAL = 2000;
/** Hadoop 3.x SYNC_INTERVAL (5 × 1024 × 20 bytes), for reference. */
export const HADOOP3_SYNC_INTERVAL = 102400;

/** The key encodings we read: LongWritable (ns time, ours and Metron's) and IntWritable (the 2016 sample). */
export type KeyType = 'long' | 'int';
export const keyLengthOf = (t: KeyType): number => (t === 'long' ? 8 : 4);

/**
 * Bytes from a record's position to its end, for a record holding a BytesWritable value of
 * `valueLength` bytes: recordLength + keyLength fields (8), the key, the BytesWritable length (4).
 */
export const recordLengthForValue = (valueLength: number, keyType: KeyType = 'long'): number =>
  8 + keyLengthOf(keyType) + 4 + valueLength;

/** Same, for a frame the writer wraps in Metron's 40 bytes of pcap headers. */
export const recordLengthForFrame = (frameLength: number): number => recordLengthForValue(40 + frameLength, 'long');

export type SeqErrorCode =
  | 'bad-magic'
  | 'unsupported-version'
  | 'unsupported-key-class'
  | 'unsupported-value-class'
  | 'compressed'
  | 'bad-header'
  | 'truncated-header'
  | 'bad-sync'
  | 'bad-record-length'
  | 'bad-key-length'
  | 'bad-value-length'
  | 'truncated-record';

/** A file that is not a readable SequenceFile, or is corrupt at `position`. */
/** A file that is not a SequenceFile we can read, or is damaged: `reason` says how; exit 2. */
export class SequenceFileError extends PcaplineError {
  constructor(
    readonly reason: SeqErrorCode,
    message: string,
    /** File offset where the problem was found. */
    readonly position: number,
  ) {
    super('PCAPLINE_SEQUENCEFILE', message, { exitCode: 2 });
  }
}

export interface SequenceFileHeader {
  version: number;
  keyClass: string;
  valueClass: string;
  keyType: KeyType;
  compressed: boolean;
  blockCompressed: boolean;
  metadata: Array<[string, string]>;
  syncMarker: Buffer;
  /** Header size in bytes: where the first record (or sync escape) starts. */
  length: number;
}

/** Header bytes for a LongWritable/BytesWritable uncompressed v6 file (95 bytes). */
export function encodeHeader(syncMarker: Uint8Array, keyType: KeyType = 'long'): Buffer {
  if (syncMarker.length !== SYNC_SIZE) throw new RangeError('sync marker must be 16 bytes');
  const key = Buffer.from(keyType === 'long' ? LONG_WRITABLE : INT_WRITABLE, 'utf8');
  const val = Buffer.from(BYTES_WRITABLE, 'utf8');
  // Class names are < 128 bytes, so their vint length is one byte.
  return Buffer.concat([
    SEQ_MAGIC,
    Buffer.from([SEQ_VERSION, key.length]),
    key,
    Buffer.from([val.length]),
    val,
    Buffer.from([0, 0, 0, 0, 0, 0]), // compressed, blockCompressed, metadata count (int32 0)
    syncMarker,
  ]);
}

/** Size of a Hadoop vint/vlong from its first byte (WritableUtils.decodeVIntSize). */
function vintSize(first: number): number {
  const b = (first << 24) >> 24; // as a signed byte
  if (b >= -112) return 1;
  if (b < -120) return -119 - b;
  return -111 - b;
}

/** Decodes a Hadoop vint at buf[off]; `size` bytes long (see vintSize). */
function readVint(buf: Uint8Array, off: number, size: number): number {
  const first = (buf[off] << 24) >> 24;
  if (size === 1) return first;
  let v = 0;
  for (let i = 1; i < size; i++) v = v * 256 + buf[off + i];
  const negative = first < -120 || (first >= -112 && first < 0);
  return negative ? -v - 1 : v;
}

/**
 * Parses a SequenceFile header from the start of `buf`. Returns the header, or the number of
 * bytes needed to get further (more than `buf.length`) when the buffer is too short; throws
 * SequenceFileError when the bytes are not a header we can read.
 */
export function parseHeader(buf: Uint8Array): SequenceFileHeader | { need: number } {
  let p = 0;
  const need = (n: number): boolean => p + n > buf.length;
  if (need(4)) return { need: p + 4 };
  if (buf[0] !== 0x53 || buf[1] !== 0x45 || buf[2] !== 0x51) {
    throw new SequenceFileError('bad-magic', 'not a SequenceFile (no SEQ magic)', 0);
  }
  const version = buf[3];
  if (version !== SEQ_VERSION) {
    throw new SequenceFileError(
      'unsupported-version',
      `SequenceFile version ${version}; only version 6 is supported`,
      3,
    );
  }
  p = 4;
  const readText = (): string | null => {
    if (need(1)) return null;
    const size = vintSize(buf[p]);
    if (need(size)) return null;
    const len = readVint(buf, p, size);
    if (len < 0 || len > 4096) throw new SequenceFileError('bad-header', `bad string length ${len} in header`, p);
    if (need(size + len)) return null;
    const s = Buffer.from(buf.buffer, buf.byteOffset + p + size, len).toString('utf8');
    p += size + len;
    return s;
  };
  const keyClass = readText();
  if (keyClass === null) return { need: p + 64 };
  let keyType: KeyType;
  if (keyClass === LONG_WRITABLE) keyType = 'long';
  else if (keyClass === INT_WRITABLE) keyType = 'int';
  else
    throw new SequenceFileError(
      'unsupported-key-class',
      `key class ${keyClass}; expected LongWritable or IntWritable`,
      4,
    );
  const valueClass = readText();
  if (valueClass === null) return { need: p + 64 };
  if (valueClass !== BYTES_WRITABLE) {
    throw new SequenceFileError('unsupported-value-class', `value class ${valueClass}; expected BytesWritable`, p);
  }
  if (need(2 + 4)) return { need: p + 6 };
  const compressed = buf[p] !== 0;
  const blockCompressed = buf[p + 1] !== 0;
  p += 2;
  if (compressed || blockCompressed) {
    throw new SequenceFileError(
      'compressed',
      'compressed SequenceFiles are not supported (Metron writes them uncompressed)',
      p - 2,
    );
  }
  const count = Buffer.from(buf.buffer, buf.byteOffset + p, 4).readInt32BE(0);
  if (count < 0 || count > 1024) throw new SequenceFileError('bad-header', `bad metadata count ${count}`, p);
  p += 4;
  const metadata: Array<[string, string]> = [];
  for (let i = 0; i < count; i++) {
    const k = readText();
    if (k === null) return { need: p + 64 };
    const v = readText();
    if (v === null) return { need: p + 64 };
    metadata.push([k, v]);
  }
  if (need(SYNC_SIZE)) return { need: p + SYNC_SIZE };
  const syncMarker = Buffer.from(buf.subarray(p, p + SYNC_SIZE)); // a copy: the header outlives the chunk
  p += SYNC_SIZE;
  return { version, keyClass, valueClass, keyType, compressed, blockCompressed, metadata, syncMarker, length: p };
}

/** One key/value record. */
export interface SeqRecord {
  /** File offset of the record's length field (after any sync escape): what an index stores. */
  position: number;
  /** Bytes from `position` to the end of the record: [position, position+length) is exactly this record. */
  length: number;
  /** The key as stored: LongWritable is signed int64 (ns ≥ 2^63 show negative); IntWritable widened. */
  key: bigint;
  /**
   * Packet time in ns: the unsigned LongWritable key, or for IntWritable keys (a record index in
   * Metron's sample) the first pcap packet header's time; null when neither is available.
   */
  tsNs: bigint | null;
  /** The BytesWritable payload: the one-packet pcap bytes (a view into the read chunk, not a copy). */
  value: Buffer;
}

export interface RecordProblem {
  problem: 'truncated-record' | 'bad-sync' | 'bad-record-length' | 'bad-key-length' | 'bad-value-length';
  detail: string;
}

export interface ParsedRecord {
  record: SeqRecord;
  /** Offset in `buf` just after the record. */
  next: number;
  /** True when a sync escape preceded the record at `offset`. */
  afterSync: boolean;
}

/** Default cap on one record's size: a guard against absurd lengths from corrupt files. */
export const DEFAULT_MAX_RECORD_LENGTH = 64 * 1024 * 1024;

/**
 * Parses the record that starts at `buf[offset]`, the building block for index-driven ranged
 * reads: with `offset` = the position an index stored and `buf` = the bytes of
 * [position, position + length), this returns that record. A sync escape found at `offset` is
 * skipped (and checked against `syncMarker` when given), so the function also walks a buffer
 * record by record. `filePosition` is the file offset of `buf[0]`, used for `record.position`.
 * Never throws.
 */
export function parseRecordAt(
  buf: Buffer,
  offset: number,
  keyType: KeyType = 'long',
  options: { syncMarker?: Uint8Array; filePosition?: number; maxRecordLength?: number } = {},
): ParsedRecord | RecordProblem {
  let p = offset;
  let afterSync = false;
  if (p + 4 > buf.length) return { problem: 'truncated-record', detail: `no record length at ${p}` };
  let recLen = buf.readInt32BE(p);
  if (recLen === -1) {
    if (p + SYNC_ESCAPE_LENGTH > buf.length)
      return { problem: 'truncated-record', detail: `sync escape at ${p} is cut off` };
    const m = options.syncMarker;
    if (m !== undefined && Buffer.compare(buf.subarray(p + 4, p + SYNC_ESCAPE_LENGTH), m) !== 0) {
      return { problem: 'bad-sync', detail: `sync marker at ${p} does not match the header's` };
    }
    p += SYNC_ESCAPE_LENGTH;
    afterSync = true;
    if (p + 4 > buf.length) return { problem: 'truncated-record', detail: `no record length at ${p}` };
    recLen = buf.readInt32BE(p);
  }
  const keyLen = keyLengthOf(keyType);
  const max = options.maxRecordLength ?? DEFAULT_MAX_RECORD_LENGTH;
  if (recLen < keyLen + 4 || recLen > max) {
    return { problem: 'bad-record-length', detail: `record length ${recLen} at ${p}` };
  }
  if (p + 8 + recLen > buf.length) {
    return {
      problem: 'truncated-record',
      detail: `record at ${p} needs ${8 + recLen} bytes, ${buf.length - p} present`,
    };
  }
  const kl = buf.readInt32BE(p + 4);
  if (kl !== keyLen) return { problem: 'bad-key-length', detail: `key length ${kl} at ${p}, expected ${keyLen}` };
  const vl = buf.readInt32BE(p + 8 + keyLen);
  if (vl !== recLen - keyLen - 4) {
    return {
      problem: 'bad-value-length',
      detail: `BytesWritable length ${vl} at ${p} does not fit record length ${recLen}`,
    };
  }
  const key = keyType === 'long' ? buf.readBigInt64BE(p + 8) : BigInt(buf.readInt32BE(p + 8));
  const vStart = p + 12 + keyLen;
  const value = buf.subarray(vStart, vStart + vl);
  const tsNs = keyType === 'long' ? BigInt.asUintN(64, key) : pcapValueTimeNs(value);
  return {
    record: { position: (options.filePosition ?? 0) + p, length: 8 + recLen, key, tsNs, value },
    next: p + 8 + recLen,
    afterSync,
  };
}

export const isRecordProblem = (r: ParsedRecord | RecordProblem): r is RecordProblem => 'problem' in r;
