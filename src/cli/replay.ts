import { createReadStream } from 'node:fs';
import yargs from 'yargs';
import kafkajs from 'kafkajs';
import { readPcapFile, PcapFileError } from '../formats/pcap/pcap-file.js';
import { LINKTYPE_ETHERNET } from '../packet/decode.js';
import { endpointsOrDefault } from '../lib/endpoints.js';

const { Kafka, logLevel, CompressionTypes, Partitioners } = kafkajs;

class UsageError extends Error {}

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
      const reader = readPcapFile(createReadStream(o.input));
      const header = await reader.header();
      if (header.linkType !== LINKTYPE_ETHERNET) {
        throw new UsageError(
          `${o.input}: link type ${header.linkType}; the sensor format carries Ethernet frames only (FROM_KEY)`,
        );
      }
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

async function main(argv: string[]): Promise<number> {
  const args = await yargs(argv)
    .scriptName('pcap-replay')
    .usage('$0 -i capture.pcap -t topic [options]')
    .epilogue(
      'Publishes a pcap file to Kafka as a packet sensor does (pycapa, fastcapa):\nkey = the packet time as an 8-byte big-endian unsigned integer, value = the frame.',
    )
    .wrap(null)
    .parserConfiguration({ 'short-option-groups': false })
    .option('i', {
      alias: 'input',
      type: 'string',
      demandOption: true,
      describe: 'pcap file (µs or ns, either byte order)',
    })
    .option('t', { alias: 'topic', type: 'string', default: 'pcap', describe: 'Kafka topic' })
    .option('b', {
      alias: 'brokers',
      type: 'string',
      describe: 'bootstrap servers (default $KAFKA_BROKERS or the local stack)',
    })
    .option('granularity', {
      type: 'string',
      default: 'MICROSECONDS',
      choices: ['MILLISECONDS', 'MICROSECONDS', 'NANOSECONDS'],
      describe: 'unit of the key',
    })
    .option('rate', { type: 'number', default: 0, describe: 'packets per second (0 = unthrottled)' })
    .option('loop', {
      type: 'number',
      default: 1,
      describe: 'passes over the file (0 = forever; times keep increasing)',
    })
    .option('partition', { type: 'number', describe: 'send every packet to this partition (default: by key hash)' })
    .option('batch', { type: 'number', default: 1000, describe: 'messages per produce request' })
    .strict()
    .help('h')
    .alias('h', 'help')
    .version(false)
    .fail((msg, err) => {
      throw new UsageError(err?.message ?? msg);
    })
    .parseAsync();
  if (!(args.rate >= 0) || !(args.loop >= 0) || !(args.batch >= 1))
    throw new UsageError('--rate and --loop must be >= 0, --batch >= 1');
  const sent = await replay({
    input: args.i,
    topic: args.t,
    brokers: (args.b ?? endpointsOrDefault().kafkaBrokers).split(','),
    granularity: args.granularity as ReplayOptions['granularity'],
    rate: args.rate,
    loop: args.loop,
    partition: args.partition,
    batch: args.batch,
  });
  process.stderr.write(`pcap-replay: sent ${sent} packets to ${args.t}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/pcap-replay')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const known =
        err instanceof UsageError || err instanceof PcapFileError || (err as NodeJS.ErrnoException).code === 'ENOENT';
      process.stderr.write(`pcap-replay: ${(err as Error).message}\n`);
      process.exit(known ? 2 : 1);
    },
  );
}
