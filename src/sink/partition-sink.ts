import type { FileStatus, Storage } from '../storage/types.js';
import { isStorageError } from '../storage/errors.js';
import { formatPcapFileName } from '../formats/file-name.js';
import type { BloomFilter } from '../formats/index/bloom.js';
import type { IndexSummary } from '../formats/index/packet-index-format.js';
import type { SinkLayout } from './layout.js';
import type { Ledger, PreparedClaim, SealMarker } from './ledger.js';
import { ChunkPool, OpenFile } from './open-file.js';
import { SealQueue, type SealTurn } from './seal-queue.js';
import { mustRoll, type RollPolicy, rollDeadline, rollsBy } from './roll-policy.js';
import { PcaplineError } from '../lib/errors.js';
import { type IndexEncoder, inThreadIndexEncoder } from './index-encoding/index-encoder.js';

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
  /** The index's sketches per term field (null when the index is v1): the catalog entry's. */
  sketches: Map<string, BloomFilter> | null;
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
  /** Commit `offset` (the next offset to read) for this partition. The sink never calls it with a lower offset than before. */
  commit: (offset: bigint) => Promise<void>;
  onSealed: (file: SealedFile) => void;
  /** Awaited before a range is claimed and before any offset commit: dead-letter copies must be acknowledged first. */
  beforeCommit: () => Promise<void>;
  /** `kafka.pcap.reingest`: stamped into every marker, so a deliberate re-ingest happens once. */
  reingest?: string;
  /** Told when a seal starts and when its commit starts (the owner's lifecycle states). */
  onPhase?: (phase: 'sealing' | 'committing') => void;
  /** A background seal failed: recover the partition now (its records are re-read), not at its next batch. */
  onSealFailed?: (err: unknown) => void;
  /** Encodes each sealed file's index (default: on this thread; the topology uses a worker thread). */
  indexEncoder?: IndexEncoder;
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
 * A claim's data name holds another file while its own in-progress file still exists: never
 * counted as published (its records would be committed but stored nowhere).
 */
export class NameTakenError extends PcaplineError {
  constructor(topic: string, partition: number, dataPath: string, ours: number, theirs: number | undefined) {
    super(
      'PCAPLINE_NAME_TAKEN',
      `${topic}/${partition}: ${dataPath} already holds another file (${theirs ?? '?'} bytes; ours has ${ours}); not publishing over it`,
      { retriable: true },
    );
  }
}

/** Compares two files of `length` bytes range by range (a rare path: memory stays at two ranges). */
async function sameBytes(storage: Storage, a: string, b: string, length: number): Promise<boolean> {
  const step = 8 << 20;
  for (let at = 0; at < length; at += step) {
    const n = Math.min(step, length - at);
    const [x, y] = await Promise.all([storage.readBuffer(a, at, n), storage.readBuffer(b, at, n)]);
    if (!x.equals(y)) return false;
  }
  return true;
}

const dirOf = (path: string): string => path.slice(0, path.lastIndexOf('/'));

/** Promise.all that waits for every promise to settle before it rejects (with the first failure in order). */
async function allSettledOrThrow<T extends readonly unknown[]>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

/** What `settle` concluded about a claim that is not (or may not be) ours to publish. */
type Settled = 'published' | 'dropped';

/**
 * The rolling writer and seal protocol of one partition (docs/exactly-once.md §4):
 *   write the in-progress file and index → claim a seal marker (exclusive, never half-visible) →
 *   fence against newer writer epochs → rename index and data into place (publish) → commit →
 *   trim older markers.
 * Recovery (`src/sink/recovery.ts`) brings the store and Kafka into agreement before it writes.
 */
