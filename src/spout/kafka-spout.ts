import type { Worker } from 'node:worker_threads';
import type { Producer } from 'kafkajs';
import { siblingModule, startWorker } from '../lib/worker.js';
import type { Logger } from '../lib/log.js';
import { type PackedBatch, unpackBatch } from './batch-transfer.js';
import type { SpoutOptions as ClientOptions } from './kafka-client.js';
import {
  type ConsumerCall,
  type ConsumerCalls,
  type ConsumerThreadData,
  type FromConsumer,
  fromThreadError,
  type ToConsumer,
} from './protocol.js';
import type { PartitionConsumer, PartitionOffsets, SpoutBatch, SpoutMessage } from './types.js';

export type { PartitionConsumer, PartitionOffsets, SpoutBatch, SpoutMessage } from './types.js';

export interface SpoutOptions extends Omit<ClientOptions, 'log'> {
  log: Logger;
  /**
   * Bytes of fetched batches handed to this thread and not yet handled, above which the consumer
   * thread stops fetching (default 4 MiB: two full fetches of 4 partitions; larger measured no faster).
   */
  windowBytes?: number;
  /** Starts the consumer thread (tests hand in a scripted one; default: ./consumer-thread.ts on a worker thread). */
  startThread?: (data: ConsumerThreadData) => ConsumerThread;
  /**
   * The caller seeks every partition it is assigned once it is ready for it (the topology's owners
   * do, after recovering): the consumer thread then holds a new partition's first batch for that
   * seek instead of handing it over to go stale (./first-seek-gate.ts). Off by default: a caller
   * that never seeks would wait the gate's bound on every assignment.
   */
  seeksAfterAssign?: boolean;
}

/** What the spout uses of the consumer thread's Worker. */
export type ConsumerThread = Pick<Worker, 'postMessage' | 'on' | 'terminate' | 'ref' | 'unref'>;

const CONSUMER_THREAD = siblingModule(import.meta.url, 'consumer-thread');

/** The consumer thread stopped without being asked to: the process must restart (nothing is lost). */
export class ConsumerThreadError extends Error {
  override name = 'ConsumerThreadError';
}

interface PendingCall {
  resolve: (value: never) => void;
  reject: (err: Error) => void;
}

interface RunHandlers {
  onBatch: (batch: SpoutBatch) => Promise<void>;
  onAssign: (partitions: number[]) => void;
  onKept: (partitions: number[]) => void;
  onRevoke: (partitions: number[]) => void;
  onCrash: (error: Error) => void;
  partitionsConcurrently: number;
  fromBeginning: boolean;
}

/**
 * The Kafka consumer group, run on a thread of its own (./consumer-thread.ts, around kafkajs in
 * ./kafka-client.ts) and driven from here, the ingest thread.
 * - Batches arrive packed, each partition's in fetch order; `onBatch` is called for them in that
 *   order and the consumer thread is told when each was handled (its hand-over window).
 * - A seek made here counts: batches handed over under an earlier seek of their partition are stale
 *   (`shouldContinue()` is false, or they are dropped unseen), as are those of a partition this
 *   member no longer holds. The consumer thread resolves offsets as it hands batches over, so a
 *   record not stored is fetched again only through a seek, which the partition owner always makes
 *   (recovery, a failure, a stale batch, a rebalance).
 * - Manual commits only; a commit for a partition the member no longer holds is refused there.
 * - The dead-letter producer runs here (rare, and its sends are awaited by the ingest thread).
 */
export class KafkaSpout implements PartitionConsumer {
  private readonly worker: ConsumerThread;
  private readonly calls = new Map<number, PendingCall>();
  private nextCallId = 1;
  private handlers: RunHandlers | null = null;
  private assignment = new Set<number>();
  /** Each partition's seek count, as `seek` made it. */
  private readonly seeks = new Map<number, number>();
  private readonly fetchClock = new BigInt64Array(new SharedArrayBuffer(8));
  private producer: Promise<Producer> | null = null;
  private stopping = false;
  private ended = false;

  constructor(private readonly options: SpoutOptions) {
    Atomics.store(this.fetchClock, 0, BigInt(Date.now()));
    // Started now, so its start-up (a V8 isolate, kafkajs) overlaps the caller's; it keeps the
    // process alive only once connected.
    this.worker = this.startThread();
    this.worker.unref();
  }

  /** Wall time of the last completed fetch, for the stall watchdog. */
  get lastFetchAt(): number {
    return Number(Atomics.load(this.fetchClock, 0));
  }

  async connect(): Promise<void> {
    this.worker.ref();
    await this.call('connect');
  }

  /**
   * Starts consuming. `onAssign`/`onRevoke` are called on every (re)join with the difference to the
   * previous assignment; `onBatch` with each fetched batch of one partition.
   */
  async run(handlers: RunHandlers): Promise<void> {
    this.handlers = handlers;
    await this.call('run', {
      partitionsConcurrently: handlers.partitionsConcurrently,
      fromBeginning: handlers.fromBeginning,
    });
  }

  /** Whether this member holds the partition in the current generation. */
  owns(partition: number): boolean {
    return this.assignment.has(partition);
  }

  get assignedCount(): number {
    return this.assignment.size;
  }

  commit(partition: number, nextOffset: bigint): Promise<void> {
    return this.call('commit', partition, nextOffset);
  }

  /** The group's committed offset (next offset to read), or null when there is none. */
  committed(partition: number): Promise<bigint | null> {
    return this.call('committed', partition);
  }

  async offsets(partition: number): Promise<PartitionOffsets> {
    const p = (await this.allOffsets()).get(partition);
    if (!p) throw new Error(`partition ${partition} of ${this.options.topic} does not exist`);
    return p;
  }

