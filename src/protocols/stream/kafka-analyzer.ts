/**
 * Streaming mode: the analyzer as its own consumer group on the sensor topic, publishing ECS
 * events to a Kafka topic. It never touches ingest's consumer group, so the exactly-once packet
 * store is unaffected by it.
 *
 * Partitions are merged by packet time within a bounded lateness (TimeMerger) before analysis.
 * Delivery guarantee — at least once, per event, for packets consumed after the last commit:
 * events are produced with acks=all by an idempotent producer, and only then are the offsets of
 * the packets behind them committed (never past a packet still held in the merger). After a
 * crash, consumption resumes at the committed offsets, so events completed after that point are
 * produced again (duplicates are identical: same `pcapline.packets`, same community id). A
 * transaction in flight at the crash (its request committed, its response not) comes back as an
 * unmatched response. A clean stop (SIGINT/SIGTERM, or the idle exit) drains the merger, flushes
 * every transaction in flight, produces, then commits: nothing is lost or repeated.
 */
import kafkajs from 'kafkajs';
import { Mutex } from '../../lib/mutex.js';
import { type Scheme, type TsGranularity, type TsScheme, createScheme } from '../../scheme/index.js';
import { Analyzer, type AnalyzerOptions } from '../analyzer.js';
import type { AppEvent } from '../types.js';
import { type HeldPacket, TimeMerger } from './time-merger.js';

const { Kafka, logLevel, CompressionTypes } = kafkajs;

export interface StreamAnalyzerOptions {
  brokers: string[];
  /** The sensor topic (packets). */
  topic: string;
  groupId: string;
  /** Where events go. */
  eventsTopic: string;
  /** Read the sensor topic from the beginning when the group has no committed offset (default: latest). */
  fromBeginning?: boolean;
  tsScheme?: TsScheme;
  tsGranularity?: TsGranularity;
  /** Packet-time lateness tolerated between partitions (default 2 s). */
  latenessMs?: number;
  /** Packets held for merging at most (default 200,000). */
  maxHeld?: number;
  /** Wall time without messages after which held packets are released anyway (default 5 s). */
  idleFlushMs?: number;
  /** Stop (cleanly) after this much wall time without messages; 0 = run until stopped. */
  exitWhenIdleMs?: number;
  analyzer?: AnalyzerOptions;
  clientId?: string;
}

export interface StreamAnalyzerStats {
  messages: number;
  rejected: number;
  eventsProduced: number;
  late: number;
  forced: number;
}

export class StreamAnalyzer {
  readonly stats: StreamAnalyzerStats = { messages: 0, rejected: 0, eventsProduced: 0, late: 0, forced: 0 };
  readonly analyzer: Analyzer;
  private readonly merger: TimeMerger;
  private readonly scheme: Scheme;
  private readonly kafka: InstanceType<typeof Kafka>;
  private readonly consumer: ReturnType<InstanceType<typeof Kafka>['consumer']>;
  private readonly producer: ReturnType<InstanceType<typeof Kafka>['producer']>;
  private readonly mutex = new Mutex();
  private readonly outbox: AppEvent[] = [];
  /** Per partition, the offset after the last message handed to the merger. */
  private readonly consumed = new Map<number, number>();
  private lastMessageAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private closing = false;
  private assignment: Promise<void> = Promise.resolve();
  private index = 0;
  private resolveDone: () => void = () => {};
  private rejectDone: (err: unknown) => void = () => {};
  /** Settles when the analyzer has stopped (idle exit, stop(), or a failure). */
  readonly done: Promise<void>;

