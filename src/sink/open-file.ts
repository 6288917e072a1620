import { randomBytes } from 'node:crypto';
import type { Storage } from '../storage/types.js';
import { IndexBuilder } from '../formats/packet-index.js';
import { SequenceFileWriter } from '../formats/sequencefile-writer.js';
import type { SinkLayout } from './layout.js';

/**
 * One in-progress data file of one partition. Records are encoded straight into a chunk list;
 * when the chunk reaches `chunkBytes` it is appended to the hidden in-progress file, so memory per
 * partition stays bounded by the chunk size plus the compact index columns, whatever numPackets is.
 * A 2xx from WebHDFS CREATE/APPEND means the DataNode closed the stream: the bytes are durable.
 */
export class OpenFile {
  readonly tmpPath: string;
  readonly index = new IndexBuilder();
  readonly firstTsNs: bigint;
  readonly firstOffset: bigint;
  lastOffset: bigint;
  /** Wall-clock time of the last record, for idle sealing. */
  lastActivity = Date.now();
  private readonly writer: SequenceFileWriter;
  private chunks: Buffer[] = [];
  private chunkLength = 0;
  private created = false;
  private storedBytes = 0;

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
    this.tmpPath = layout.inProgressFile(topic, partition, firstOffset, instanceId, randomBytes(4).toString('hex'));
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
    this.chunks.push(chunk);
    this.chunkLength += chunk.length;
  }

  get needsFlush(): boolean {
    return this.chunkLength >= this.chunkBytes;
  }

  /** Appends the buffered chunk to the in-progress file (creating it on first use). */
  async flush(): Promise<void> {
    if (this.chunkLength === 0 && this.created) return;
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.chunkLength);
    if (!this.created) {
      await this.storage.create(this.tmpPath, body, { overwrite: false, replication: this.replication });
      this.created = true;
    } else {
      await this.storage.append(this.tmpPath, body);
    }
    this.storedBytes += body.length;
    this.chunks = [];
    this.chunkLength = 0;
  }

  get bytesStored(): number {
    return this.storedBytes;
  }

  /** Best-effort removal of the in-progress file after a failure or a lost claim. */
  async discard(): Promise<void> {
    this.chunks = [];
    this.chunkLength = 0;
    if (this.created) await this.storage.delete(this.tmpPath).catch(() => false);
  }
}