  /** Earliest and end offsets of every partition of the topic, in one request. */
  allOffsets(): Promise<Map<number, PartitionOffsets>> {
    return this.call('allOffsets');
  }

  /** Total lag of the group over all partitions (high watermark minus committed), for metrics. */
  lag(): Promise<{ consumerLag: bigint }> {
    return this.call('lag');
  }

  seek(partition: number, offset: bigint): void {
    const seq = (this.seeks.get(partition) ?? 0) + 1;
    this.seeks.set(partition, seq);
    this.post({ kind: 'seek', partition, offset, seq });
  }

  /** A producer on the same cluster (dead-letter copies). */
  producerFor(): Promise<Producer> {
    // Cache the connecting promise, not the producer: concurrent first sends must wait for the connect.
    this.producer ??= (async () => {
      // kafkajs is loaded here only when a dead-letter topic is used: the consumer thread has its own.
      const { createKafka } = await import('./kafka-client.js');
      const producer = createKafka(this.options).producer({ allowAutoTopicCreation: true, idempotent: false });
      await producer.connect();
      return producer;
    })();
    this.producer.catch(() => {
      this.producer = null;
    });
    return this.producer;
  }

  /** Stop handing out batches (running handlers see shouldContinue() === false). */
  beginStop(): void {
    this.stopping = true;
    this.post({ kind: 'stop' });
  }

  async disconnect(): Promise<void> {
    this.stopping = true;
    if (!this.ended) {
      this.post({ kind: 'stop' });
      await this.call('disconnect').catch(() => {});
      this.ended = true;
      await this.worker.terminate();
    }
    await this.producer?.then((p) => p.disconnect()).catch(() => {});
  }

  private startThread(): ConsumerThread {
    const { log, windowBytes, startThread, seeksAfterAssign, ...options } = this.options;
    const workerData: ConsumerThreadData = {
      options,
      fetchClock: this.fetchClock.buffer as SharedArrayBuffer,
      windowBytes: windowBytes ?? 4 << 20,
      holdFirstBatch: seeksAfterAssign ?? false,
    };
    const worker = startThread
      ? startThread(workerData)
      : startWorker(CONSUMER_THREAD, { name: 'pcapline-kafka-consumer', workerData });
    worker.on('message', (m: FromConsumer) => this.received(m));
    const died = (why: string) => {
      if (this.ended) return;
      this.ended = true;
      const err = new ConsumerThreadError(why);
      for (const call of this.calls.values()) call.reject(err);
      this.calls.clear();
      this.handlers?.onCrash(err);
    };
    worker.on('error', (err) => died(`the Kafka consumer thread failed: ${err.message}`));
    worker.on('messageerror', (err) => died(`the Kafka consumer thread sent an unreadable message: ${err.message}`));
    worker.on('exit', (code) => died(`the Kafka consumer thread stopped unexpectedly (exit code ${code})`));
    return worker;
  }

  private post(message: ToConsumer, transfer?: ArrayBuffer[]): void {
    if (!this.ended) this.worker.postMessage(message, transfer);
  }

  private call<M extends ConsumerCall>(
    method: M,
    ...args: ConsumerCalls[M]['args']
  ): Promise<ConsumerCalls[M]['result']> {
    if (this.ended) return Promise.reject(new ConsumerThreadError('the Kafka consumer thread is not running'));
    const id = this.nextCallId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.post({ kind: 'call', id, method, args });
    });
  }

  private received(m: FromConsumer): void {
    switch (m.kind) {
      case 'reply': {
        const call = this.calls.get(m.id);
        this.calls.delete(m.id);
        if (!call) return;
        if (m.ok) call.resolve(m.value as never);
        else call.reject(fromThreadError(m.error));
        return;
      }
      case 'batch':
        this.deliver(m.batch);
        return;
      case 'join': {
        const { change } = m;
        this.assignment = new Set(change.assignment);
        const h = this.handlers;
        if (!h) return;
        if (change.revoked.length) h.onRevoke(change.revoked);
        if (change.kept.length) h.onKept(change.kept);
        h.onAssign(change.assigned);
        return;
      }
      case 'crash':
        if (!this.stopping) this.handlers?.onCrash(fromThreadError(m.error));
        return;
      case 'log':
        this.options.log[m.level](m.fields, m.message);
        return;
    }
  }

  /** Hands a batch to `onBatch` (in arrival order), unless it is already stale; acknowledges it once handled. */
  private deliver(packed: PackedBatch): void {
    const { partition, seq } = packed;
    // No view of the buffer is used after this (dead-letter copies are copies): it goes back for reuse.
    const ack = () => this.post({ kind: 'ack', buffer: packed.buffer }, [packed.buffer]);
    const current = () => !this.stopping && (this.seeks.get(partition) ?? 0) === seq && this.assignment.has(partition);
    const handlers = this.handlers;
    if (!handlers || !current()) {
      ack();
      return;
    }
    let messages: SpoutMessage[] | null = null;
    const batch: SpoutBatch = {
      topic: this.options.topic,
      partition,
      // Unpacked when the partition gets to it: batches queued behind a seal stay one buffer each.
      get messages() {
        messages ??= unpackBatch(packed);
        return messages;
      },
      resolveOffset: () => {}, // the consumer thread resolved the batch when it handed it over
      shouldContinue: current,
    };
    handlers.onBatch(batch).then(ack, (err: unknown) => {
      ack();
      if (!this.stopping) handlers.onCrash(err instanceof Error ? err : new Error(String(err)));
    });
  }
}