  constructor(private readonly o: StreamAnalyzerOptions) {
    this.analyzer = new Analyzer((e) => this.outbox.push(e), o.analyzer);
    this.merger = new TimeMerger(BigInt(o.latenessMs ?? 2000) * 1_000_000n, o.maxHeld ?? 200_000);
    this.scheme = createScheme(o.tsScheme ?? 'FROM_KEY', o.tsGranularity ?? 'MICROSECONDS');
    this.kafka = new Kafka({ clientId: o.clientId ?? 'pcap-analyze', brokers: o.brokers, logLevel: logLevel.WARN });
    this.consumer = this.kafka.consumer({ groupId: o.groupId, allowAutoTopicCreation: false });
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true });
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.o.topic, fromBeginning: this.o.fromBeginning ?? false });
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      if (!e.payload.restart) this.rejectDone(e.payload.error);
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      const partitions = e.payload.memberAssignment[this.o.topic] ?? [];
      this.assignment = this.mutex.run(() => this.assign(partitions));
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, heartbeat, isRunning, resolveOffset }) => {
        await this.assignment;
        await this.mutex.run(async () => {
          for (const m of batch.messages) {
            // after the final flush, leave the rest unresolved: the next run reads it
            if (!isRunning() || this.closing) break;
            this.take(batch.partition, Number(m.offset), m.key, m.value);
            // resolved = fetched past; committed only in publishAndCommit, once its events are out
            resolveOffset(m.offset);
          }
          this.lastMessageAt = Date.now();
          const last = batch.messages.at(-1);
          if (last !== undefined && !this.closing)
            this.merger.setCaughtUp(batch.partition, Number(last.offset) + 1 >= Number(batch.highWatermark), (p) =>
              this.analyze(p),
            );
          await this.publishAndCommit();
        });
        await heartbeat();
      },
    });
    this.timer = setInterval(() => this.onTimer(), 500);
    this.timer.unref();
  }

  /** Clean stop: drain, flush in-flight transactions, produce, commit, disconnect. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      // Commit needs the group, so the final flush happens before the consumer leaves it.
      this.consumer.pause([{ topic: this.o.topic }]);
      await this.mutex.run(async () => {
        this.closing = true;
        this.merger.drain((p) => this.analyze(p));
        this.analyzer.finish();
        await this.publishAndCommit();
      });
      await this.consumer.stop();
      await this.consumer.disconnect();
      await this.producer.disconnect();
      this.resolveDone();
    })().catch((err) => {
      this.rejectDone(err);
      throw err;
    });
    return this.stopping;
  }

  private onTimer(): void {
    const idle = Date.now() - this.lastMessageAt;
    if (this.o.exitWhenIdleMs && idle >= this.o.exitWhenIdleMs) {
      this.stop().catch(() => {});
      return;
    }
    if (idle >= (this.o.idleFlushMs ?? 5000) && this.merger.held > 0) {
      this.mutex
        .run(async () => {
          if (this.closing) return;
          this.merger.drain((p) => this.analyze(p));
          await this.publishAndCommit();
        })
        .catch((err) => this.rejectDone(err));
    }
  }

  /**
   * A (re)assignment: which partitions still have messages for us. Until a lagging partition has
   * delivered, it holds the merge back, so a partition fetched first cannot run ahead of the others.
   */
  private async assign(partitions: number[]): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [ends, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(this.o.topic),
        admin.fetchOffsets({ groupId: this.o.groupId, topics: [this.o.topic] }),
      ]);
      const mine = new Set(partitions);
      this.merger.assign(
        ends
          .filter((e) => mine.has(e.partition))
          .map((e) => {
            const c = Number(committed.partitions.find((p) => p.partition === e.partition)?.offset ?? -1);
            const position = c >= 0 ? c : this.o.fromBeginning ? Number(e.low) : Number(e.high);
            return { partition: e.partition, caughtUp: position >= Number(e.high) };
          }),
      );
    } finally {
      await admin.disconnect();
    }
  }

  private take(partition: number, offset: number, key: Buffer | null, value: Buffer | null): void {
    this.stats.messages++;
    this.consumed.set(partition, offset + 1);
    const r = this.scheme(key, value);
    if (!r.ok) {
      this.stats.rejected++;
      return;
    }
    this.merger.push(
      {
        tsNs: r.tsNs,
        partition,
        offset,
        data: r.data,
        frameOffset: r.frameOffset,
        frameLength: r.frameLength,
        linkType: r.linkType,
      },
      (p) => this.analyze(p),
    );
    this.stats.late = this.merger.stats.late;
    this.stats.forced = this.merger.stats.forced;
  }

  private analyze(p: HeldPacket): void {
    this.analyzer.packet(p.data, p.frameOffset, p.frameLength, p.linkType, p.tsNs, {
      index: this.index++,
      position: p.offset,
      partition: p.partition,
    });
  }

  /** Produces what the analyzer reported, then commits offsets no held packet depends on. */
  private async publishAndCommit(): Promise<void> {
    while (this.outbox.length > 0) {
      const batch = this.outbox.splice(0, 1000);
      await this.producer.send({
        topic: this.o.eventsTopic,
        acks: -1,
        compression: CompressionTypes.None,
        messages: batch.map((e) => ({
          key: ((e.network as Record<string, unknown> | undefined)?.community_id as string | undefined) ?? null,
          value: JSON.stringify(e),
        })),
      });
      this.stats.eventsProduced += batch.length;
    }
    const held = this.merger.lowestHeldOffsets();
    const offsets = [...this.consumed].map(([partition, next]) => ({
      topic: this.o.topic,
      partition,
      offset: String(Math.min(next, held.get(partition) ?? next)),
    }));
    if (offsets.length > 0) await this.consumer.commitOffsets(offsets);
  }
}
