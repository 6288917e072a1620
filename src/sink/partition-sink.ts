import type { Storage } from '../storage/types.js';
import { isStorageError } from '../storage/errors.js';
import { formatPcapFileName } from '../formats/file-name.js';
import type { IndexSummary } from '../formats/index/packet-index-format.js';
import type { SinkLayout } from './layout.js';
import type { Ledger, LoadedMarker, SealMarker } from './ledger.js';
import { OpenFile } from './open-file.js';
import { mustRoll, type RollPolicy } from './roll-policy.js';
import { PcaplineError } from '../lib/errors.js';

export interface SealedFile {
  topic: string;
  partition: number;
  dataPath: string;
  indexPath: string;
  firstOffset: bigint;
  lastOffset: bigint;
  count: number;
  bytes: number;
  minTsNs: bigint;
  maxTsNs: bigint;
}

export interface PartitionSinkOptions {
  storage: Storage;
  layout: SinkLayout;
  ledger: Ledger;
  topic: string;
  partition: number;
  instanceId: string;
  policy: RollPolicy;
  chunkBytes: number;
  replication: number;
  /** Kafka's committed offset for this partition (next offset to read), or null when none. */
  fetchCommitted: () => Promise<bigint | null>;
  /** Commit `offset` (the next offset to read) for this partition. */
  commit: (offset: bigint) => Promise<void>;
  onSealed: (file: SealedFile) => void;
  /** Awaited before any offset commit: e.g. dead-letter copies of skipped records must be acknowledged first. */
  beforeCommit: () => Promise<void>;
}

/** Thrown when another writer owns the data we were about to publish: the partition must be reconciled again. */
export class LostClaimError extends PcaplineError {
  constructor(
    readonly topic: string,
    readonly partition: number,
    detail: string,
  ) {
    super('PCAPLINE_LOST_CLAIM', `${topic}/${partition}: ${detail}`, { retriable: true });
  }
}

/**
 * The rolling writer and commit protocol of one partition (docs/exactly-once.md):
 *   write the in-progress file → index → claim a seal marker (exclusive) → fence against the
 *   committed offset → rename into place (publish) → commit offsets → drop older markers.
 * `reconcile` brings storage and Kafka into agreement on assignment and after any failure.
 */
export class PartitionSink {
  private open: OpenFile | null = null;
  /** Next offset this sink expects; records below it are already stored (replays after a rebalance). */
  nextOffset: bigint | null = null;
  /** Offsets of malformed records past the last sealed file that can be committed once no file is open. */
  private skippedThrough: bigint | null = null;

  constructor(private readonly o: PartitionSinkOptions) {}

  get topic(): string {
    return this.o.topic;
  }
  get partition(): number {
    return this.o.partition;
  }
  get openFile(): OpenFile | null {
    return this.open;
  }

  /**
   * Reconciles storage with Kafka for this partition and returns the offset to consume from.
   * `base` is where consumption would start without any stored state (committed offset, or the
   * start mode's earliest/latest). Cost: one listing of this partition's ledger and in-progress
   * directories, both small, whatever the number of stored files. `committed` is the group's
   * committed offset (null when none), read once by the caller that also derived `base` from it.
   */
  async reconcile(base: bigint, committed: bigint | null): Promise<bigint> {
    if (this.open) {
      await this.open.discard();
      this.open = null;
    }
    this.skippedThrough = null;
    const { ledger, topic, partition } = this.o;
    let expected = base;
    for (const marker of await ledger.list(topic, partition)) {
      if (marker.lastN < expected) {
        // Behind the resume point: already reflected in the committed offset. Drop it (bounded ledger)
        // only once Kafka's committed offset is past it, so a restart never needs it again.
        if (committed !== null && marker.lastN < committed) await ledger.remove(marker);
        continue;
      }
      if (marker.firstN < expected) {
        // Overlaps data already accounted for: a stale claim by a writer that lost the partition.
        await this.dropClaim(marker);
        continue;
      }
      if (await this.publish(marker)) expected = marker.lastN + 1n;
      else await this.dropClaim(marker);
    }
    // In-progress files not named by a marker are leftovers of a crash or of a writer that lost the
    // partition: their records are re-read from Kafka.
    await this.deleteInProgress();
    if (committed === null || expected > committed) await this.o.commit(expected);
    this.nextOffset = expected;
    return expected;
  }

  /** Rename the marker's in-progress file into place if that has not happened; false if its data is gone. */
  private async publish(marker: LoadedMarker | SealMarker): Promise<boolean> {
    const { storage } = this.o;
    if (await storage.stat(marker.dataPath)) return true;
    try {
      await storage.rename(marker.tmpPath, marker.dataPath);
      return true;
    } catch (err) {
      if (isStorageError(err, 'FileNotFoundException')) return (await storage.stat(marker.dataPath)) !== null;
      if (isStorageError(err, 'FileAlreadyExistsException')) return true;
      throw err;
    }
  }

  private async dropClaim(marker: LoadedMarker): Promise<void> {
    const { storage, ledger } = this.o;
    if (!(await storage.stat(marker.dataPath))) {
      await storage.delete(marker.indexPath).catch(() => false);
      await storage.delete(marker.tmpPath).catch(() => false);
    }
    await ledger.remove(marker);
  }

  private async deleteInProgress(): Promise<void> {
    const { storage, layout, topic, partition } = this.o;
    const dir = layout.inProgressDir(topic, partition);
    try {
      for await (const entry of storage.list(dir)) await storage.delete(entry.path).catch(() => false);
    } catch (err) {
      if (!isStorageError(err, 'FileNotFoundException')) throw err;
    }
  }

