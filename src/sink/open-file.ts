import { randomBytes } from 'node:crypto';
import type { Storage } from '../storage/types.js';
import { IndexBuilder } from '../formats/index/packet-index.js';
import { type BufferSink, SequenceFileWriter } from '../formats/sequencefile/writer.js';
import type { SinkLayout } from './layout.js';
import { RollingUpload } from './rolling-upload.js';

/**
 * One in-progress data file of one partition. Records are encoded straight into a chunk buffer;
 * when the chunk reaches `chunkBytes` it is sent to the hidden in-progress file, so memory per
 * partition stays bounded by the chunk size plus the compact index columns, whatever numPackets is.
 * The in-progress file is uploaded as a stream (RollingUpload: a streaming create opened with the
 * file, continued by an append only when it outlives a lease-safe age), so on HDFS a file costs
 * about one block close, when it is completed, instead of one per chunk (an APPEND per chunk bought
 * nothing: in-progress files are discarded on recovery, docs/exactly-once.md). Bytes are durable
 * only once `complete()` has resolved.
 */
export class OpenFile {
  readonly tmpPath: string;
  /** Where the index is written before the claim (renamed beside the data file when published). */
  readonly tmpIndexPath: string;
  readonly index: IndexBuilder;
  readonly firstTsNs: bigint;
  readonly firstOffset: bigint;
  lastOffset: bigint;
  /** Wall-clock time of the last record, for idle sealing. */
  lastActivity = Date.now();
  private readonly writer: SequenceFileWriter;
  /**
   * Records are encoded straight into this owned buffer (the packet's bytes copied once, the copy any
   * contiguous append needs): the Kafka fetch responses the frames were sliced from can be freed at
   * once, and the buffer is reused after each append, so a flush makes no garbage.
   */
  private readonly chunk: ChunkBuffer;
  private readonly upload: RollingUpload;
  /** Set by complete() and discard(): the upload is over. */
  private ended = false;
  /**
   * The chunk being sent while the next one fills (its buffer is `sending`): encoding overlaps the
   * socket or disk taking the previous chunk instead of waiting for it. At most one is in flight.
   */
  private inFlight: Promise<void> | null = null;
  private sending: Buffer | null = null;

  constructor(
    private readonly storage: Storage,
    layout: SinkLayout,
    readonly topic: string,
    readonly partition: number,
    firstOffset: bigint,
    firstTsNs: bigint,
    instanceId: string,
    private readonly chunkBytes: number,
    replication: number,
    /** The partition's spare chunk buffers, and how many records the file will probably hold. */
    options: { chunkPool?: ChunkPool; expectedCount?: number } = {},
  ) {
    // Sized up front (bounded): growing doubles the columns' memory for a moment.
    this.index = new IndexBuilder(Math.min(options.expectedCount ?? 1024, INDEX_CAPACITY_HINT_MAX));
    this.firstOffset = firstOffset;
    this.lastOffset = firstOffset;
    this.firstTsNs = firstTsNs;
    this.tmpPath = layout.inProgressFile(topic, partition, firstOffset, instanceId, randomBytes(6).toString('hex'));
    this.tmpIndexPath = this.tmpPath.replace(/\.seq$/, '.idx');
    this.chunk = new ChunkBuffer(Math.min(chunkBytes, 1 << 20), chunkBytes + 65536, options.chunkPool ?? null);
    this.writer = new SequenceFileWriter(this.chunk);
    // Opened now, so creating the file overlaps with filling it; a failure surfaces at the first send.
    // The name carries a random nonce, so no other writer chooses it: created without the exclusive
    // check, which costs a NameNode round trip per file on HDFS.
    this.upload = new RollingUpload(storage, this.tmpPath, { overwrite: true, replication });
  }

  get count(): number {
    return this.index.count;
  }

  /** Total bytes of the data file so far (stored plus buffered). */
  get length(): number {
    return this.writer.position;
  }

  /** The SequenceFile writer; callers append records and then record their index entries. */
  get sequenceWriter(): SequenceFileWriter {
    return this.writer;
  }