export class PartitionSink {
  private open: OpenFile | null = null;
  /** The open file's time-roll deadline (roll-policy.ts `rollDeadline`, for `rollsBy`), null for none. */
  private openRollAt: bigint | null = null;
  /** Next offset this sink expects; records below it are already stored or handled. */
  nextOffset: bigint | null = null;
  /** This writer's epoch (set by recovery); every claim carries it. */
  epoch: bigint | null = null;
  /** Offsets of malformed records past the last sealed file, committed once no file is open. */
  private skippedThrough: bigint | null = null;
  /** The highest offset committed (or found committed) for this partition: commits never go below it. */
  private committedOffset: bigint | null = null;
  /** Directories known to exist (buckets of the time-bucketed layouts). */
  private readonly knownDirs = new Set<string>();
  /** Seals running while the next file fills (docs/exactly-once.md §4). */
  private readonly seals = new SealQueue((err) => this.options.onSealFailed?.(err));
  /** Data file names chosen by seals not yet published: two files of a burst can share a first time. */
  private readonly reservedNames = new Set<string>();
  /** Chunk buffers of completed files, for the next files of this partition. */
  private readonly chunkPool = new ChunkPool();
  /**
   * Older markers this writer epoch already deletes or deleted: the listing of the seal after it,
   * made while those deletes are still under way, names them again (small files: half a DELETE
   * more per seal). Only names the latest listing still shows are kept.
   */
  private readonly trimmed = new Set<string>();

  constructor(readonly options: PartitionSinkOptions) {}

  get topic(): string {
    return this.options.topic;
  }
  get partition(): number {
    return this.options.partition;
  }
  get openFile(): OpenFile | null {
    return this.open;
  }
  /** The last committed offset as this sink knows it. */
  get committed(): bigint | null {
    return this.committedOffset;
  }

  /** Starts a new writer epoch at `resume` (called by recovery only). */
  begin(epoch: bigint, resume: bigint, committed: bigint | null): void {
    this.open = null;
    this.skippedThrough = null;
    this.seals.reset();
    this.trimmed.clear();
    this.epoch = epoch;
    this.nextOffset = resume;
    this.committedOffset = committed;
  }

  /**
   * Commits `offset` unless a commit at or above it was already made: a stale value (a skipped
   * record's offset read before a seal moved on) must never move the group backwards.
   */
  async commit(offset: bigint): Promise<void> {
    if (this.committedOffset !== null && offset <= this.committedOffset) return;
    await this.options.beforeCommit();
    await this.options.commit(offset);
    if (this.committedOffset === null || offset > this.committedOffset) this.committedOffset = offset;
  }

  /** Sets the committed offset to exactly `offset`, even below the current one (a start mode's deliberate rewind). */
  async commitExactly(offset: bigint): Promise<void> {
    await this.options.commit(offset);
    this.committedOffset = offset;
  }

  /**
   * The open file when a record of time `tsNs` can go straight into it (no roll due, no failed
   * seal), else null: then call `fileFor`. The consume loop's path without an await per record.
   */
  openFileFor(tsNs: bigint): OpenFile | null {
    const open = this.open;
    if (open === null || this.seals.failed !== null || rollsBy(this.options.policy, open.count, this.openRollAt, tsNs))
      return null;
    return open;
  }

