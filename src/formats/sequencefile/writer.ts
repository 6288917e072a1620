/**
 * Streaming SequenceFile writer for the ingest hot path: LongWritable ns keys, BytesWritable
 * one-packet pcap values, uncompressed v6, Metron's (Hadoop 2) sync cadence (metron-compat §2.2).
 *
 * It never builds the file in memory. Two kinds of sink:
 * - a ByteSink gets, per append, one small header chunk (SequenceFile record fields + pcap headers,
 *   and the sync escape when one is due) followed by the caller's frame or value buffer itself: no
 *   copy of the packet's bytes, one small slab slice;
 * - a BufferSink (the ingest's chunk buffer) lends its buffer: headers are written in place and the
 *   packet's bytes copied once, with no object created per record.
 */
import { randomBytes } from 'node:crypto';
import { METRON_HEADERS_LENGTH, writeMetronHeadersWords } from '../pcap/pcap-record.js';
import {
  HADOOP2_SYNC_INTERVAL,
  SYNC_ESCAPE_LENGTH,
  SYNC_SIZE,
  encodeHeader,
  recordLengthForFrame,
  recordLengthForValue,
} from './format.js';
import { HOST_IS_LITTLE_ENDIAN } from '../../lib/endian.js';

/**
 * Where the bytes go. `write` is called synchronously, in file order. The writer never modifies a
 * chunk after passing it, so the sink may keep chunks (queue them for an HDFS append, say) without
 * copying; the frame/value buffers are the caller's own and are passed through as they are.
 */
export interface ByteSink {
  write(chunk: Buffer): unknown;
}

/**
 * A buffer the writer encodes records into directly. Before each record the writer calls
 * `reserve(n)`, then writes n bytes into `buffer` from `length` and advances `length` by n. The
 * sink empties the buffer (length = 0) whenever it likes between appends.
 */
export interface BufferSink {
  /** Makes `buffer` hold at least n bytes past `length` (replacing it by a larger one if needed). */
  reserve(n: number): void;
  readonly buffer: Buffer;
  length: number;
}

const isBufferSink = (s: ByteSink | BufferSink): s is BufferSink => 'reserve' in s;

export interface SequenceFileWriterOptions {
  /** 16-byte sync marker; random by default (Hadoop uses an MD5 of a UID and the time). */
  syncMarker?: Uint8Array;
  /** Bytes between sync escapes; default 2000 as in Hadoop 2 / Metron. */
  syncInterval?: number;
  /**
   * Continue a file that already holds `position` bytes (header included): no header is written.
   * `lastSyncPosition` is where the last sync escape ended (0 if none), as a reader's summary
   * reports it, so the cadence continues exactly as if the file had never been interrupted.
   */
  resume?: { position: number; lastSyncPosition: number };
}

/** SequenceFile record fields before the value bytes: recordLength, keyLength, key, BytesWritable length. */
const SEQ_RECORD_PREFIX = 4 + 4 + 8 + 4;
const SLAB_SIZE = 64 * 1024;

/**
 * The key's two 32-bit words without a BigInt per record: storing into a BigUint64Array wraps
 * mod 2^64 (as BigInt.asUintN(64, ...)), and its words are read back as numbers.
 */
const KEY64 = new BigUint64Array(1);
const KEY32 = new Uint32Array(KEY64.buffer);
const HIGH_WORD = HOST_IS_LITTLE_ENDIAN ? 1 : 0;
const LOW_WORD = HOST_IS_LITTLE_ENDIAN ? 0 : 1;

export class SequenceFileWriter {
  readonly syncMarker: Buffer;
  readonly syncInterval: number;
  private pos: number;
  private lastSyncPos: number;
  private count = 0;
  private slab: Buffer = Buffer.allocUnsafe(0);
  private slabUsed = 0;
  /** The header chunk being built by the current append (fields, not a returned object: no allocation). */
  private chunk: Buffer = this.slab;
  private chunkAt = 0;
  private readonly direct: BufferSink | null;
  /** The current record's key (unsigned ns) as 32-bit words. */
  private keyHigh = 0;
  private keyLow = 0;

  constructor(
    private readonly sink: ByteSink | BufferSink,
    options: SequenceFileWriterOptions = {},
  ) {
    this.direct = isBufferSink(sink) ? sink : null;
    this.syncMarker = Buffer.from(options.syncMarker ?? randomBytes(SYNC_SIZE));
    if (this.syncMarker.length !== SYNC_SIZE) throw new RangeError('syncMarker must be 16 bytes');
    this.syncInterval = options.syncInterval ?? HADOOP2_SYNC_INTERVAL;
    if (options.resume) {
      this.pos = options.resume.position;
      this.lastSyncPos = options.resume.lastSyncPosition;
    } else {
      const header = encodeHeader(this.syncMarker, 'long');
      this.pos = 0;
      this.lastSyncPos = 0; // Hadoop starts at 0, not at the header's end (the sample confirms it)
      this.emit(header);
      this.pos = header.length;
    }
  }

  /** The header this writer's files start with (written by the constructor unless resuming). */
  header(): Buffer {
    return encodeHeader(this.syncMarker, 'long');
  }

