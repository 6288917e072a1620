import { createWriteStream, WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import yargs from 'yargs';
import { UsageError } from '../lib/errors.js';
import type { TailResult } from '../sensor/tail/tail.js';
import { stdinDash } from './dash-arg.js';
import { isMainModule, runCli } from './run.js';

const EPILOGUE = `Reads a topic of sensor records (pycapa, fastcapa, pcap-replay) and writes one libpcap stream, for
tshark -r - or wireshark -k -i -:

  pcap-tail -t pcap --follow | wireshark -k -i -
  pcap-tail -t pcap --since 10m --max-packets 1000 -o last.pcap

Start (default: the end with --follow, the beginning without, the group's offsets with --group):
  --offset beginning | end | stored | N | -N (N records before the end) | P:N[,P:N...] (only those partitions)
  --since TIME   epoch ms, ISO 8601 (UTC unless a zone is given) or a duration back (10m, 2h); found by
                 the records' Kafka timestamps (when the sensor published them)
Without --follow it stops at the end offsets read when it started.

Partitions are merged in packet-time order. Records of different partitions may arrive out of order
by up to --lateness of packet time: a packet waits at most that long (in packet time, and with
--follow in wall time too) for earlier ones; later arrivals are still written, out of order, and
counted. --reorder-buffer-mb bounds the memory this takes.

It reads as a standalone consumer (a private group, deleted at the end): it never joins or commits
to the topology's group. --group G (or -X group.id=G) makes it a member of G that commits the offsets
of the packets it has written.

Malformed records (wrong key, empty value, bad pcap) are counted and skipped, with a warning a few
times a minute; the stream only ever holds complete records, so SIGINT, --max-packets or a reader
that goes away (| head) all leave a valid capture.

-X key=value: client.id bootstrap.servers fetch.min.bytes fetch.max.bytes max.partition.fetch.bytes
  fetch.wait.max.ms session.timeout.ms heartbeat.interval.ms isolation.level group.id
  request.timeout.ms retries retry.backoff.ms retry.backoff.max.ms socket.connection.setup.timeout.ms
  security.protocol sasl.mechanism sasl.username sasl.password ssl.ca.location
  ssl.certificate.location ssl.key.location ssl.key.password enable.ssl.certificate.verification

Exit status: 0 done (end of topic, --max-packets, SIGINT, or the reader went away); 2 bad arguments
or no such topic; 1 the broker failed.`;

/** pcap-tail: a topic → a pcap stream on stdout or a file (src/sensor/tail/tail.ts). */
export async function main(argv: string[]): Promise<number> {
  const args = await yargs(stdinDash(argv, ['-o', '--output']))
    .scriptName('pcap-tail')
    .usage('$0 -t topic [options] > out.pcap')
    .epilogue(EPILOGUE)
    .wrap(null)
    .parserConfiguration({ 'short-option-groups': false })
    .option('t', { alias: 'topic', type: 'string', default: 'pcap', describe: 'Kafka topic' })
    .option('b', {
      alias: 'brokers',
      type: 'string',
      describe: 'bootstrap servers (default -X bootstrap.servers, $KAFKA_BROKERS or the local stack)',
    })
    .option('o', { alias: 'output', type: 'string', default: '-', describe: "pcap file to write ('-' = stdout)" })
    .option('offset', { type: 'string', describe: 'where to start (see below)' })
    .option('since', { type: 'string', describe: 'start at this time (see below)' })
    .option('f', {
      alias: 'follow',
      type: 'boolean',
      default: false,
      describe: 'keep reading new records until stopped',
    })
    .option('max-packets', { alias: 'c', type: 'number', describe: 'stop after writing this many packets' })
    .option('scheme', {
      type: 'string',
      default: 'FROM_KEY',
      describe: 'record format: FROM_KEY (time in the key) or FROM_VALUE (value is a one-packet pcap)',
    })
    .option('granularity', {
      type: 'string',
      default: 'MICROSECONDS',
      describe: 'unit of FROM_KEY keys: MILLISECONDS, MICROSECONDS or NANOSECONDS',
    })
    .option('time-stamp-precision', {
      type: 'string',
      default: 'micro',
      choices: ['micro', 'nano'],
      describe: 'pcap written with µs or ns time stamps',
    })
    .option('lateness', {
      type: 'number',
      default: 1000,
      describe: 'ms of packet time a packet waits for earlier ones from other partitions',
    })
    .option('reorder-buffer-mb', { type: 'number', default: 64, describe: 'memory for the time-order merge, MiB' })
    .option('group', { type: 'string', describe: 'consume as a member of this group and commit what was written' })
    .option('X', { type: 'string', array: true, default: [], describe: 'Kafka client setting key=value (see below)' })
    .option('stats-interval', {
      type: 'number',
      default: 0,
      describe: 'seconds between status lines on stderr (0 = none)',
    })
    .option('q', { alias: 'quiet', type: 'boolean', default: false, describe: 'no summary or warnings on stderr' })
    .strict()
    .help('h')
    .alias('h', 'help')
    .version(false)
    .fail((msg, err) => {
      throw new UsageError(err?.message ?? msg);
    })
    .parseAsync();
  const maxPackets = args['max-packets'];
  if (maxPackets !== undefined && !(Number.isInteger(maxPackets) && maxPackets >= 1))
    throw new UsageError('--max-packets must be an integer >= 1');
  if (!(Number.isInteger(args.lateness) && args.lateness >= 0))
    throw new UsageError('--lateness must be an integer number of ms >= 0');
  if (!(args['reorder-buffer-mb'] > 0)) throw new UsageError('--reorder-buffer-mb must be > 0');
  if (!(args['stats-interval'] >= 0)) throw new UsageError('--stats-interval must be >= 0');
  const [
    { tailTopic },
    { parseStartSpec },
    { parseKafkaSettings },
    scheme,
    { endpointsOrDefault },
    { startStatusLine },
  ] = await Promise.all([
    import('../sensor/tail/tail.js'),
    import('../sensor/tail/start-position.js'),
    import('../sensor/kafka-settings.js'),
    import('../scheme/index.js'),
    import('../lib/endpoints.js'),
    import('../sensor/status-line.js'),
  ]);
  const tsScheme = scheme.parseTsScheme(args.scheme);
  if (!tsScheme) throw new UsageError(`--scheme ${args.scheme}: expected FROM_KEY or FROM_VALUE`);
  const granularity = scheme.parseTsGranularity(args.granularity);
  if (!granularity)
    throw new UsageError(`--granularity ${args.granularity}: expected MILLISECONDS, MICROSECONDS or NANOSECONDS`);
  const start = parseStartSpec(args.offset, args.since, Date.now());
  const kafka = parseKafkaSettings(args.X.map(String), 'consumer', 'pcap-tail');
  if (args.group !== undefined && kafka.groupId !== undefined && args.group !== kafka.groupId)
    throw new UsageError('--group and -X group.id differ');
  const toStdout = args.o === '-';
  const out: Writable = toStdout ? process.stdout : await openOutput(args.o);
  const warn = (line: string): void => {
    if (!args.q) process.stderr.write(`pcap-tail: ${line}\n`);
  };
  const tail = tailTopic({
    topic: args.t,
    brokers: args.b?.split(',') ?? kafka.brokers ?? endpointsOrDefault().kafkaBrokers.split(','),
    kafka,
    groupId: args.group ?? kafka.groupId,
    start,
    follow: args.f,
    maxPackets,
    latenessMs: args.lateness,
    reorderBytes: Math.round(args['reorder-buffer-mb'] * 1024 * 1024),
    scheme: tsScheme,
    granularity,
    nanos: args['time-stamp-precision'] === 'nano',
    out,
    endStream: !toStdout,
    warn,
  });
  const onSignal = (): void => tail.stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stopStatus = startStatusLine('pcap-tail', args.q ? 0 : args['stats-interval'] * 1000, () => [
    { label: 'records in', value: tail.stats.records, rate: true },
    { label: 'packets out', value: tail.stats.written, rate: true },
    { label: 'malformed', value: tail.stats.malformed },
    { label: 'buffered', value: tail.stats.buffered },
    { label: 'lag', value: tail.stats.lag },
  ]);
  let result: TailResult;
  try {
    result = await tail.done;
  } catch (err) {
    // Nothing was read (no such topic, broker down): leave no empty, header-less file behind.
    if (!toStdout && out instanceof WriteStream && out.bytesWritten === 0 && out.writableLength === 0)
      await removeFile(out, args.o);
    throw err;
  } finally {
    stopStatus();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (!args.q) process.stderr.write(`${summary(result, args.t)}\n`);
  return 0;
}

async function openOutput(path: string): Promise<Writable> {
  const out = createWriteStream(path);
  try {
    await new Promise<void>((resolve, reject) => {
      out.once('open', () => resolve());
      out.once('error', reject);
    });
  } catch (err) {
    throw new UsageError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return out;
}

async function removeFile(out: Writable, path: string): Promise<void> {
  out.destroy();
  await unlink(path).catch(() => {});
}

function summary(r: TailResult, topic: string): string {
  const why: Record<TailResult['end'], string> = {
    'end-of-topic': 'end of topic',
    'max-packets': '--max-packets reached',
    stopped: 'stopped',
    'reader-closed': 'the reader closed the stream',
  };
  let line = `pcap-tail: wrote ${r.written} packets from ${topic} (${why[r.end]})`;
  if (r.malformed) {
    const reasons = [...r.malformedByReason].map(([k, v]) => `${k} ${v}`).join(', ');
    line += `; skipped ${r.malformed} malformed records (${reasons})`;
  }
  if (r.late) line += `; ${r.late} packets arrived later than --lateness and were written out of order`;
  return line;
}

if (isMainModule(import.meta.url)) runCli('pcap-tail', main);
