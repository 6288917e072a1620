import type { StartMode } from '../config/topology-config.js';
import type { PartitionConsumer, SpoutBatch } from '../spout/types.js';
import { Mutex } from '../lib/mutex.js';
import { DeadLetterError, type DeadLetterQueue } from './dead-letters.js';
import { PartitionSink, type PartitionSinkOptions, type SealedFile } from './partition-sink.js';
import type { RecordEncoder, RejectedRecord } from './record-encoder.js';
import { recoverPartition, type RecoveryResult } from './recovery.js';

/**
 * The life of one partition in this process, in one place:
 *
 *   assigned ─recover─▶ reconciled ─seek─▶ seeked ─batch─▶ consuming ─roll/idle/stop─▶ sealing
 *      ▲                                                      ▲                          │
 *      │ failure (retry after a pause)                        └──────── committing ◀─────┘
 *   revoked ◀─ revoke/stop (from any state)
 *
 * A rejoin that keeps the partition re-seeks it to the sink's position (kafkajs rewinds kept
 * partitions to the committed offset); a batch behind the position seeks forward instead of
 * waiting. docs/exactly-once.md §7 lists each case and the unit test that shows it.
 */
export type PartitionState = 'assigned' | 'reconciled' | 'seeked' | 'consuming' | 'sealing' | 'committing' | 'revoked';

export interface PartitionOwnerHooks {
  onSealed(file: SealedFile): void;
  /** A malformed record (already counted by the owner's caller through this hook). */
  onBadRecord(
    partition: number,
    offset: string,
    key: Buffer | null,
    value: Buffer | null,
    rejected: RejectedRecord,
  ): void;
  onRecord(): void;
  /** A failure the owner recovers from by reconciling (logged by the caller, rate-limited). */
  onFailure(partition: number, err: unknown): void;
  /** A failure that must end the process (exit 1, restarted by a supervisor). */
  onFatal(err: Error): void;
  onReconciled(partition: number, result: RecoveryResult, base: bigint, committed: bigint | null): void;
  onTransition?(partition: number, from: PartitionState, to: PartitionState): void;
}

