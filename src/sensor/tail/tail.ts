/**
 * pcap-tail (pycapa's consumer mode): a topic of sensor records → one libpcap stream.
 *
 * It reads as a standalone consumer: by default a private consumer group that only this process
 * uses (kafkajs has no group-less consumer), never commits, and is deleted at the end; it never
 * joins, commits to or rebalances the topology's group. Positions are ours (`next`), applied
 * with seek on every group join. With --group it is a member of that group instead and commits the offsets of the packets
 * it has written (offsets of packets still in the reorder buffer are not committed).
 *
 * Without --follow it stops at the end offsets read when it started; with --follow it runs until
 * stopped (SIGINT), --max-packets or the reader going away (EPIPE), each leaving a valid stream.
 */
import { hostname } from 'node:os';
import type { Writable } from 'node:stream';
import kafkajs, { type Consumer, type EachBatchPayload } from 'kafkajs';
import { UsageError } from '../../lib/errors.js';
import { RateLimiter } from '../../lib/log.js';
import { Mutex } from '../../lib/mutex.js';
import { createScheme, type TsGranularity, type TsScheme } from '../../scheme/index.js';
import { kafkaLogLine } from '../kafka-log.js';
import type { KafkaSettings } from '../kafka-settings.js';
import { ReorderBuffer } from './reorder-buffer.js';
import { type PartitionRange, resolveStart, type StartSpec } from './start-position.js';
import { type MalformedReason, TailWriter } from './tail-writer.js';

const { Kafka, logLevel } = kafkajs;

export interface TailOptions {
  topic: string;
  brokers: string[];
  kafka: KafkaSettings;
  /** Join this group and commit to it; default: a private throw-away group. */
  groupId?: string;
  /** Default: the end with --follow, the beginning without; `stored` with a group. */
  start: StartSpec | null;
  follow: boolean;
  maxPackets?: number;
  /** How far out of packet-time order records of different partitions may arrive. */
  latenessMs: number;
  /** Frame bytes the reorder buffer may hold. */
  reorderBytes: number;
  scheme: TsScheme;
  granularity: TsGranularity;
  nanos: boolean;
  out: Writable;
  /** End the stream at the end (a file); false for stdout. */
  endStream: boolean;
  /** One line for the user (start notes, malformed-record warnings). */
  warn: (line: string) => void;
}

export interface TailStats {
  records: number;
  written: number;
  malformed: number;
  buffered: number;
  late: number;
  /** Records between our position and the newest high watermark seen. */
  lag: number;
}

export type TailEnd = 'end-of-topic' | 'max-packets' | 'stopped' | 'reader-closed';

export interface TailResult extends TailStats {
  end: TailEnd;
  malformedByReason: Map<MalformedReason, number>;
}

export interface TailRun {
  readonly stats: TailStats;
  /** Stop reading, write what is buffered, end the stream (idempotent). */
  stop(): void;
  readonly done: Promise<TailResult>;
}

const COMMIT_INTERVAL_MS = 5000;
const WALL_TICK_MS = 200;
const HEARTBEAT_MS = 3000;
const WARNINGS_PER_MINUTE = 6;

export function tailTopic(o: TailOptions): TailRun {
  const stats: TailStats = { records: 0, written: 0, malformed: 0, buffered: 0, late: 0, lag: 0 };
  const ending = new Ending();
  return { stats, stop: () => ending.finish('stopped'), done: run(o, stats, ending) };
}

/** The first reason to end wins; `promise` settles with it. */
class Ending {
  reason: TailEnd | null = null;
  private resolve: (end: TailEnd) => void = () => {};
  readonly promise = new Promise<TailEnd>((resolve) => {
    this.resolve = resolve;
  });
  finish(reason: TailEnd): void {
    this.reason ??= reason;
    this.resolve(this.reason);
  }
}

