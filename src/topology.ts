import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { ConfigError, type TopologyConfig } from './config/topology-config.js';
import { StorageError } from './storage/errors.js';
import { openStorage, parseStorageUri } from './storage/index.js';
import { CatalogHook } from './catalog/catalog-writer.js';
import { storeIsFullyIndexed } from './catalog/completeness.js';
import type { Storage } from './storage/types.js';
import { KafkaSpout, type SpoutBatch } from './spout/kafka-spout.js';
import { SinkLayout } from './sink/layout.js';
import { Ledger } from './sink/ledger.js';
import { LostClaimError, PartitionSink } from './sink/partition-sink.js';
import { RecordEncoder, type RejectedRecord } from './sink/record-encoder.js';
import { Mutex } from './lib/mutex.js';
import { IngestMetrics, serveMetrics } from './lib/metrics.js';
import { createLogger, RateLimiter, type Logger } from './lib/log.js';

export type { SealedFile } from './sink/partition-sink.js';
export interface BadRecord extends RejectedRecord {
  topic: string;
  partition: number;
  offset: string;
}

export interface TopologyOptions {
  log?: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One ingest process: a Kafka consumer-group member that drains its partitions into rolled,
 * Metron-compatible packet files, exactly once. Start several with the same group id to scale out.
 * Events: 'sealed' (SealedFile), 'bad-record' (BadRecord), 'fatal' (Error: the process should exit
 * non-zero and be restarted; nothing is lost because offsets trail durable data).
 */
export class Topology extends EventEmitter {
  readonly metrics = new IngestMetrics();
  private readonly log: Logger;
  private readonly storage: Storage;
  private readonly layout: SinkLayout;
  private readonly ledger: Ledger;
  private readonly catalog: CatalogHook;
  private readonly spout: KafkaSpout;
  /** One encoder per partition: batches of different partitions interleave at every await. */
  private readonly encoders = new Map<number, RecordEncoder>();
  private readonly sinks = new Map<number, PartitionSink>();
  private readonly locks = new Map<number, Mutex>();
  private readonly pendingDeadLetters = new Map<number, Promise<unknown>[]>();
  private readonly everAssigned = new Set<number>();
  private readonly badLogLimit = new RateLimiter(10, 10000);
  private readonly failureLogLimit = new RateLimiter(5, 10000);
  private timers: NodeJS.Timeout[] = [];
  private metricsServer: Server | null = null;
  private stopping = false;
  private stopped: Promise<void> | null = null;
  metricsPort: number | null = null;

  private constructor(
    readonly config: TopologyConfig,
    options: TopologyOptions,
  ) {
    super();
    this.log = options.log ?? createLogger('pcap-topology');
    const { root, path } = parseStorageUri(config.out);
    this.storage = openStorage(root);
    this.layout = new SinkLayout(path);
    this.ledger = new Ledger(this.storage, this.layout);
    // The store catalog's seal hook (docs/design.md §7): after publish and commit, idempotent, never fatal.
    this.catalog = new CatalogHook(this.storage, path, storeIsFullyIndexed, (message) => this.log.warn(message));
    this.spout = new KafkaSpout({
      brokers: config.bootstrapServers,
      groupId: config.groupId,
      topic: config.topic,
      clientId: `pcapline-${config.instanceId}`,
      sessionTimeoutMs: config.sessionTimeoutMs,
      security: config.security,
      log: this.log,
    });
  }

  /** Connects, reconciles assigned partitions as they arrive, and starts consuming. */
  static async start(config: TopologyConfig, options: TopologyOptions = {}): Promise<Topology> {
    const t = Topology.create(config, options);
    await t.begin();
    return t;
  }

  /** A topology not started yet: `stop()` may be called while `begin()` still waits on the cluster. */
  static create(config: TopologyConfig, options: TopologyOptions = {}): Topology {
    return new Topology(config, options);
  }

