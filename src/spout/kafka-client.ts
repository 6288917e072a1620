import { readFileSync } from 'node:fs';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, EachBatchPayload, KafkaConfig, SASLOptions } from 'kafkajs';
import type { KafkaSecurity } from '../config/topology-config.js';

const { Kafka, logLevel } = kafkajs;

import type { AssignmentChange, PartitionOffsets, SpoutBatch, SpoutMessage } from './types.js';

export interface SpoutOptions {
  brokers: string[];
  groupId: string;
  topic: string;
  clientId: string;
  sessionTimeoutMs: number;
  security: KafkaSecurity;
  log: SpoutLog;
}

/** Where kafkajs's warnings and errors go (a pino logger, or the consumer thread's relay to one). */
export interface SpoutLog {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** The most a fetch brings of one partition (so also the largest batch, but for one oversized record). */
export const MAX_BYTES_PER_PARTITION = 512 * 1024;

/** A kafkajs client for the cluster (the consumer thread's, and the main thread's dead-letter producer). */
export function createKafka(
  options: Pick<SpoutOptions, 'brokers' | 'clientId' | 'security' | 'log'>,
): InstanceType<typeof Kafka> {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log }) => {
        const { message, ...rest } = log;
        const fields = { component: `kafkajs.${namespace}`, ...rest };
        if (level <= logLevel.ERROR) options.log.error(fields, message);
        else options.log.warn(fields, message);
      },
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10000 },
    ...securityConfig(options.security),
  });
}

/**
 * The Kafka consumer group behind our own interface (kafkajs is unmaintained: keep it in here).
 * It runs on the consumer thread (./consumer-thread.ts); the ingest thread drives it through
 * `KafkaSpout` (./kafka-spout.ts).
 * - Manual commits only (`autoCommit: false`, `eachBatchAutoResolve: false`).
 * - kafkajs sends heartbeats only when called, so a timer calls them while a batch handler waits on
 *   storage; a long HDFS append must not cost us the group membership.
 * - kafkajs has no revoke hook: assignments are diffed on every GROUP_JOIN. On a rejoin kafkajs
 *   rewinds even the partitions we keep to their committed offset: `onKept` lets the owner seek
 *   them back to its own position.
 * - A crash that kafkajs will not restart from ends the process (a supervisor restarts it): offsets
 *   are committed only after data is durable, so nothing is lost.
 */
export class KafkaGroupClient {
  private readonly kafka: InstanceType<typeof Kafka>;
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private assignment = new Set<number>();
  private stopping = false;
  /** The admin's metadata load, started at connect (see `connect`). */
  private adminWarm: Promise<unknown> = Promise.resolve();
  /** The next committed-offsets read, not sent yet: calls made meanwhile share it (see `groupOffsets`). */
  private nextGroupOffsets: Promise<Map<number, string>> | null = null;