  /**
   * The file records go into. A full file (per the roll policy) is sealed in the background while
   * the next one fills; when the seal queue is at its limits this waits for room first, and a failed
   * seal is thrown here: the partition must recover.
   */
  async fileFor(offset: bigint, tsNs: bigint): Promise<OpenFile> {
    this.seals.throwIfFailed();
    const open = this.open;
    if (open && mustRoll(this.options.policy, open.count, open.firstTsNs, tsNs)) {
      await this.seals.room(open.count);
      this.seals.throwIfFailed();
      this.open = null;
      // Its claim waits for the previous seal's publish and its commit for the previous commit, so
      // claims, publishes and commits keep offset order.
      this.seals.start((turn) => this.sealFile(open, turn), open.count);
    }
    if (!this.open) {
      const { storage, layout, topic, partition, instanceId, chunkBytes, replication } = this.options;
      this.open = new OpenFile(storage, layout, topic, partition, offset, tsNs, instanceId, chunkBytes, replication, {
        chunkPool: this.chunkPool,
        expectedCount: this.options.policy.numPackets,
      });
      this.openRollAt = rollDeadline(this.options.policy, tsNs);
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
    this.open!.lastActivity = Date.now();
    if (this.recordAppended(offset)) await this.sendChunk();
  }

  /**
   * After a record was appended to the open file, without an await: true when its chunk is full and
   * `sendChunk()` must run before the next record. (The caller updates `lastActivity`, once per batch.)
   */
  recordAppended(offset: bigint): boolean {
    const open = this.open!;
    open.lastOffset = offset;
    this.nextOffset = offset + 1n;
    return open.chunkFull;
  }

  /** Sends the open file's full chunk to storage. */
  async sendChunk(): Promise<void> {
    await this.open!.sendChunk();
  }

  /** The background seal's failure, until recovery (or `abandon`) clears it. */
  get sealFailed(): unknown {
    return this.seals.failed;
  }

  /** True while files are being sealed in the background. */
  get sealInFlight(): boolean {
    return this.seals.size > 0;
  }

  /** Waits for the background seals, if any; throws the first failure. */
  async sealed(): Promise<void> {
    await this.seals.drain();
    this.seals.throwIfFailed();
  }

  /** Commits offsets of malformed records read while no file was open. */
  async commitSkipped(): Promise<void> {
    if (this.open || this.skippedThrough === null) return;
    // The skipped records come after the file being sealed, if any: commit past them only after it.
    await this.sealed();
    const through = this.skippedThrough;
    await this.commit(through + 1n);
    if (this.skippedThrough === through) this.skippedThrough = null;
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await this.options.storage.mkdirs(dir);
    this.knownDirs.add(dir);
  }

  /** Seals the open file, if any, after the background seal: when this resolves, everything read is sealed and committed. */
  async seal(): Promise<SealedFile | null> {
    await this.sealed();
    const file = this.open;
    if (!file) return null;
    this.open = null;
    return this.sealFile(file, {
      previousPublished: Promise.resolve(),
      previousCommitted: Promise.resolve(),
      published: () => {},
      committed: () => {},
    });
  }

  /**
   * Seals one file: durable data, index and temporary claim; then, once the seal before it published,
   * claim, fence, publish; once that seal committed, commit; then trim.
   */
  private async sealFile(file: OpenFile, turn: SealTurn): Promise<SealedFile> {
    const { storage, layout, ledger, topic, partition, instanceId } = this.options;
    this.options.onPhase?.('sealing');
    let claimed: SealMarker | null = null;
    /** The claim written under its temporary name, until it is renamed (or dropped). */
    let pending: PreparedClaim | null = null;
    const plainName = formatPcapFileName(topic, file.firstTsNs, partition, instanceId);
    const uniqueName = formatPcapFileName(topic, file.firstTsNs, partition, `${instanceId}.${file.firstOffset}`);
    // Two files of one partition can share a first timestamp (fastcapa stamps a whole burst with one
    // time); never overwrite: disambiguate the id with the first offset. A name another seal in
    // flight chose counts as taken: that file may not be published yet. The name is reserved before
    // any await: seals started back to back (the consume loop does not wait between rolls) would
    // otherwise both look, find it free, and publish under one name.
    let dataName = this.reservedNames.has(plainName) ? uniqueName : plainName;
    this.reservedNames.add(dataName);
    try {
      if (this.epoch === null) throw new LostClaimError(topic, partition, 'no writer epoch (not reconciled)');
      const index = file.index;
      if (dataName === plainName && (await storage.stat(layout.dataFile(plainName, file.firstTsNs)))) {
        this.reservedNames.delete(plainName);
        dataName = uniqueName;
        this.reservedNames.add(dataName);
      }
      const dataPath = layout.dataFile(dataName, file.firstTsNs);
      const indexPath = layout.indexFile(dataName, file.firstTsNs, index.minTsNs, index.maxTsNs);
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
      const marker: SealMarker = {
        first: file.firstOffset.toString(),
        last: file.lastOffset.toString(),
        tmpPath: file.tmpPath,
        tmpIndexPath: file.tmpIndexPath,
        dataPath,
        indexPath,
        count: index.count,
        instanceId,
        epoch: this.epoch.toString(),
        ...(this.options.reingest ? { reingest: this.options.reingest } : {}),
      };
      // Completing the data file, encoding and writing the index and writing the claim under its
      // temporary name are independent until the claim is renamed into place: do them concurrently
      // (on HDFS each closes a block, ~0.4 s; the index is encoded off this thread by the topology's
      // encoder). The index goes beside the in-progress file, a name no other writer uses: a loser
      // never touches a published index. All of them settle before a failure is handled, so the
      // clean-up below sees every temporary file that was made.
      const encoder = this.options.indexEncoder ?? inThreadIndexEncoder;
      const [, , prepared] = await allSettledOrThrow([
        file.complete(),
        encoder.encode(index, summary).then((body) => storage.create(file.tmpIndexPath, body, { overwrite: true })),
        ledger.prepareClaim(topic, partition, marker).then((c) => (pending = c)),
        this.ensureDir(layout.indexDir(file.firstTsNs)),
        this.ensureDir(dirOf(dataPath)),
      ] as const);
      // From here on, in offset order: an earlier file not published means this one must not be
      // claimed (recovery would take this claim's range as stored past a gap).
      await turn.previousPublished;
      await this.options.beforeCommit();
      pending = null;
      if (!(await ledger.commitClaim(prepared))) {
        await file.discard();
        throw new LostClaimError(topic, partition, `offset ${file.firstOffset} was sealed by another writer`);
      }
      claimed = marker;
      // The fence: a newer epoch means another writer took the partition after our recovery; its
      // recovery may already have moved past this range. One listing (names only) also gives the
      // markers to trim.
      const names = await ledger.names(topic, partition);
      const newer = await ledger.newerEpoch(topic, partition, this.epoch, names);
      if (newer !== null) {
        const outcome = await this.settle({ ...marker, markerPath: prepared.path });
        throw new LostClaimError(
          topic,
          partition,
          `writer epoch ${newer} took the partition over (this writer: ${this.epoch}); range ${file.firstOffset}-${file.lastOffset} ${outcome === 'published' ? 'was published by its recovery' : 'discarded'}`,
        );
      }
      // Just claimed under a name no published file had: no need to look before renaming.
      if (!(await this.publish(marker, { known: 'unpublished' }))) {
        await this.settle({ ...marker, markerPath: prepared.path });
        throw new LostClaimError(topic, partition, `in-progress file ${file.tmpPath} was removed by another writer`);
      }
      claimed = null;
      // The next seal may claim now: what this one still does (commit, trim) never decides what the
      // store holds, and the next claim's range starts where this published one ends.
      turn.published();
      this.options.onPhase?.('committing');
      await turn.previousCommitted;
      await this.commit(file.lastOffset + 1n);
      turn.committed();
      // Only the newest marker is needed: it is the partition's high-water mark in the store. A
      // marker another seal of this epoch already deletes is skipped (deleting twice would be harmless).
      const listed = new Set(names.markers.map((m) => m.markerPath));
      for (const path of this.trimmed) if (!listed.has(path)) this.trimmed.delete(path);
      const older = names.markers.filter((m) => m.firstN < file.firstOffset && !this.trimmed.has(m.markerPath));
      for (const m of older) this.trimmed.add(m.markerPath);
      // A failed delete is left to the next seal.
      await Promise.all(older.map((m) => ledger.remove(m).catch(() => this.trimmed.delete(m.markerPath))));
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
        sketches: index.sketches,
      };
      this.options.onSealed(sealed);
      return sealed;
    } catch (err) {
      // A claim we hold but could not publish (storage failure) stays: recovery rolls it forward.
      if (pending) await ledger.dropClaim(pending);
      if (!claimed && !(err instanceof LostClaimError)) await file.discard();
      throw err;
    } finally {
      this.reservedNames.delete(dataName);
    }
  }