async function run(o: TailOptions, stats: TailStats, ending: Ending): Promise<TailResult> {
  const kafka = new Kafka({
    brokers: o.brokers,
    logLevel: logLevel.ERROR,
    logCreator: kafkaLogLine('pcap-tail'),
    ...o.kafka.client,
  });
  const admin = kafka.admin();
  await admin.connect();
  const privateGroup = o.groupId === undefined;
  const groupId = o.groupId ?? `pcap-tail-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let consumer: Consumer | null = null;
  let groupTouched = false;
  let failure: unknown = null;
  const timers: NodeJS.Timeout[] = [];
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(o.topic)) throw new UsageError(`no such topic: ${o.topic}`);
    const ranges: PartitionRange[] = (await admin.fetchTopicOffsets(o.topic))
      .map((p) => ({ partition: p.partition, low: BigInt(p.low), high: BigInt(p.high) }))
      .sort((a, b) => a.partition - b.partition);
    const spec: StartSpec =
      o.start ?? (o.groupId ? { kind: 'stored' } : o.follow ? { kind: 'end' } : { kind: 'beginning' });
    if (spec.kind === 'stored' && privateGroup) throw new UsageError('--offset stored needs --group');
    const start = await resolveStart(spec, ranges, {
      byTime: async (ms) =>
        new Map(
          (await admin.fetchTopicOffsetsByTimestamp(o.topic, ms)).map((e) => [e.partition, BigInt(e.offset)] as const),
        ),
      committed: async () => {
        const [res] = await admin.fetchOffsets({ groupId, topics: [o.topic] });
        return new Map((res?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)] as const));
      },
    });
    for (const note of start.notes) o.warn(note);

    const end = new Map(ranges.map((r) => [r.partition, r.high]));
    const next = new Map(start.offsets);
    const open = new Set<number>();
    for (const [p, first] of start.offsets) if (o.follow || first < end.get(p)!) open.add(p);
    const reorder = new ReorderBuffer({
      latenessNs: BigInt(o.latenessMs) * 1_000_000n,
      maxBytes: o.reorderBytes,
      partitions: [...open],
    });
    for (const p of open) reorder.setBehind(p, next.get(p)! < end.get(p)!);
    const warnings = new RateLimiter(WARNINGS_PER_MINUTE, 60_000);
    const warnMalformed = (line: string): void => {
      if (!warnings.allow()) return;
      o.warn(warnings.suppressed ? `${line} (and ${warnings.suppressed} more not shown)` : line);
      warnings.suppressed = 0;
    };
    const writer = new TailWriter({
      out: o.out,
      scheme: createScheme(o.scheme, o.granularity),
      reorder,
      nanos: o.nanos,
      maxPackets: o.maxPackets,
      onMalformed: (reason, detail, partition, offset) =>
        warnMalformed(`skipped malformed record (partition ${partition}, offset ${offset}): ${reason}: ${detail}`),
    });
    const highWater = new Map(end);
    const refresh = (): void => {
      stats.written = writer.written;
      stats.malformed = writer.malformedTotal;
      stats.buffered = reorder.size;
      stats.late = reorder.late;
      let lag = 0n;
      for (const [p, n] of next) if (start.offsets.has(p)) lag += (highWater.get(p) ?? n) - n;
      stats.lag = Number(lag);
    };
    const checkDone = (): void => {
      if (writer.closed) ending.finish('reader-closed');
      else if (writer.full) ending.finish('max-packets');
      else if (!o.follow && open.size === 0) ending.finish('end-of-topic');
    };
    const closePartition = (p: number): void => {
      if (open.delete(p)) reorder.close(p);
    };
    const io = new Mutex();
    // The global header goes out at once: a viewer (wireshark -k -i -) starts before the first packet.
    await writer.flush();
    checkDone();

    if (ending.reason === null) {
      groupTouched = true;
      consumer = kafka.consumer({
        groupId,
        maxBytesPerPartition: 1024 * 1024,
        ...o.kafka.consumer,
      });
      const c = consumer;
      const ignored = ranges.map((r) => r.partition).filter((p) => !start.offsets.has(p));
      c.on(c.events.GROUP_JOIN, (e) => {
        if (ignored.length) c.pause([{ topic: o.topic, partitions: ignored }]);
        const mine = new Set(e.payload.memberAssignment[o.topic] ?? []);
        // Every (re)join starts each partition where we are, not where the group committed: the
        // start position the first time, and no replay after a rebalance. Synchronous, so it
        // lands before the first fetch or marks that fetch's batches stale (they are discarded).
        for (const p of mine) {
          const at = next.get(p);
          if (at !== undefined) c.seek({ topic: o.topic, partition: p, offset: at.toString() });
        }
        // Partitions given to other members of a shared group are not ours to wait for.
        if (!privateGroup) for (const p of [...open]) if (!mine.has(p)) closePartition(p);
        checkDone();
      });
      c.on(c.events.CRASH, (e) => {
        if (e.payload.restart) return;
        failure ??= e.payload.error;
        ending.finish('stopped');
      });
      // A fetch that held only control records (transaction markers) or compacted-away offsets
      // reaches no eachBatch; kafkajs moves past it and reports it here. Without this, a topic
      // ending in a transaction marker would never look finished (or caught up).
      c.on(c.events.END_BATCH_PROCESS, (e) => {
        const { partition: p, batchSize, lastOffset, highWatermark } = e.payload;
        if (batchSize !== 0 || !start.offsets.has(p) || ending.reason !== null) return;
        void io
          .run(async () => {
            const after = BigInt(lastOffset) + 1n;
            if (after > next.get(p)!) next.set(p, after);
            reorder.setBehind(p, next.get(p)! < BigInt(highWatermark));
            if (!o.follow && next.get(p)! >= end.get(p)!) closePartition(p);
            await writer.writeReleased(Date.now(), o.follow ? o.latenessMs : null);
            refresh();
            checkDone();
          })
          .catch((err: unknown) => {
            failure ??= err;
            ending.finish('stopped');
          });
      });
      await c.connect();
      await c.subscribe({ topic: o.topic, fromBeginning: true });
      const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
        const { batch } = payload;
        const p = batch.partition;
        if (!start.offsets.has(p) || ending.reason !== null) return;
        highWater.set(p, BigInt(batch.highWatermark));
        await io.run(async () => {
          const now = Date.now();
          const stop = o.follow ? null : end.get(p)!;
          for (const m of batch.messages) {
            if (ending.reason !== null || !payload.isRunning() || payload.isStale()) break;
            const offset = BigInt(m.offset);
            // After a rejoin kafkajs resumes from the last commit: records already taken are skipped.
            if (offset < next.get(p)!) {
              payload.resolveOffset(m.offset);
              continue;
            }
            if (stop !== null && offset >= stop) break;
            writer.accept(p, offset, m.key, m.value, now);
            stats.records++;
            next.set(p, offset + 1n);
            payload.resolveOffset(m.offset);
          }
          reorder.setBehind(p, next.get(p)! < BigInt(batch.highWatermark));
          if (stop !== null && next.get(p)! >= stop) closePartition(p);
          const beat = setInterval(() => void payload.heartbeat().catch(() => {}), HEARTBEAT_MS);
          try {
            await writer.writeReleased(Date.now(), o.follow ? o.latenessMs : null);
          } finally {
            clearInterval(beat);
          }
          refresh();
          checkDone();
        });
      };
      await c.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
      if (o.follow) {
        // Rule 3 of the reorder buffer: the last packets before a pause do not wait for new traffic.
        const tick = setInterval(() => {
          void io
            .run(async () => {
              await writer.writeReleased(Date.now(), o.latenessMs);
              refresh();
              checkDone();
            })
            .catch((err: unknown) => {
              failure ??= err;
              ending.finish('stopped');
            });
        }, WALL_TICK_MS);
        timers.push(tick);
      }
      const commitWritten = async (cc: Consumer): Promise<void> => {
        const partitions = [...next].map(([partition, n]) => ({
          topic: o.topic,
          partition,
          offset: (reorder.lowestHeldOffset(partition) ?? n).toString(),
        }));
        await cc.commitOffsets(partitions);
      };
      if (!privateGroup) {
        const commit = setInterval(() => void io.run(() => commitWritten(c)).catch(() => {}), COMMIT_INTERVAL_MS);
        timers.push(commit);
      }

      const how = await ending.promise;
      for (const t of timers) clearInterval(t);
      await c.stop();
      await io.run(async () => {
        if (how !== 'reader-closed') await writer.writeAll();
        if (!privateGroup) await commitWritten(c);
      });
      if (failure) throw failure;
    }
    await writer.end(o.endStream);
    refresh();
    return { ...stats, end: ending.reason ?? 'end-of-topic', malformedByReason: writer.malformed };
  } finally {
    for (const t of timers) clearInterval(t);
    await consumer?.disconnect().catch(() => {});
    if (privateGroup && groupTouched) await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}