  /** The chunk has reached `chunkBytes`: `sendChunk()` before appending more. */
  get chunkFull(): boolean {
    return this.chunk.length >= this.chunkBytes;
  }

  /**
   * Sends the buffered chunk to the in-progress file and empties it: resolves once the chunk before
   * it has been taken (the store has this one on its way; the chunk keeps filling in a second
   * buffer). Not durable: only complete() is. A rejection (StorageError, of this chunk or the one
   * before) means the file is lost: discard it.
   */
  async sendChunk(): Promise<void> {
    if (this.ended) throw new Error(`${this.tmpPath} was already completed or discarded`);
    if (this.chunk.length === 0) return;
    await this.settleInFlight();
    const full = this.chunk.buffer;
    const length = this.chunk.length;
    this.chunk.swap(this.sending);
    this.sending = full;
    const write = this.upload.write(full.subarray(0, length));
    write.catch(() => {}); // surfaced by the next send or complete
    this.inFlight = write;
  }

  /** Waits for the chunk in flight, if any; throws its failure. */
  private async settleInFlight(): Promise<void> {
    const write = this.inFlight;
    if (!write) return;
    try {
      await write;
    } finally {
      if (this.inFlight === write) this.inFlight = null;
    }
  }

  /** Sends what is buffered and closes the file: when this resolves, every byte is durable. */
  async complete(): Promise<void> {
    await this.sendChunk();
    await this.settleInFlight();
    this.ended = true;
    this.releaseBuffers(); // the socket has taken them; the file may wait a while for its claim
    await this.upload.complete();
  }

  /** Best-effort removal of the in-progress file (and its index) after a failure or a lost claim. */
  async discard(): Promise<void> {
    this.chunk.length = 0;
    this.ended = true;
    await this.upload.abort(); // after this no write holds the buffers any more
    this.inFlight = null;
    this.releaseBuffers();
    await this.storage.delete(this.tmpPath).catch(() => false);
    await this.storage.delete(this.tmpIndexPath).catch(() => false);
  }

  /** Gives both chunk buffers back to the partition's pool (no write holds them). */
  private releaseBuffers(): void {
    this.chunk.release();
    if (this.sending) this.chunk.pool?.give(this.sending);
    this.sending = null;
  }
}

/** Index entries allocated up front at most (~5 MB of columns); larger files grow from there. */
const INDEX_CAPACITY_HINT_MAX = 1 << 17;
const EMPTY = Buffer.alloc(0);

/**
 * Chunk buffers of finished files, handed to the partition's next files: a partition rolling every
 * few seconds would otherwise allocate (and page in) a fresh multi-MiB buffer per file and leave the
 * old ones to the garbage collector, which lets RSS climb.
 */
export class ChunkPool {
  private readonly spare: Buffer[] = [];

  /** Two per partition: the chunk filling and the one being sent. */
  constructor(private readonly keep = 2) {}

  take(): Buffer | undefined {
    return this.spare.pop();
  }

  give(buffer: Buffer): void {
    if (buffer.length > 0 && this.spare.length < this.keep) this.spare.push(buffer);
  }
}

/** The open file's chunk, lent to the SequenceFile writer to encode into. */
class ChunkBuffer implements BufferSink {
  buffer: Buffer;
  length = 0;

  /** Starts at `initial` bytes (or a spare buffer) and grows geometrically up to `max` (a record may overshoot it: it is sent right after). */
  constructor(
    initial: number,
    private readonly max: number,
    readonly pool: ChunkPool | null,
  ) {
    this.initial = initial;
    this.buffer = pool?.take() ?? Buffer.allocUnsafe(initial);
  }

  private readonly initial: number;

  /** Continues in `next` (the buffer of a chunk already sent), or a fresh one, and empties the chunk. */
  swap(next: Buffer | null): void {
    this.buffer = next ?? this.pool?.take() ?? Buffer.allocUnsafe(this.initial);
    this.length = 0;
  }

  /** Gives the buffer back (the file is complete or discarded; no write holds it any more). */
  release(): void {
    this.pool?.give(this.buffer);
    this.buffer = EMPTY;
    this.length = 0;
  }

  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(need, Math.min(this.buffer.length * 2, this.max)));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}