  async begin(): Promise<void> {
    const { config } = this;
    await this.retry(
      'create the output directory',
      async () => {
        try {
          await this.storage.mkdirs(this.layout.out);
        } catch (err) {
          // A path that can never work (a file in the way, no permission) is a configuration error, not an outage.
          if (err instanceof StorageError && !err.retriable && err.exception !== 'IOException') {
            throw new ConfigError('kafka.pcap.out', `cannot create ${config.out}: ${err.message}`);
          }
          throw err;
        }
      },
      (err) => err instanceof ConfigError,
    );
    await this.spout.connect();
    if (config.metricsPort !== undefined) {
      const { server, port } = await serveMetrics(this.metrics, config.metricsPort);
      this.metricsServer = server;
      this.metricsPort = port;
    }
    this.timers.push(setInterval(() => void this.sealIdle(), 1000));
    if (config.statsIntervalMs > 0) this.timers.push(setInterval(() => void this.stats(), config.statsIntervalMs));
    this.timers.push(setInterval(() => this.watchdog(), 5000));
    for (const t of this.timers) t.unref();
    await this.spout.run({
      partitionsConcurrently: 8,
      fromBeginning: config.start.endsWith('EARLIEST'),
      onBatch: (batch) => this.onBatch(batch),
      onAssign: (partitions) => {
        this.log.info({ partitions }, 'partitions assigned');
        for (const p of partitions) {
          this.withPartition(p, () => this.ensureReconciled(p)).catch((err) => {
            if (!this.stopping)
              this.log.warn(
                { partition: p, err: (err as Error).message },
                'reconcile on assignment failed; retried on the next batch',
              );
          });
        }
      },
      onRevoke: (partitions) => {
        this.log.info({ partitions }, 'partitions revoked');
        for (const p of partitions) {
          void this.withPartition(p, async () => {
            await this.sinks
              .get(p)
              ?.abandon()
              .catch(() => {});
            this.sinks.delete(p);
            this.encoders.delete(p);
          });
        }
      },
      onCrash: (error) => this.fatal(error),
    });
    this.log.info(
      { topic: config.topic, group: config.groupId, out: config.out, instance: config.instanceId },
      'topology started',
    );
  }

  private withPartition<T>(partition: number, fn: () => Promise<T>): Promise<T> {
    let lock = this.locks.get(partition);
    if (!lock) {
      lock = new Mutex();
      this.locks.set(partition, lock);
    }
    return lock.run(fn);
  }

  private sinkFor(partition: number): PartitionSink {
    let sink = this.sinks.get(partition);
    if (!sink) {
      const { config } = this;
      sink = new PartitionSink({
        storage: this.storage,
        layout: this.layout,
        ledger: this.ledger,
        topic: config.topic,
        partition,
        instanceId: config.instanceId,
        policy: { numPackets: config.numPackets, maxTimeNs: BigInt(config.maxTimeMs) * 1_000_000n },
        chunkBytes: config.chunkBytes,
        replication: config.replication,
        fetchCommitted: () => this.spout.committed(partition),
        commit: (offset) => this.spout.commit(partition, offset),
        beforeCommit: () => this.flushDeadLetters(partition),
        onSealed: (file) => {
          this.metrics.filesSealed++;
          this.metrics.packetsWritten += file.count;
          this.metrics.bytesWritten += file.bytes;
          this.log.info(
            {
              file: file.dataPath,
              partition,
              first: String(file.firstOffset),
              last: String(file.lastOffset),
              packets: file.count,
            },
            'sealed',
          );
          this.emit('sealed', file);
          this.catalog.recordSealed(file).catch(() => {});
        },
      });
      this.sinks.set(partition, sink);
    }
    return sink;
  }

  /** Where consumption of a partition starts when storage holds nothing newer. */
  private async baseOffset(partition: number): Promise<{ base: bigint; committed: bigint | null }> {
    const { start } = this.config;
    const first = !this.everAssigned.has(partition);
    this.everAssigned.add(partition);
    const committed = await this.spout.committed(partition);
    if ((first && (start === 'EARLIEST' || start === 'LATEST')) || committed === null) {
      const { low, high } = await this.spout.offsets(partition);
      if (start === 'EARLIEST' || (committed === null && start === 'UNCOMMITTED_EARLIEST'))
        return { base: low, committed };
      if (start === 'LATEST' || committed === null) return { base: high, committed };
    }
    return { base: committed!, committed };
  }