  /** The file records go into, rolling first when the policy says so. */
  async fileFor(offset: bigint, tsNs: bigint): Promise<OpenFile> {
    const open = this.open;
    if (open && mustRoll(this.o.policy, open.count, open.firstTsNs, tsNs)) await this.seal();
    if (!this.open) {
      const { storage, layout, topic, partition, instanceId, chunkBytes, replication } = this.o;
      this.open = new OpenFile(storage, layout, topic, partition, offset, tsNs, instanceId, chunkBytes, replication);
    }
    return this.open;
  }

  /** Records that a malformed record at `offset` was handled (counted, dead-lettered). */
  skipped(offset: bigint): void {
    if (this.open) this.open.lastOffset = offset;
    else this.skippedThrough = offset;
    this.nextOffset = offset + 1n;
  }

  /** After a record was appended to the open file. */
  async appended(offset: bigint): Promise<void> {
    const open = this.open!;
    open.lastOffset = offset;
    open.lastActivity = Date.now();
    this.nextOffset = offset + 1n;
    if (open.needsFlush) await open.flush();
  }

  /** Commits offsets of malformed records read while no file was open. */
  async commitSkipped(): Promise<void> {
    if (this.open || this.skippedThrough === null) return;
    const through = this.skippedThrough;
    await this.o.beforeCommit();
    await this.o.commit(through + 1n);
    if (this.skippedThrough === through) this.skippedThrough = null;
  }

  /** Seals the open file, if any: durable data, index, claim, fence, publish, commit. */
  async seal(): Promise<SealedFile | null> {
    const file = this.open;
    if (!file) return null;
    this.open = null;
    const { storage, layout, ledger, topic, partition, instanceId } = this.o;
    let unpublishedIndex: string | null = null;
    let dataTarget: string | null = null;
    try {
      await this.o.beforeCommit();
      const index = file.index;
      let dataName = formatPcapFileName(topic, file.firstTsNs, partition, instanceId);
      // Two files of one partition can share a first timestamp (fastcapa stamps a whole burst with one
      // time); never overwrite: disambiguate the id with the first offset.
      if (await storage.stat(layout.dataFile(dataName)))
        dataName = formatPcapFileName(topic, file.firstTsNs, partition, `${instanceId}.${file.firstOffset}`);
      const dataPath = layout.dataFile(dataName);
      const indexPath = layout.indexFile(dataName, index.minTsNs, index.maxTsNs);
      unpublishedIndex = indexPath;
      dataTarget = dataPath;
      const summary: IndexSummary = {
        version: 1,
        dataFile: dataName,
        topic,
        partition,
        firstOffset: file.firstOffset.toString(),
        lastOffset: file.lastOffset.toString(),
        minTsNs: index.minTsNs.toString(),
        maxTsNs: index.maxTsNs.toString(),
        count: index.count,
        dataLength: file.length,
      };
      // The last data chunk and the index are independent until the claim: write them concurrently
      // (each WebHDFS create/append costs a block close, ~0.4 s on HDFS 3.4).
      await Promise.all([
        file.flush(),
        storage
          .mkdirs(layout.indexDir())
          .then(() => storage.create(indexPath, index.encode(summary), { overwrite: true })),
      ]);
      const marker: SealMarker = {
        first: file.firstOffset.toString(),
        last: file.lastOffset.toString(),
        tmpPath: file.tmpPath,
        dataPath,
        indexPath,
        count: index.count,
        instanceId,
      };
      if (!(await ledger.claim(topic, partition, marker))) {
        await storage.delete(indexPath).catch(() => false);
        await file.discard();
        throw new LostClaimError(topic, partition, `offset ${file.firstOffset} was sealed by another writer`);
      }
      const committed = await this.o.fetchCommitted();
      if (committed !== null && committed > file.firstOffset) {
        await storage.delete(indexPath).catch(() => false);
        await file.discard();
        throw new LostClaimError(
          topic,
          partition,
          `committed offset ${committed} is past this file's first offset ${file.firstOffset}`,
        );
      }
      if (!(await this.publish(marker))) {
        const stale = await ledger.read(topic, partition, file.firstOffset);
        if (stale) await this.dropClaim(stale);
        throw new LostClaimError(topic, partition, `in-progress file ${file.tmpPath} was removed by another writer`);
      }
      unpublishedIndex = null;
      await this.o.commit(file.lastOffset + 1n);
      // Older markers are no longer needed once the commit covers them.
      for (const m of await ledger.list(topic, partition)) if (m.firstN < file.firstOffset) await ledger.remove(m);
      const sealed: SealedFile = {
        topic,
        partition,
        dataPath,
        indexPath,
        firstOffset: file.firstOffset,
        lastOffset: file.lastOffset,
        count: index.count,
        bytes: file.length,
        minTsNs: index.minTsNs,
        maxTsNs: index.maxTsNs,
      };
      this.o.onSealed(sealed);
      return sealed;
    } catch (err) {
      if (!(err instanceof LostClaimError)) {
        await file.discard();
        // An index whose data never got published would sit beside a later, different file of the same name.
        if (unpublishedIndex && dataTarget && !(await storage.stat(dataTarget).catch(() => null))) {
          await storage.delete(unpublishedIndex).catch(() => false);
        }
      }
      throw err;
    }
  }

  /** Drops the open file without publishing (partition revoked, or a storage failure before sealing). */
  async abandon(): Promise<void> {
    const file = this.open;
    this.open = null;
    this.skippedThrough = null;
    if (file) await file.discard();
  }
}