  /**
   * Renames the marker's index and then its data into place, if that has not happened; false when
   * its data is gone (its in-progress file was removed by a newer writer's recovery). A seal that
   * just claimed the marker passes `known: 'unpublished'` and skips the look (the renames tell
   * anyway); recovery looks first.
   */
  async publish(marker: SealMarker, options: { known?: 'unpublished' } = {}): Promise<boolean> {
    const { storage } = this.options;
    if (options.known !== 'unpublished') {
      const data = await storage.stat(marker.dataPath);
      if (data) return this.publishedHere(marker, data);
    }
    await this.ensureDir(dirOf(marker.dataPath));
    if (marker.tmpIndexPath) await this.publishIndex(marker.tmpIndexPath, marker.indexPath);
    try {
      await storage.rename(marker.tmpPath, marker.dataPath);
      return true;
    } catch (err) {
      if (isStorageError(err, 'FileNotFoundException')) return (await storage.stat(marker.dataPath)) !== null;
      if (isStorageError(err, 'FileAlreadyExistsException')) return this.publishedHere(marker);
      throw err;
    }
  }

  /**
   * The data name exists: true when it holds this marker's file. Its in-progress file is gone then
   * (renamed by us or a recovery), or is the same file still linked under both names (the local back
   * end publishes with link then unlink, and a crash may fall between). Any other file under the
   * taken name is a name collision: counting it as published would commit
   * records no file holds, so this refuses (the partition recovers and retries, and its watchdog
   * names it if that never succeeds) and loses nothing.
   */
  private async publishedHere(marker: SealMarker, known?: FileStatus): Promise<boolean> {
    const { storage } = this.options;
    const [data, tmp] = await Promise.all([known ?? storage.stat(marker.dataPath), storage.stat(marker.tmpPath)]);
    if (tmp === null) return data !== null;
    if (
      data !== null &&
      data.length === tmp.length &&
      (await sameBytes(storage, marker.dataPath, marker.tmpPath, tmp.length))
    ) {
      await storage.delete(marker.tmpPath).catch(() => false);
      return true;
    }
    throw new NameTakenError(this.options.topic, this.options.partition, marker.dataPath, tmp.length, data?.length);
  }