  /** Reconciles a partition if it has not been since it was (re)assigned or failed; returns the resume offset. */
  private async ensureReconciled(partition: number): Promise<bigint> {
    const sink = this.sinkFor(partition);
    if (sink.nextOffset !== null) return sink.nextOffset;
    const resume = await this.retry(`reconcile partition ${partition}`, async () => {
      const { base, committed } = await this.baseOffset(partition);
      return sink.reconcile(base, committed);
    });
    this.log.info({ partition, resume: String(resume) }, 'partition reconciled');
    if (!this.stopping) this.spout.seek(partition, resume);
    return resume;
  }

  private async onBatch(batch: SpoutBatch): Promise<void> {
    await this.withPartition(batch.partition, async () => {
      if (!this.spout.owns(batch.partition) || this.stopping) return;
      const sink = this.sinkFor(batch.partition);
      try {
        const resume = await this.ensureReconciled(batch.partition);
        const first = batch.messages[0];
        // Far behind the resume point (records already stored): let the seek skip them instead of
        // re-reading them here.
        if (first && BigInt(first.offset) + 10_000n < resume) return;
        await this.consume(sink, batch);
      } catch (err) {
        await this.recover(sink, err);
      }
    });
  }

  private async consume(sink: PartitionSink, batch: SpoutBatch): Promise<void> {
    const { metrics } = this;
    let encoder = this.encoders.get(batch.partition);
    if (!encoder) {
      encoder = new RecordEncoder(this.config.tsScheme, this.config.granularity);
      this.encoders.set(batch.partition, encoder);
    }
    for (const message of batch.messages) {
      if (!batch.shouldContinue() || this.stopping) return;
      const offset = BigInt(message.offset);
      if (sink.nextOffset !== null && offset < sink.nextOffset) {
        batch.resolveOffset(message.offset);
        continue;
      }
      metrics.recordsIn++;
      const verdict = encoder.check(message.key, message.value);
      if (verdict) {
        this.badRecord(batch.partition, message.offset, message.key, message.value, verdict);
        sink.skipped(offset);
      } else {
        const file = await sink.fileFor(offset, encoder.tsNs);
        encoder.append(file);
        await sink.appended(offset);
      }
      batch.resolveOffset(message.offset);
    }
    await sink.commitSkipped();
    this.metrics.commitLag = this.openRecords();
  }

  private openRecords(): number {
    let n = 0;
    for (const s of this.sinks.values())
      if (s.openFile) n += Number(s.openFile.lastOffset - s.openFile.firstOffset) + 1;
    return n;
  }

  /**
   * After any failure in a partition (storage outage, lost claim, broker error): drop the open
   * file, wait, reconcile with storage and Kafka again, and seek back, so nothing uncommitted is
   * skipped and nothing stored is written twice.
   */
  private async recover(sink: PartitionSink, err: unknown): Promise<void> {
    const partition = sink.partition;
    if (err instanceof LostClaimError)
      this.log.warn({ partition, err: err.message }, 'lost a seal claim to another writer; reconciling');
    else if (this.failureLogLimit.allow())
      this.log.warn({ partition, err: (err as Error).message }, 'partition failed; will reconcile and retry');
    this.metrics.storageRetries++;
    await sink.abandon().catch(() => {});
    sink.nextOffset = null;
    this.pendingDeadLetters.delete(partition);
    if (this.stopping || !this.spout.owns(partition)) return;
    await sleep(500);
    await this.ensureReconciled(partition).catch((e) =>
      this.log.warn({ partition, err: (e as Error).message }, 'reconcile failed; will retry on the next batch'),
    );
  }

