import { createReadStream } from 'node:fs';
import kafkajs from 'kafkajs';
import { type PcapFileReader, readPcapFile } from '../formats/pcap/pcap-file.js';
import { UsageError } from '../lib/errors.js';
import { LINKTYPE_ETHERNET } from '../packet/decode.js';

const { Kafka, logLevel, CompressionTypes, Partitioners } = kafkajs;

const UNIT_NS: Record<string, bigint> = { MILLISECONDS: 1_000_000n, MICROSECONDS: 1000n, NANOSECONDS: 1n };

export interface ReplayOptions {
  input: string;
  topic: string;
  brokers: string[];
  granularity: 'MILLISECONDS' | 'MICROSECONDS' | 'NANOSECONDS';
  /** Packets per second; 0 = as fast as the broker takes them. */
  rate: number;
  /** Times to replay the file; 0 = forever. Later passes shift times by the capture's span so time keeps moving forward. */
  loop: number;
  partition?: number;
  batch: number;
}

/**
 * Publishes a pcap file to Kafka in the sensor format (pycapa/fastcapa): key = the packet time as an
 * 8-byte big-endian unsigned integer in `granularity` units, value = the raw frame.
 */
export async function replay(o: ReplayOptions, onProgress?: (sent: number) => void): Promise<number> {
  await openCapture(o.input).then((reader) => reader.close());
  const kafka = new Kafka({ clientId: 'pcap-replay', brokers: o.brokers, logLevel: logLevel.WARN });
  const producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const unit = UNIT_NS[o.granularity];
  let sent = 0;
  const started = Date.now();
  try {
    let shift = 0n;
    for (let pass = 0; o.loop === 0 || pass < o.loop; pass++) {
      let first: bigint | null = null;
      let last = 0n;
      let batch: { key: Buffer; value: Buffer; partition?: number }[] = [];
      const flush = async () => {
        if (!batch.length) return;
        await producer.send({ topic: o.topic, acks: -1, compression: CompressionTypes.None, messages: batch });
        sent += batch.length;
        batch = [];
        onProgress?.(sent);
        if (o.rate > 0) {
          const ahead = (sent / o.rate) * 1000 - (Date.now() - started);
          if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
        }
      };
      const reader = await openCapture(o.input);
      for await (const p of reader) {
        first ??= p.tsNs;
        last = p.tsNs;
        const key = Buffer.allocUnsafe(8);
        key.writeBigUInt64BE((p.tsNs + shift) / unit);
        batch.push({
          key,
          value: Buffer.from(p.data),
          ...(o.partition !== undefined ? { partition: o.partition } : {}),
        });
        if (batch.length >= o.batch || (o.rate > 0 && batch.length >= Math.max(1, o.rate / 10))) await flush();
      }
      await flush();
      if (first === null) break;
      shift += last - first + 1_000_000n;
    }
  } finally {
    await producer.disconnect();
  }
  return sent;
}

/**
 * Opens the capture and checks its header, so a missing or unusable file is reported (exit 2)
 * before any broker is contacted.
 */
async function openCapture(input: string): Promise<PcapFileReader> {
  const stream = createReadStream(input);
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' ? `no such file: ${input}` : `cannot read ${input}: ${(err as Error).message}`,
    );
  }
  const reader = readPcapFile(stream);
  const header = await reader.header();
  if (header.linkType !== LINKTYPE_ETHERNET) {
    await reader.close();
    throw new UsageError(
      `${input}: link type ${header.linkType}; the sensor format carries Ethernet frames only (FROM_KEY)`,
    );
  }
  return reader;
}
