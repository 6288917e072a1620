/**
 * The sensor (pycapa's producer mode): publishes packets to Kafka in the sensor record format
 * (pycapa/fastcapa): key = the packet time as an 8-byte big-endian unsigned integer in
 * `granularity` units, value = the raw frame. Packets come from a pcap file, a pcap stream on stdin
 * or a live capture (src/sensor/packet-source.ts).
 *
 * Stopping (`stop()`, SIGINT/SIGTERM in the CLI) never loses a captured packet: the source is told
 * to stop, what it still delivers is read, the batches are sent and every send acknowledged before
 * `publishCapture` resolves.
 */
import kafkajs from 'kafkajs';
import type { CaptureExit, CaptureOptions } from './capture.js';
import { kafkaLogLine } from './kafka-log.js';
import { defaultKafkaSettings, type KafkaSettings } from './kafka-settings.js';
import { openSource, type SensorInput } from './packet-source.js';
import { PacketPublisher } from './publisher.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

const UNIT_NS: Record<string, bigint> = { MILLISECONDS: 1_000_000n, MICROSECONDS: 1000n, NANOSECONDS: 1n };

export interface ReplayOptions {
  /** A pcap file, or '-' for a pcap stream on stdin. Ignored when `capture` is set. */
  input?: string;
  /** Capture live from an interface instead (tcpdump or dumpcap). */
  capture?: CaptureOptions;
  topic: string;
  brokers: string[];
  granularity: 'MILLISECONDS' | 'MICROSECONDS' | 'NANOSECONDS';
  /** Packets per second; 0 = as fast as the broker takes them. */
  rate: number;
  /** Times to replay the file; 0 = forever. Later passes shift times by the capture's span so time keeps moving forward. */
  loop: number;
  partition?: number;
  /** Records per produce request (librdkafka's batch.num.messages). */
  batch: number;
  /** Stop after this many packets (0 or undefined = no limit). */
  maxPackets?: number;
  /** `-X` settings (client, acks, compression, batching, security). */
  kafka?: KafkaSettings;
  /** Called once the source is open and its header checked (e.g. "tcpdump on lo"): capture has begun. */
  onOpen?: (source: string) => void;
}

export interface SensorStats {
  /** Packets read from the source. */
  read: number;
  /** Packets acknowledged by the broker. */
  sent: number;
  /** Packets queued or in flight. */
  pending: number;
}

export interface SensorResult extends SensorStats {
  /** The capture tool's report (live capture), else null. */
  capture: CaptureExit | null;
  /** True when the run ended on a stop request rather than at the end of its input or limit. */
  stopped: boolean;
}

/** A running sensor: `stop()` asks it to finish (idempotent; a second call cuts the grace periods short). */
export interface SensorRun {
  readonly stats: SensorStats;
  stop(): void;
  readonly done: Promise<SensorResult>;
}

/** Starts publishing; input problems reject `done` with a PcaplineError (exit 2) before any broker is contacted. */
export function publishCapture(o: ReplayOptions): SensorRun {
  const stats: SensorStats = { read: 0, sent: 0, pending: 0 };
  let stopRequested = false;
  let stopSource: (() => void) | null = null;
  const run: SensorRun = {
    stats,
    stop: () => {
      stopRequested = true;
      stopSource?.();
    },
    done: (async (): Promise<SensorResult> => {
      const input: SensorInput = o.capture
        ? { kind: 'live', capture: o.capture }
        : o.input === '-'
          ? { kind: 'stdin' }
          : { kind: 'file', path: o.input ?? '' };
      const repeatable = input.kind === 'file';
      // Checks the input first: a missing file or a bad interface is reported before any broker is contacted.
      let source = await openSource(input);
      stopSource = () => source.stop();
      o.onOpen?.(source.name);
      if (stopRequested) source.stop();
      const settings = o.kafka ?? defaultKafkaSettings('pcap-replay');
      const kafka = new Kafka({
        brokers: o.brokers,
        logLevel: logLevel.WARN,
        logCreator: kafkaLogLine('pcap-replay'),
        ...settings.client,
      });
      const producer = kafka.producer({
        allowAutoTopicCreation: true,
        createPartitioner: Partitioners.DefaultPartitioner,
        ...settings.producer,
      });
      const unit = UNIT_NS[o.granularity];
      const limit = o.maxPackets && o.maxPackets > 0 ? o.maxPackets : Number.POSITIVE_INFINITY;
      const started = Date.now();
      let captureExit: CaptureExit | null = null;
      try {
        await producer.connect();
        const publisher = new PacketPublisher(producer, {
          topic: o.topic,
          partition: o.partition,
          acks: settings.send.acks,
          compression: settings.send.compression,
          timeoutMs: settings.send.timeoutMs,
          lingerMs: settings.batch.lingerMs,
          maxMessages: o.batch,
          maxBytes: settings.batch.maxBytes,
        });
        const refresh = (): void => {
          stats.sent = publisher.acked;
          stats.pending = publisher.pending;
        };
        let shift = 0n;
        for (let pass = 0; o.loop === 0 || pass < o.loop || !repeatable; pass++) {
          if (pass > 0) {
            source = await openSource(input);
            stopSource = () => source.stop();
          }
          let first: bigint | null = null;
          let last = 0n;
          // One key slab per batch of packets: no allocation per packet for the 8-byte keys.
          let keys = Buffer.allocUnsafe(8 * 1024);
          let keyAt = 0;
          try {
            for await (const p of source.reader) {
              if (source.cut || stats.read >= limit) break;
              first ??= p.tsNs;
              last = p.tsNs;
              if (keyAt === keys.length) {
                keys = Buffer.allocUnsafe(keys.length);
                keyAt = 0;
              }
              const key = keys.subarray(keyAt, keyAt + 8);
              keyAt += 8;
              key.writeBigUInt64BE((p.tsNs + shift) / unit);
              // The frame is a view into the read chunk; chunks are never reused, so it can be held until acked.
              await publisher.add(key, p.data);
              stats.read++;
              if (o.rate > 0 && stats.read % Math.max(1, Math.floor(o.rate / 10)) === 0) {
                const ahead = (stats.read / o.rate) * 1000 - (Date.now() - started);
                if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
              }
              refresh();
              if (stats.read >= limit) {
                source.stop();
                break;
              }
            }
          } catch (err) {
            // A stdin destroyed after the stop grace period: what was read completely is published.
            if (!source.stopping) throw err;
          } finally {
            await source.reader.close();
          }
          captureExit = await source.finish();
          if (!repeatable || first === null || stopRequested || stats.read >= limit) break;
          shift += last - first + 1_000_000n;
        }
        await publisher.flush();
        refresh();
      } catch (err) {
        // A broker failure must not leave a capture tool running behind us.
        source.stop();
        await source.reader.close();
        throw err;
      } finally {
        await producer.disconnect().catch(() => {});
      }
      return { ...stats, capture: captureExit, stopped: stopRequested };
    })(),
  };
  return run;
}

/** Publishes a capture file (or stdin with '-') and resolves with the number of packets acknowledged. */
export async function replay(o: ReplayOptions, onProgress?: (sent: number) => void): Promise<number> {
  const run = publishCapture(o);
  const timer = onProgress ? setInterval(() => onProgress(run.stats.sent), 250) : null;
  try {
    const result = await run.done;
    onProgress?.(result.sent);
    return result.sent;
  } finally {
    if (timer) clearInterval(timer);
  }
}