  private badRecord(
    partition: number,
    offset: string,
    key: Buffer | null,
    value: Buffer | null,
    rejected: RejectedRecord,
  ): void {
    this.metrics.bad(rejected.reason);
    if (this.badLogLimit.allow()) {
      this.log.warn(
        {
          partition,
          offset,
          reason: rejected.reason,
          detail: rejected.detail,
          suppressed: this.badLogLimit.suppressed,
        },
        'malformed record',
      );
    }
    this.emit('bad-record', { ...rejected, topic: this.config.topic, partition, offset } satisfies BadRecord);
    const dlq = this.config.deadLetterTopic;
    if (!dlq) return;
    const sent = this.spout.producerFor().then((producer) =>
      producer.send({
        topic: dlq,
        acks: -1,
        messages: [
          {
            key,
            value,
            headers: {
              'pcapline-reject-reason': rejected.reason,
              'pcapline-reject-detail': rejected.detail,
              'pcapline-source': `${this.config.topic}/${partition}/${offset}`,
            },
          },
        ],
      }),
    );
    sent.catch(() => {}); // awaited (and its failure surfaced) before the next commit
    let pending = this.pendingDeadLetters.get(partition);
    if (!pending) {
      pending = [];
      this.pendingDeadLetters.set(partition, pending);
    }
    pending.push(sent);
  }

  private async flushDeadLetters(partition: number): Promise<void> {
    const pending = this.pendingDeadLetters.get(partition);
    if (!pending?.length) return;
    this.pendingDeadLetters.set(partition, []);
    await Promise.all(pending);
  }

  private async sealIdle(): Promise<void> {
    const idle = this.config.idleTimeoutMs;
    if (idle <= 0 || this.stopping) return;
    const now = Date.now();
    for (const [partition, sink] of this.sinks) {
      const open = sink.openFile;
      if (!open || now - open.lastActivity < idle) continue;
      void this.withPartition(partition, async () => {
        if (sink.openFile !== open || this.stopping) return;
        try {
          await sink.seal();
        } catch (err) {
          await this.recover(sink, err);
        }
      });
    }
  }

  private async stats(): Promise<void> {
    try {
      this.metrics.consumerLag = (await this.spout.lag()).consumerLag;
    } catch {
      // Lag is informational; the next tick tries again.
    }
    this.metrics.commitLag = this.openRecords();
    this.log.info({ stats: this.metrics.statsLine() }, 'stats');
  }

  private watchdog(): void {
    const stalledFor = Date.now() - this.spout.lastFetchAt;
    if (!this.stopping && stalledFor > this.config.watchdogMs && this.spout.assignedCount > 0) {
      this.fatal(new Error(`no fetch completed for ${Math.round(stalledFor / 1000)} s (consumer stalled)`));
    }
  }

  private fatal(error: Error): void {
    this.log.error({ err: error.message }, 'unrecoverable consumer error');
    this.emit('fatal', error);
  }

  /** Retries an operation with backoff until it succeeds, fails for good (`fatal`), or the topology stops. */
  private async retry<T>(
    what: string,
    fn: () => Promise<T>,
    fatal: (err: unknown) => boolean = () => false,
  ): Promise<T> {
    let delay = 250;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (this.stopping || fatal(err)) throw err;
        this.metrics.storageRetries++;
        if (this.failureLogLimit.allow())
          this.log.warn({ err: (err as Error).message, retryInMs: delay }, `failed to ${what}; retrying`);
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /** Seals open files, commits, and disconnects. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.spout.beginStop();
      for (const t of this.timers) clearInterval(t);
      await Promise.all(
        [...this.sinks].map(([partition, sink]) =>
          this.withPartition(partition, async () => {
            try {
              await sink.seal();
              await sink.commitSkipped();
            } catch (err) {
              this.log.warn(
                { partition, err: (err as Error).message },
                'could not seal on shutdown; the records will be re-read on restart',
              );
              await sink.abandon().catch(() => {});
            }
          }),
        ),
      );
      await this.spout.disconnect();
      await new Promise<void>((r) => (this.metricsServer ? this.metricsServer.close(() => r()) : r()));
      await this.catalog.drain();
      await this.storage.close();
      this.log.info({ stats: this.metrics.statsLine() }, 'topology stopped');
    })();
    return this.stopped;
  }
}
