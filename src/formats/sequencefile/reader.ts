/**
 * Streaming SequenceFile reader: an async iterator of records over a Readable (or any async
 * iterable of chunks) that holds at most one record plus one chunk in memory. Reads LongWritable
 * and IntWritable keys with BytesWritable values, any sync cadence, and checks every sync marker.
 *
 * A file still being written usually ends in the middle of a record (or of a sync escape): the
 * reader stops cleanly before it and reports it in `summary` (torn, tornBytes, validEnd) instead of
 * failing, so a query over a growing file returns every complete record. Real corruption (a bad
 * sync marker, impossible lengths) is a SequenceFileError with the file position.
 */
import { ByteQueue, type ByteSource } from '../byte-queue.js';
import {
  DEFAULT_MAX_RECORD_LENGTH,
  SYNC_ESCAPE_LENGTH,
  SequenceFileError,
  isRecordProblem,
  parseHeader,
  parseRecordAt,
  type SeqRecord,
  type SequenceFileHeader,
} from './format.js';

export interface SequenceFileReaderOptions {
  /** Largest record accepted before the file is declared corrupt (default 64 MiB). */
  maxRecordLength?: number;
  /**
   * What to do when the stream ends inside a record: 'report' (default) stops and sets
   * summary.torn; 'error' throws SequenceFileError('truncated-record'), for files known to be final.
   */
  onTorn?: 'report' | 'error';
}

export interface SequenceFileReadSummary {
  /** Complete records read. */
  records: number;
  /** Sync escapes read (each one checked against the header's marker). */
  syncs: number;
  /** True when the stream ended inside a record or sync escape. */
  torn: boolean;
  /** Bytes of that incomplete tail. */
  tornBytes: number;
  /** Offset just past the last complete record (or the header): the length to truncate a torn file to. */
  validEnd: number;
  /** Offset where the last sync escape before validEnd ended (0 if none): with validEnd, resumes a writer. */
  lastSyncEnd: number;
}

export class SequenceFileReader implements AsyncIterable<SeqRecord> {
  private readonly q: ByteQueue;
  private readonly maxRecordLength: number;
  private readonly onTorn: 'report' | 'error';
  private hdr: SequenceFileHeader | null = null;
  private started = false;
  /** Where the most recent sync escape ended. */
  private syncEnd = 0;
  readonly summary: SequenceFileReadSummary = {
    records: 0,
    syncs: 0,
    torn: false,
    tornBytes: 0,
    validEnd: 0,
    lastSyncEnd: 0,
  };

  constructor(source: ByteSource, options: SequenceFileReaderOptions = {}) {
    this.q = new ByteQueue(source);
    this.maxRecordLength = options.maxRecordLength ?? DEFAULT_MAX_RECORD_LENGTH;
    this.onTorn = options.onTorn ?? 'report';
  }

  /** Reads (once) and returns the file header. */
  async header(): Promise<SequenceFileHeader> {
    if (this.hdr) return this.hdr;
    let want = 128;
    for (;;) {
      const complete = await this.q.ensure(want);
      const r = parseHeader(this.q.peek(Math.min(want, this.q.available)));
      if (!('need' in r)) {
        this.q.skip(r.length);
        this.hdr = r;
        this.summary.validEnd = r.length;
        return r;
      }
      if (!complete) {
        throw new SequenceFileError(
          'truncated-header',
          `file ends inside the SequenceFile header (${this.q.available} bytes)`,
          0,
        );
      }
      want = Math.max(r.need, want * 2);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SeqRecord> {
    if (this.started) throw new Error('SequenceFileReader can be iterated once');
    this.started = true;
    return this.records();
  }

  /** Stops reading early and releases the source. */
  async close(): Promise<void> {
    await this.q.close();
  }

  private async *records(): AsyncGenerator<SeqRecord> {
    const q = this.q;
    try {
      const h = await this.header();
      const parseOptions = { syncMarker: h.syncMarker, filePosition: 0, maxRecordLength: this.maxRecordLength };
      for (;;) {
        // Fast path: skip the await when the bytes are already buffered (most records).
        if (q.available < 4 && !(await q.ensure(4))) {
          if (q.available > 0) this.torn();
          return;
        }
        const recLen = q.readInt32BE();
        if (recLen === -1) {
          if (q.available < SYNC_ESCAPE_LENGTH && !(await q.ensure(SYNC_ESCAPE_LENGTH))) return this.torn();
          const at = q.position;
          if (!q.peek(16, 4).equals(h.syncMarker)) {
            throw new SequenceFileError(
              'bad-sync',
              `sync marker at ${at} does not match the header's: corrupt file`,
              at,
            );
          }
          q.skip(SYNC_ESCAPE_LENGTH);
          this.syncEnd = q.position;
          this.summary.syncs++;
          continue;
        }
        if (recLen < 0 || recLen > this.maxRecordLength) {
          throw new SequenceFileError(
            'bad-record-length',
            `record length ${recLen} at ${q.position}: corrupt file`,
            q.position,
          );
        }
        const total = 8 + recLen;
        if (q.available < total && !(await q.ensure(total))) return this.torn();
        const position = q.position;
        const bytes = q.take(total);
        parseOptions.filePosition = position;
        const r = parseRecordAt(bytes, 0, h.keyType, parseOptions);
        if (isRecordProblem(r))
          throw new SequenceFileError(r.problem, `${r.detail} (file offset ${position})`, position);
        this.summary.records++;
        this.summary.validEnd = q.position;
        this.summary.lastSyncEnd = this.syncEnd;
        yield r.record;
      }
    } finally {
      await q.close();
    }
  }

  private torn(): void {
    this.summary.torn = true;
    this.summary.tornBytes = this.q.available;
    if (this.onTorn === 'error') {
      throw new SequenceFileError(
        'truncated-record',
        `file ends inside a record: ${this.q.available} bytes after offset ${this.q.position}`,
        this.q.position,
      );
    }
  }
}

/** Convenience: a reader over `source` (iterate it; read `summary` afterwards). */
export const readSequenceFile = (source: ByteSource, options?: SequenceFileReaderOptions): SequenceFileReader =>
  new SequenceFileReader(source, options);