  constructor(private readonly options: SpoutOptions) {
    this.kafka = createKafka(options);
    this.consumer = this.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: Math.max(60000, options.sessionTimeoutMs * 2),
      heartbeatInterval: 3000,
      // Fetch responses are the largest transient memory of a topology process. 512 KiB per
      // partition (1 MiB before the consumer had its own thread) costs no throughput and keeps the
      // consumer thread's responses and the batches handed over small: peak RSS ~50 MiB lower.
      maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
      maxBytes: 8 * 1024 * 1024,
      maxWaitTimeInMs: 500,
      retry: { retries: 10, restartOnFailure: async () => true },
    });
    this.admin = this.kafka.admin();
  }

  async connect(): Promise<void> {
    await this.admin.connect();
    // kafkajs's admin connects without loading the cluster's metadata, so its first group request
    // finds no broker to ask for the coordinator and retries after initialRetryTime (0.3 s of every
    // start-up, before any partition could recover). Loading the topic's metadata (what the consumer
    // loads anyway) while the consumer joins fills its broker pool.
    this.adminWarm = this.admin.fetchTopicMetadata({ topics: [this.options.topic] }).catch(() => {});
    await this.consumer.connect();
  }

  /**
   * Starts consuming. `onJoin` is called on every (re)join with the difference to the previous
   * assignment; `onBatch` with each fetched batch of one partition.
   */
  async run(handlers: {
    onBatch: (batch: SpoutBatch) => Promise<void>;
    onJoin: (change: AssignmentChange) => void;
    onCrash: (error: Error) => void;
    onFetch: () => void;
    partitionsConcurrently: number;
    fromBeginning: boolean;
  }): Promise<void> {
    const { consumer } = this;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const now = new Set<number>(e.payload.memberAssignment[this.options.topic] ?? []);
      const revoked = [...this.assignment].filter((p) => !now.has(p));
      const assigned = [...now].filter((p) => !this.assignment.has(p));
      const kept = [...now].filter((p) => this.assignment.has(p));
      this.assignment = now;
      handlers.onJoin({ assignment: [...now], revoked, kept, assigned });
    });
    consumer.on(consumer.events.FETCH, () => {
      handlers.onFetch();
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart && !this.stopping) handlers.onCrash(e.payload.error);
    });
    await consumer.subscribe({ topic: this.options.topic, fromBeginning: handlers.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: handlers.partitionsConcurrently,
      eachBatch: async (payload: EachBatchPayload) => {
        const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
        if (this.stopping) return;
        let rebalancing = false;
        const beat = setInterval(() => {
          heartbeat().catch((err: { type?: string }) => {
            if (err?.type === 'REBALANCE_IN_PROGRESS' || err?.type === 'UNKNOWN_MEMBER_ID') rebalancing = true;
          });
        }, 2000);
        try {
          await handlers.onBatch({
            topic: batch.topic,
            partition: batch.partition,
            messages: batch.messages as SpoutMessage[],
            resolveOffset,
            shouldContinue: () => !this.stopping && !rebalancing && isRunning() && !isStale(),
          });
        } finally {
          clearInterval(beat);
        }
      },
    });
  }

  /** Whether this member holds the partition in the current generation. */
  owns(partition: number): boolean {
    return this.assignment.has(partition);
  }

  /** Commits for a partition this member holds (a commit for another would still be accepted by the broker). */
  async commit(partition: number, nextOffset: bigint): Promise<void> {
    if (!this.owns(partition))
      throw new Error(`partition ${partition} is no longer assigned to this member; not committing`);
    await this.consumer.commitOffsets([{ topic: this.options.topic, partition, offset: nextOffset.toString() }]);
  }

  /** The group's committed offset (next offset to read), or null when there is none. */
  async committed(partition: number): Promise<bigint | null> {
    const offset = (await this.groupOffsets()).get(partition);
    if (offset === undefined || offset === '-1' || offset === '') return null;
    return BigInt(offset);
  }

  /**
   * The group's committed offsets of every partition of the topic, read by a request sent after this
   * call (never an answer from before it): calls made before that request goes out share it, so the
   * partitions assigned together recover from one request instead of one each.
   */
  private groupOffsets(): Promise<Map<number, string>> {
    this.nextGroupOffsets ??= (async () => {
      // After the metadata load (or it would meet the empty broker pool), but not for long if the
      // cluster is slow to answer: then this request's own retries take over.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.adminWarm, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
      await new Promise((resolve) => setImmediate(resolve));
      this.nextGroupOffsets = null; // calls from now on need a request sent after them
      const [res] = await this.admin.fetchOffsets({ groupId: this.options.groupId, topics: [this.options.topic] });
      return new Map((res?.partitions ?? []).map((p) => [p.partition, p.offset]));
    })();
    return this.nextGroupOffsets;
  }

  /** Earliest and end offsets of every partition of the topic, in one request. */
  async allOffsets(): Promise<Map<number, PartitionOffsets>> {
    const all = await this.admin.fetchTopicOffsets(this.options.topic);
    return new Map(all.map((p) => [p.partition, { low: BigInt(p.low), high: BigInt(p.high) }]));
  }

  /** Total lag of the group over all partitions (high watermark minus committed), for metrics. */
  async lag(): Promise<{ consumerLag: bigint }> {
    const [committed, offsets] = await Promise.all([
      this.admin.fetchOffsets({ groupId: this.options.groupId, topics: [this.options.topic] }),
      this.admin.fetchTopicOffsets(this.options.topic),
    ]);
    let lag = 0n;
    for (const o of offsets) {
      const c = committed[0]?.partitions.find((x) => x.partition === o.partition);
      const from = c && c.offset !== '-1' ? BigInt(c.offset) : BigInt(o.low);
      lag += BigInt(o.high) - from;
    }
    return { consumerLag: lag };
  }

  seek(partition: number, offset: bigint): void {
    this.consumer.seek({ topic: this.options.topic, partition, offset: offset.toString() });
  }

  /** Stop handing out batches (running handlers see shouldContinue() === false). */
  beginStop(): void {
    this.stopping = true;
  }

  async disconnect(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect().catch(() => {});
    await this.admin.disconnect().catch(() => {});
  }
}

function securityConfig(s: KafkaSecurity): Partial<KafkaConfig> {
  const out: Partial<KafkaConfig> = {};
  if (s.protocol === 'SSL' || s.protocol === 'SASL_SSL') {
    out.ssl = {
      rejectUnauthorized: s.sslRejectUnauthorized,
      ...(s.sslCaFile ? { ca: [readFileSync(s.sslCaFile, 'utf8')] } : {}),
      ...(s.sslCertFile ? { cert: readFileSync(s.sslCertFile, 'utf8') } : {}),
      ...(s.sslKeyFile ? { key: readFileSync(s.sslKeyFile, 'utf8') } : {}),
    };
  }
  if (s.protocol.startsWith('SASL')) {
    out.sasl = {
      mechanism: s.saslMechanism!,
      username: s.saslUsername ?? '',
      password: s.saslPassword ?? '',
    } as SASLOptions;
  }
  return out;
}
