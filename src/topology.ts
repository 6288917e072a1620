import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { ConfigError, redactUri, type TopologyConfig } from './config/topology-config.js';
import { StorageError } from './storage/errors.js';
import { openStorage, parseStorageUri } from './storage/index.js';
import { CatalogHook } from './catalog/catalog-writer.js';
import { storeIsFullyIndexed } from './catalog/completeness.js';
import type { Storage } from './storage/types.js';
import { KafkaSpout, type SpoutBatch } from './spout/kafka-spout.js';
import { SinkLayout } from './sink/layout.js';
import { Ledger } from './sink/ledger.js';
import { LostClaimError, type SealedFile } from './sink/partition-sink.js';
import { PartitionOwner, type PartitionOwnerHooks } from './sink/partition-owner.js';
import { DeadLetterQueue } from './sink/dead-letters.js';
import { RecordEncoder, type RejectedRecord } from './sink/record-encoder.js';
import { WorkerIndexEncoder } from './sink/index-encoding/worker-encoder.js';
import type { RecoveryResult } from './sink/recovery.js';
import { PcaplineError } from './lib/errors.js';
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

/** A partition with records to read made no progress for the watchdog period, even after a re-seek. */
export class StallError extends PcaplineError {
  constructor(partition: number, lag: bigint, stalledMs: number) {
    super(
      'PCAPLINE_STALLED',
      `partition ${partition} is assigned and ${lag} records behind, but made no progress for ${Math.round(stalledMs / 1000)} s (re-seeking did not help)`,
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One ingest process: a Kafka consumer-group member that drains its partitions into rolled,
 * Metron-compatible packet files, exactly once. Start several with the same group id to scale out.
 * It routes: assignments, batches and timers go to the partition's `PartitionOwner`, which holds
 * the partition's whole life (src/sink/partition-owner.ts).
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
  /** Every partition's index files are encoded on this one worker thread, beside the consume loop. */
  private readonly indexEncoder = new WorkerIndexEncoder();
  private readonly spout: KafkaSpout;
  private readonly owners = new Map<number, PartitionOwner>();
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
    this.layout = new SinkLayout(path, config.layout);
    this.ledger = new Ledger(this.storage, this.layout, (message) => this.log.warn(message));
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
      // Every owner seeks its partition once recovered (partition-owner.ts).
      seeksAfterAssign: true,
    });
  }

  /** Connects, recovers assigned partitions as they arrive, and starts consuming. */
  static async start(config: TopologyConfig, options: TopologyOptions = {}): Promise<Topology> {
    const topology = Topology.create(config, options);
    await topology.begin();
    return topology;
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
            throw new ConfigError('kafka.pcap.out', `cannot create ${redactUri(config.out)}: ${err.message}`);
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
    this.timers.push(setInterval(() => this.sealIdle(), 1000));
    if (config.statsIntervalMs > 0) this.timers.push(setInterval(() => void this.stats(), config.statsIntervalMs));
    this.timers.push(setInterval(() => void this.watchdog(), 5000));
    for (const t of this.timers) t.unref();
    if (config.reingest)
      this.log.warn(
        { reingest: config.reingest, start: config.start },
        'kafka.pcap.reingest is set: partitions whose ledger does not carry this token yet start over at the start mode offset, storing again what the output already holds',
      );
    await this.spout.run({
      partitionsConcurrently: 8,
      fromBeginning: config.start.endsWith('EARLIEST'),
      onBatch: (batch) => this.onBatch(batch),
      onAssign: (partitions) => {
        this.log.info({ partitions }, 'partitions assigned');
        for (const p of partitions) void this.ownerOf(p).assign();
      },
      onKept: (partitions) => {
        // kafkajs rewound these to their committed offsets; the owners know better.
        for (const p of partitions) this.owners.get(p)?.kept();
      },
      onRevoke: (partitions) => {
        this.log.info({ partitions }, 'partitions revoked');
        for (const p of partitions) void this.owners.get(p)?.revoke();
      },
      onCrash: (error) => this.fatal(error),
    });
    this.log.info(
      {
        topic: config.topic,
        group: config.groupId,
        out: redactUri(config.out),
        layout: config.layout,
        instance: config.instanceId,
      },
      'topology started',
    );
  }

  private ownerOf(partition: number): PartitionOwner {
    let owner = this.owners.get(partition);
    if (!owner) {
      const { config } = this;
      owner = new PartitionOwner({
        partition,
        consumer: this.spout,
        start: config.start,
        encoder: new RecordEncoder(config.tsScheme, config.granularity),
        deadLetters: config.deadLetterTopic ? this.deadLetterQueue(config.deadLetterTopic) : null,
        hooks: this.hooks,
        sink: {
          storage: this.storage,
          layout: this.layout,
          ledger: this.ledger,
          topic: config.topic,
          instanceId: config.instanceId,
          policy: { numPackets: config.numPackets, maxTimeNs: BigInt(config.maxTimeMs) * 1_000_000n },
          chunkBytes: config.chunkBytes,
          replication: config.replication,
          reingest: config.reingest,
          indexEncoder: this.indexEncoder,
        },
      });
      this.owners.set(partition, owner);
    }
    return owner;
  }

  private deadLetterQueue(topic: string): DeadLetterQueue {
    return new DeadLetterQueue({
      topic,
      send: async (to, letter) => {
        const producer = await this.spout.producerFor();
        await producer.send({ topic: to, acks: -1, messages: [letter] });
      },
      onRetry: (source, attempt, err) => {
        this.metrics.storageRetries++;
        if (this.failureLogLimit.allow())
          this.log.warn({ source, attempt, err: (err as Error).message }, 'dead-letter copy failed; retrying');
      },
    });
  }

  private readonly hooks: PartitionOwnerHooks = {
    onSealed: (file: SealedFile) => {
      this.metrics.filesSealed++;
      this.metrics.packetsWritten += file.count;
      this.metrics.bytesWritten += file.bytes;
      this.log.info(
        {
          file: file.dataPath,
          partition: file.partition,
          first: String(file.firstOffset),
          last: String(file.lastOffset),
          packets: file.count,
        },
        'sealed',
      );
      this.emit('sealed', file);
      this.catalog.recordSealed(file).catch(() => {});
    },
    onBadRecord: (partition, offset, _key, _value, rejected) => {
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
    },
    onRecord: () => {
      this.metrics.recordsIn++;
    },
    onFailure: (partition, err) => {
      this.metrics.storageRetries++;
      if (this.stopping) return;
      if (err instanceof LostClaimError)
        this.log.warn({ partition, err: err.message }, 'lost a seal claim to another writer; recovering');
      else if (this.failureLogLimit.allow())
        this.log.warn({ partition, err: (err as Error).message }, 'partition failed; will recover and retry');
    },
    onFatal: (err) => this.fatal(err),
    onReconciled: (partition: number, result: RecoveryResult, base: bigint, committed: bigint | null) => {
      const fields = {
        partition,
        resume: String(result.resume),
        highWater: result.highWater === null ? null : String(result.highWater),
        committed: committed === null ? null : String(committed),
        base: String(base),
        epoch: String(result.epoch),
        rolledForward: result.rolledForward,
        dropped: result.dropped,
      };
      if (result.reingested)
        this.log.warn(
          { ...fields, reingest: this.config.reingest },
          're-ingesting: the stored high-water mark is set aside once for this kafka.pcap.reingest token; records the output already holds will be stored again',
        );
      else if (committed !== null && result.highWater !== null && committed < result.highWater)
        this.log.warn(
          fields,
          "the group's committed offset is behind what the store holds (offsets lost, reset, or a new group): resuming at the store's high-water mark",
        );
      else this.log.info(fields, 'partition recovered');
    },
  };

  private async onBatch(batch: SpoutBatch): Promise<void> {
    if (this.stopping || !this.spout.owns(batch.partition)) return;
    await this.ownerOf(batch.partition).handle(batch);
    this.metrics.commitLag = this.openRecords();
  }

  private openRecords(): number {
    let n = 0;
    for (const owner of this.owners.values()) n += owner.openRecords;
    return n;
  }

  private sealIdle(): void {
    const idle = this.config.idleTimeoutMs;
    if (idle <= 0 || this.stopping) return;
    const now = Date.now();
    for (const owner of this.owners.values()) void owner.sealIfIdle(now, idle);
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

  /**
   * Two checks. No fetch at all for `pcap.watchdog.ms` while partitions are assigned: the consumer
   * is wedged, exit. A partition with records to read whose position has not moved for that long
   * (and that reported no failure): re-seek it once; if it still does not move, exit 1 so a
   * supervisor restarts the process, with a message naming the partition. A stall is never silent.
   */
  private async watchdog(): Promise<void> {
    if (this.stopping) return;
    const now = Date.now();
    const limit = this.config.watchdogMs;
    const fetchStalled = now - this.spout.lastFetchAt;
    if (fetchStalled > limit && this.spout.assignedCount > 0) {
      this.fatal(new Error(`no fetch completed for ${Math.round(fetchStalled / 1000)} s (consumer stalled)`));
      return;
    }
    let ends: Map<number, { high: bigint }>;
    try {
      ends = await this.spout.allOffsets();
    } catch {
      return; // the broker is unreachable: kafkajs retries and reports it
    }
    for (const [partition, owner] of this.owners) {
      const end = ends.get(partition)?.high;
      if (end === undefined || !this.spout.owns(partition)) continue;
      const stalled = owner.stalledFor(end, now);
      if (stalled <= limit) continue;
      const lag = end - (owner.position ?? end);
      if (!owner.nudged) {
        this.log.warn(
          { partition, position: String(owner.position), end: String(end), stalledMs: stalled },
          'partition made no progress with records to read; seeking it to its position again',
        );
        owner.nudge(now);
      } else {
        this.fatal(new StallError(partition, lag, stalled));
        return;
      }
    }
  }

  private fatal(error: Error): void {
    this.log.error({ err: error.message }, 'unrecoverable error');
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
        [...this.owners.values()].map((owner) =>
          owner.stop((err) =>
            this.log.warn(
              { partition: owner.partition, err: (err as Error).message },
              'could not seal on shutdown; the records will be re-read on restart',
            ),
          ),
        ),
      );
      // The catalog's last entries go out while the consumer leaves the group.
      await Promise.all([
        this.indexEncoder.close(),
        this.spout.disconnect(),
        this.catalog.drain(),
        new Promise<void>((r) => (this.metricsServer ? this.metricsServer.close(() => r()) : r())),
      ]);
      await this.storage.close();
      this.log.info({ stats: this.metrics.statsLine() }, 'topology stopped');
    })();
    return this.stopped;
  }
}
