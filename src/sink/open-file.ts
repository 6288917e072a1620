import { randomBytes } from 'node:crypto';
import type { Storage } from '../storage/types.js';
import { IndexBuilder } from '../formats/index/packet-index.js';
import { SequenceFileWriter } from '../formats/sequencefile/writer.js';
import type { SinkLayout } from './layout.js';

/**
 * One in-progress data file of one partition. Records are encoded straight into a chunk list;
 * when the chunk reaches `chunkBytes` it is appended to the hidden in-progress file, so memory per
 * partition stays bounded by the chunk size plus the compact index columns, whatever numPackets is.
 * A 2xx from WebHDFS CREATE/APPEND means the DataNode closed the stream: the bytes are durable.
 */
export class OpenFile {
  readonly tmpPath: string;
  /** Where the index is written before the claim (renamed beside the data file when published). */
  readonly tmpIndexPath: string;
  readonly index = new IndexBuilder();
  readonly firstTsNs: bigint;
  readonly firstOffset: bigint;
  lastOffset: bigint;
  /** Wall-clock time of the last record, for idle sealing. */
  lastActivity = Date.now();
  private readonly writer: SequenceFileWriter;
  /**
   * Records are copied into this owned buffer (one copy, the one any contiguous append needs): the
   * Kafka fetch responses the frames were sliced from can be freed at once, and the buffer is reused
   * after each append, so a flush makes no garbage.
   */
  private buffer: Buffer;
  private chunkLength = 0;
  private created = false;

  constructor(
    private readonly storage: Storage,
    layout: SinkLayout,
    readonly topic: string,
    readonly partition: number,
    firstOffset: bigint,
    firstTsNs: bigint,
    instanceId: string,
    private readonly chunkBytes: number,
    private readonly replication: number,
  ) {
    this.firstOffset = firstOffset;
    this.lastOffset = firstOffset;
    this.firstTsNs = firstTsNs;
    this.tmpPath = layout.inProgressFile(topic, partition, firstOffset, instanceId, randomBytes(6).toString('hex'));
    this.tmpIndexPath = this.tmpPath.replace(/\.seq$/, '.idx');
    this.buffer = Buffer.allocUnsafe(Math.min(chunkBytes, 1 << 20));
    this.writer = new SequenceFileWriter({ write: (chunk: Buffer) => this.take(chunk) });
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

  private take(chunk: Buffer): void {
    const need = this.chunkLength + chunk.length;
    if (need > this.buffer.length) {
      // Grow geometrically up to the chunk size (a record may overshoot it: it is flushed right after).
      const grown = Buffer.allocUnsafe(Math.max(need, Math.min(this.buffer.length * 2, this.chunkBytes + 65536)));
      this.buffer.copy(grown, 0, 0, this.chunkLength);
      this.buffer = grown;
    }
    chunk.copy(this.buffer, this.chunkLength);
    this.chunkLength = need;
  }

  get needsFlush(): boolean {
    return this.chunkLength >= this.chunkBytes;
  }

  /** Appends the buffered chunk to the in-progress file (creating it on first use). */
  async flush(): Promise<void> {
    if (this.chunkLength === 0 && this.created) return;
    const body = this.buffer.subarray(0, this.chunkLength);
    if (!this.created) {
      await this.storage.create(this.tmpPath, body, { overwrite: false, replication: this.replication });
      this.created = true;
    } else {
      await this.storage.append(this.tmpPath, body);
    }
    this.chunkLength = 0;
  }

  /** Best-effort removal of the in-progress file (and its index) after a failure or a lost claim. */
  async discard(): Promise<void> {
    this.chunkLength = 0;
    if (this.created) await this.storage.delete(this.tmpPath).catch(() => false);
    await this.storage.delete(this.tmpIndexPath).catch(() => false);
  }
}