export interface PartitionOwnerOptions {
  partition: number;
  consumer: PartitionConsumer;
  sink: Omit<PartitionSinkOptions, 'partition' | 'commit' | 'beforeCommit' | 'onSealed' | 'onPhase'>;
  start: StartMode;
  encoder: RecordEncoder;
  /** Dead-letter copies of this partition's malformed records, or null when no topic is set. */
  deadLetters: DeadLetterQueue | null;
  hooks: PartitionOwnerHooks;
  /** Pause before reconciling after a failure (default 500 ms). */
  retryDelayMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PartitionOwner {
  readonly partition: number;
  readonly sink: PartitionSink;
  private readonly lock = new Mutex();
  private current: PartitionState = 'assigned';
  /** Whether this process held the partition before: EARLIEST/LATEST apply to the first assignment only. */
  private assignedBefore = false;
  private stopping = false;
  private failedForGood = false;
  /** Progress watch: the last position seen and when it moved (or when there was nothing to do). */
  private lastPosition: bigint | null = null;
  private lastProgressAt = Date.now();
  private lastFailureAt = 0;
  /** Set when the watchdog re-sought the partition; cleared by progress. */
  nudged = false;

  constructor(private readonly options: PartitionOwnerOptions) {
    this.partition = options.partition;
    this.sink = new PartitionSink({
      ...options.sink,
      partition: options.partition,
      commit: (offset) => options.consumer.commit(options.partition, offset),
      beforeCommit: () => options.deadLetters?.flush() ?? Promise.resolve(),
      onSealed: (file) => options.hooks.onSealed(file),
      onPhase: (phase) => this.enter(phase),
      onSealFailed: (err) => {
        void this.lock.run(async () => {
          // Still the failure it was (no recovery, revoke or stop dealt with it meanwhile): recover now.
          if (this.sink.sealFailed === err && !this.stopping && this.current !== 'revoked') await this.failed(err);
        });
      },
    });
  }

  get state(): PartitionState {
    return this.current;
  }

  /** The next offset this partition consumes from, or null until recovered. */
  get position(): bigint | null {
    return this.sink.nextOffset;
  }

  private enter(next: PartitionState): void {
    if (this.current === next) return;
    const from = this.current;
    this.current = next;
    this.options.hooks.onTransition?.(this.partition, from, next);
  }

  /** The partition was assigned to this process (newly, or again after a revoke): recover and seek. */
  assign(): Promise<void> {
    return this.lock.run(async () => {
      this.enter('assigned');
      this.sink.nextOffset = null;
      try {
        await this.recover();
      } catch (err) {
        // The next batch of this partition recovers again.
        this.lastFailureAt = Date.now();
        this.sink.nextOffset = null;
        if (!this.stopping) this.options.hooks.onFailure(this.partition, err);
      }
    });
  }

  /**
   * A rejoin kept the partition: kafkajs has rewound its fetch position to the committed offset,
   * which may lie far behind records already in the open file. Seek back to the sink's position.
   */
  kept(): void {
    const position = this.sink.nextOffset;
    if (position !== null && this.current !== 'revoked') this.options.consumer.seek(this.partition, position);
  }

  /** Recovers the partition (new epoch, ledger, roll forward) and seeks the consumer to the result. */
  private async recover(): Promise<bigint> {
    const { consumer, partition, start } = this.options;
    const committed = await consumer.committed(partition);
    const first = !this.assignedBefore;
    let base: bigint;
    let rewind = false;
    if ((first && (start === 'EARLIEST' || start === 'LATEST')) || committed === null) {
      const { low, high } = await consumer.offsets(partition);
      const earliest = start === 'EARLIEST' || (committed === null && start === 'UNCOMMITTED_EARLIEST');
      base = earliest ? low : high;
      rewind = first && (start === 'EARLIEST' || start === 'LATEST');
    } else {
      base = committed;
    }
    const result = await recoverPartition(this.sink, {
      base,
      committed,
      rewind,
      reingest: first ? this.options.sink.reingest : undefined,
    });
    this.assignedBefore = true;
    this.options.deadLetters?.clear();
    this.enter('reconciled');
    this.options.hooks.onReconciled(partition, result, base, committed);
    if (!this.stopping) {
      consumer.seek(partition, result.resume);
      this.enter('seeked');
    }
    return result.resume;
  }

  /** One fetched batch of this partition. */
  handle(batch: SpoutBatch): Promise<void> {
    return this.lock.run(async () => {
      const { consumer, partition } = this.options;
      if (this.current === 'revoked' || this.stopping || this.failedForGood || !consumer.owns(partition)) return;
      try {
        if (this.sink.nextOffset === null) await this.recover();
        const position = this.sink.nextOffset!;
        const first = batch.messages[0];
        if (!first) return;
        if (BigInt(first.offset) < position) {
          // Behind the position (kafkajs rewound to the committed offset after a rejoin, or a batch
          // fetched before our seek): those records are stored or in the open file. Seek forward.
          consumer.seek(partition, position);
          return;
        }
        this.enter('consuming');
        await this.consume(batch);
      } catch (err) {
        await this.failed(err);
      }
    });
  }

  /**
   * The per-record hot path. No await per record: the open file is taken synchronously unless a
   * roll is due, and its chunk is sent only when full. So the batch can only go stale (a seek, a
   * rebalance, a stop) across one of those awaits: that is where `shouldContinue()` is asked, not
   * per record. The handled offset is resolved once, when the loop ends. (The Kafka spout's consumer
   * thread already resolved the whole batch when it handed it over: a tail this loop leaves unhandled
   * is fetched again through the seek that made the batch stale, docs/design.md §1.)
   * Offsets are parsed into bigints only where one is needed: a batch's records are in offset order,
   * so only its first records are compared with the position, and the sink learns the last appended
   * offset before anything can look at it (a roll, a chunk send, a skipped record, the loop's end),
   * not per record (a BigInt parse and an addition per record were ~3% of the ingest thread).
   */
  private async consume(batch: SpoutBatch): Promise<void> {
    const { sink } = this;
    const { encoder, hooks, deadLetters, partition } = this.options;
    let handled: string | null = null;
    /** The offset of the last record appended that the sink has not been told of yet. */
    let untold: string | null = null;
    let behind = true;
    let awaited = true;
    try {
      for (const message of batch.messages) {
        if (awaited) {
          if (!batch.shouldContinue() || this.stopping) return;
          awaited = false;
        }
        if (behind) {
          if (BigInt(message.offset) < sink.nextOffset!) {
            handled = message.offset;
            continue;
          }
          behind = false; // offsets only grow within a batch
        }
        hooks.onRecord();
        const verdict = encoder.check(message.key, message.value);
        if (verdict) {
          if (untold !== null) sink.recordAppended(BigInt(untold));
          untold = null;
          hooks.onBadRecord(partition, message.offset, message.key, message.value, verdict);
          deadLetters?.add(`${sink.topic}/${partition}/${message.offset}`, {
            key: message.key,
            value: message.value,
            headers: {
              'pcapline-reject-reason': verdict.reason,
              'pcapline-reject-detail': verdict.detail,
              'pcapline-source': `${sink.topic}/${partition}/${message.offset}`,
            },
          });
          sink.skipped(BigInt(message.offset));
        } else {
          let file = sink.openFileFor(encoder.tsNs);
          if (file === null) {
            // A roll seals the open file in the background: its last offset must be known first.
            if (untold !== null) sink.recordAppended(BigInt(untold));
            untold = null;
            file = await sink.fileFor(BigInt(message.offset), encoder.tsNs);
            awaited = true;
          }
          encoder.append(file);
          untold = message.offset;
          if (file.chunkFull) {
            sink.recordAppended(BigInt(untold));
            untold = null;
            await sink.sendChunk();
            awaited = true;
          }
        }
        handled = message.offset;
      }
    } finally {
      if (untold !== null) sink.recordAppended(BigInt(untold));
      if (handled !== null) batch.resolveOffset(handled);
      const open = sink.openFile;
      if (open) open.lastActivity = Date.now();
    }
    await sink.commitSkipped();
    this.enter('consuming');
  }

  /**
   * After any failure (storage outage, lost claim, broker error): drop the open file, pause,
   * recover again and seek back, so nothing uncommitted is skipped and nothing stored is written
   * twice. A dead-letter copy that cannot be delivered is fatal instead (never committed past).
   */
  private async failed(err: unknown): Promise<void> {
    this.lastFailureAt = Date.now();
    await this.sink.abandon().catch(() => {});
    this.sink.nextOffset = null;
    if (err instanceof DeadLetterError) {
      this.failedForGood = true;
      this.options.hooks.onFatal(err);
      return;
    }
    this.options.hooks.onFailure(this.partition, err);
    this.options.deadLetters?.clear();
    this.enter('assigned');
    if (this.stopping || this.current === 'revoked' || !this.options.consumer.owns(this.partition)) return;
    await sleep(this.options.retryDelayMs ?? 500);
    if (this.stopping) return;
    await this.recover().catch((e) => {
      this.lastFailureAt = Date.now();
      this.options.hooks.onFailure(this.partition, e);
    });
  }

  /** Seals the open file when it has seen no record for `idleMs` (wall time). */
  sealIfIdle(now: number, idleMs: number): Promise<void> | null {
    const open = this.sink.openFile;
    if (!open || now - open.lastActivity < idleMs || this.stopping) return null;
    return this.lock.run(async () => {
      if (this.sink.openFile !== open || this.stopping || this.current === 'revoked') return;
      try {
        await this.sink.seal();
        this.enter('consuming');
      } catch (err) {
        await this.failed(err);
      }
    });
  }

  /** The partition went to another member: drop the open file (the new owner re-reads its records). */
  revoke(): Promise<void> {
    return this.lock.run(async () => {
      await this.sink.abandon().catch(() => {});
      this.sink.nextOffset = null;
      this.options.deadLetters?.clear();
      this.enter('revoked');
    });
  }

  /** Graceful stop: seal the open file and commit; on failure the records are re-read on restart. */
  stop(onError: (err: unknown) => void): Promise<void> {
    this.stopping = true;
    return this.lock.run(async () => {
      if (this.current !== 'revoked' && !this.failedForGood) {
        try {
          await this.sink.seal();
          await this.sink.commitSkipped();
        } catch (err) {
          onError(err);
          await this.sink.abandon().catch(() => {});
        }
      }
      this.enter('revoked');
    });
  }

  /** Records consumed into the open file, not yet durable and committed. */
  get openRecords(): number {
    const open = this.sink.openFile;
    return open ? Number(open.lastOffset - open.firstOffset) + 1 : 0;
  }

  /**
   * For the stall watchdog: how long this partition has had records to read (`endOffset` above
   * its position) without its position moving and without a failure being reported. Failures are
   * retried and logged; what this catches is a silent stall.
   */
  stalledFor(endOffset: bigint, now: number): number {
    const position = this.sink.nextOffset;
    if (this.current === 'revoked' || this.stopping) return 0;
    if (
      position !== this.lastPosition ||
      position === null ||
      endOffset <= position ||
      this.lastFailureAt > this.lastProgressAt
    ) {
      this.lastPosition = position;
      this.lastProgressAt = now;
      this.nudged = false;
      return 0;
    }
    return now - this.lastProgressAt;
  }

  /** The watchdog's first remedy: seek the consumer to the position again (or recover when unknown). */
  nudge(now: number): void {
    this.nudged = true;
    this.lastProgressAt = now;
    const position = this.sink.nextOffset;
    if (position !== null) this.options.consumer.seek(this.partition, position);
  }
}