  private async publishIndex(tmpIndexPath: string, indexPath: string): Promise<void> {
    const { storage } = this.options;
    await this.ensureDir(dirOf(indexPath));
    try {
      await storage.rename(tmpIndexPath, indexPath);
    } catch (err) {
      // Already moved (a recovery rolled it forward), or gone: the data file is still published
      // (queries scan a file without an index).
      if (isStorageError(err, 'FileNotFoundException')) return;
      if (!isStorageError(err, 'FileAlreadyExistsException')) throw err;
      // An index of the same name whose data was never published (an abandoned seal): ours replaces it.
      await storage.delete(indexPath).catch(() => false);
      await storage.rename(tmpIndexPath, indexPath).catch(() => {});
    }
  }

  /**
   * Resolves a claim that must not be published by this writer (it lost the fence, or recovery
   * found it overlapped): the in-progress file goes first (the publish point is its rename); if it
   * was already gone and the data file exists, another writer's recovery published it, and the
   * marker stays. A published index is never deleted here: it may belong to a winner of the same name.
   */
  async settle(marker: SealMarker & { markerPath: string }): Promise<Settled> {
    const { storage, ledger } = this.options;
    const removed = await storage.delete(marker.tmpPath).catch(() => false);
    if (!removed && (await storage.stat(marker.dataPath))) return 'published';
    if (marker.tmpIndexPath) await storage.delete(marker.tmpIndexPath).catch(() => false);
    await ledger.removeIfSame(marker).catch(() => {});
    return 'dropped';
  }

  /**
   * Drops the open file without publishing (partition revoked, or a storage failure before sealing),
   * and waits for the background seal to end either way, so recovery never runs beside it.
   */
  async abandon(): Promise<void> {
    const file = this.open;
    this.open = null;
    this.skippedThrough = null;
    if (file) await file.discard();
    await this.seals.drain();
    this.seals.reset();
  }
}