  /** Bytes written so far: the file length, and where the next record (or sync escape) starts. */
  get position(): number {
    return this.pos;
  }

  /** Records appended by this writer instance. */
  get records(): number {
    return this.count;
  }

  /** Where the last sync escape ended (0 before the first one): pass to `resume` to continue a file. */
  get lastSyncPosition(): number {
    return this.lastSyncPos;
  }

  /**
   * Appends a raw frame (FROM_KEY data): key = tsNs, value = Metron's 40 header bytes built from
   * tsNs + the frame. Returns the record's position; the record spans recordLengthForFrame(frame.length) bytes.
   */
  appendFrame(tsNs: bigint, frame: Buffer): number {
    const valueLen = METRON_HEADERS_LENGTH + frame.length;
    const recordPos = this.begin(tsNs, valueLen, SEQ_RECORD_PREFIX + METRON_HEADERS_LENGTH, frame.length);
    const chunk = this.chunk;
    const at = this.chunkAt + SEQ_RECORD_PREFIX;
    writeMetronHeadersWords(chunk, at, this.keyHigh, this.keyLow, frame.length);
    this.finish(frame, at + METRON_HEADERS_LENGTH);
    this.pos = recordPos + recordLengthForFrame(frame.length);
    this.count++;
    return recordPos;
  }

  /**
   * Appends a value that already is a one-packet pcap (FROM_VALUE data), stored unchanged as
   * Metron does. Returns the record's position; the record spans recordLengthForValue(value.length) bytes.
   */
  appendValue(tsNs: bigint, pcapValue: Buffer): number {
    const recordPos = this.begin(tsNs, pcapValue.length, SEQ_RECORD_PREFIX, pcapValue.length);
    this.finish(pcapValue, this.chunkAt + SEQ_RECORD_PREFIX);
    this.pos = recordPos + recordLengthForValue(pcapValue.length);
    this.count++;
    return recordPos;
  }

  /**
   * Emits the sync escape if one is due (Hadoop's checkAndWriteSync: position ≥ lastSync +
   * interval) and the SequenceFile record fields: into a fresh chunk of `prefixLen` (+20) bytes, or
   * for a BufferSink straight into its buffer, with room for the `bodyLen` bytes that follow. The
   * fields start at this.chunkAt of this.chunk. Returns the record's position.
   */
  private begin(tsNs: bigint, valueLen: number, prefixLen: number, bodyLen: number): number {
    if (valueLen > 0x7fffffff - 16)
      throw new RangeError(`value of ${valueLen} bytes is too large for a SequenceFile record`);
    const sync = this.pos >= this.lastSyncPos + this.syncInterval && this.lastSyncPos !== this.pos;
    const syncLen = sync ? SYNC_ESCAPE_LENGTH : 0;
    let chunk: Buffer;
    let at: number;
    if (this.direct) {
      this.direct.reserve(syncLen + prefixLen + bodyLen);
      chunk = this.direct.buffer;
      at = this.direct.length;
    } else {
      chunk = this.alloc(syncLen + prefixLen);
      at = 0;
    }
    if (sync) {
      chunk.writeInt32BE(-1, at);
      chunk.set(this.syncMarker, at + 4);
      this.lastSyncPos = this.pos + SYNC_ESCAPE_LENGTH;
      at += SYNC_ESCAPE_LENGTH;
    }
    chunk.writeInt32BE(8 + 4 + valueLen, at); // recordLength = keyLength + value (BytesWritable) length
    chunk.writeInt32BE(8, at + 4);
    // Same bits as Hadoop's signed long, as two words that the pcap header reuses (no BigInt division).
    KEY64[0] = tsNs;
    this.keyHigh = KEY32[HIGH_WORD];
    this.keyLow = KEY32[LOW_WORD];
    chunk.writeUInt32BE(this.keyHigh, at + 8);
    chunk.writeUInt32BE(this.keyLow, at + 12);
    chunk.writeInt32BE(valueLen, at + 16);
    this.chunk = chunk;
    this.chunkAt = at;
    return this.pos + syncLen;
  }

  /** Ends the record begun by `begin`: its headers are written up to `headersEnd` (in this.chunk). */
  private finish(body: Buffer, headersEnd: number): void {
    if (this.direct) {
      this.chunk.set(body, headersEnd);
      this.direct.length = headersEnd + body.length;
    } else {
      (this.sink as ByteSink).write(this.chunk);
      if (body.length > 0) (this.sink as ByteSink).write(body);
    }
  }

  /** Hands bytes written outside a record (the file header) to either kind of sink. */
  private emit(bytes: Buffer): void {
    if (this.direct) {
      this.direct.reserve(bytes.length);
      this.direct.buffer.set(bytes, this.direct.length);
      this.direct.length += bytes.length;
    } else (this.sink as ByteSink).write(bytes);
  }

  /**
   * A fresh slice of a 64 KiB slab. Slices are never reused, so a sink may hold on to them; the
   * slab just avoids one allocation per packet.
   */
  private alloc(n: number): Buffer {
    if (this.slabUsed + n > this.slab.length) {
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, n));
      this.slabUsed = 0;
    }
    const b = this.slab.subarray(this.slabUsed, this.slabUsed + n);
    this.slabUsed += n;
    return b;
  }
}
