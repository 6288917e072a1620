import yargs from 'yargs';
import { UsageError } from '../lib/errors.js';
import type { ReplayOptions, SensorResult } from '../sensor/replay.js';
import { stdinDash } from './dash-arg.js';
import { isMainModule, runCli } from './run.js';

const EPILOGUE = `Publishes packets to Kafka as a packet sensor does (pycapa, fastcapa):
key = the packet time as an 8-byte big-endian unsigned integer, value = the Ethernet frame.

Sources:
  -i capture.pcap                  a pcap file (µs or ns, either byte order)
  -i -                             a pcap stream on stdin: tcpdump -i eth0 -U -w - | pcap-replay -i -
  --interface eth0 [--filter BPF]  live capture: runs tcpdump (or dumpcap) writing pcap to a pipe

SIGINT/SIGTERM stop cleanly: the capture tool is stopped, everything it captured is published and
acknowledged, then the command exits 0 (a second signal cuts the wait for stdin or the tool short).

-X key=value (repeatable) passes Kafka client settings in librdkafka's names, as pycapa does:
  bootstrap.servers client.id acks compression.type (none|gzip) linger.ms batch.num.messages
  batch.size enable.idempotence max.in.flight.requests.per.connection request.timeout.ms retries
  retry.backoff.ms retry.backoff.max.ms socket.connection.setup.timeout.ms security.protocol
  sasl.mechanism sasl.username sasl.password ssl.ca.location ssl.certificate.location
  ssl.key.location ssl.key.password enable.ssl.certificate.verification
  Any other key is refused (exit 2): kafkajs has no equivalent for it.

Exit status: 0 every packet read was acknowledged; 2 bad arguments, an unreadable capture or a
capture tool that cannot start (bad interface or filter, no permission); 1 the broker failed.`;

/**
 * pcap-replay: publishes a capture file, a pcap stream on stdin or a live capture in the sensor
 * format (src/sensor/replay.ts).
 */
export async function main(argv: string[]): Promise<number> {
  const args = await yargs(stdinDash(argv, ['-i', '--input']))
    .scriptName('pcap-replay')
    .usage('$0 (-i capture.pcap | -i - | --interface IF) -t topic [options]')
    .epilogue(EPILOGUE)
    .wrap(null)
    .parserConfiguration({ 'short-option-groups': false })
    .option('i', { alias: 'input', type: 'string', describe: "pcap file, or '-' for a pcap stream on stdin" })
    .option('interface', { type: 'string', describe: 'capture live from this interface (tcpdump or dumpcap)' })
    .option('filter', { type: 'string', describe: 'BPF filter for the live capture (tcpdump syntax)' })
    .option('snaplen', { type: 'number', describe: 'bytes kept per captured packet (default 262144)' })
    .option('max-packets', { type: 'number', describe: 'stop after this many packets' })
    .option('immediate-mode', {
      type: 'boolean',
      default: false,
      describe: 'live: deliver each packet at once instead of in kernel-buffered blocks (lower latency, more CPU)',
    })
    .option('buffer-size', { type: 'number', describe: 'live: kernel capture buffer in KiB' })
    .option('promisc', { type: 'boolean', default: true, describe: 'live: promiscuous mode (--no-promisc to disable)' })
    .option('capture-tool', {
      type: 'string',
      choices: ['tcpdump', 'dumpcap'],
      describe: 'live: the capture program (default tcpdump if installed, else dumpcap)',
    })
    .option('t', { alias: 'topic', type: 'string', default: 'pcap', describe: 'Kafka topic' })
    .option('b', {
      alias: 'brokers',
      type: 'string',
      describe: 'bootstrap servers (default -X bootstrap.servers, $KAFKA_BROKERS or the local stack)',
    })
    .option('X', { type: 'string', array: true, default: [], describe: 'Kafka client setting key=value (see below)' })
    .option('granularity', {
      type: 'string',
      default: 'MICROSECONDS',
      choices: ['MILLISECONDS', 'MICROSECONDS', 'NANOSECONDS'],
      describe: 'unit of the key (NANOSECONDS also asks tcpdump for ns time stamps)',
    })
    .option('rate', { type: 'number', default: 0, describe: 'packets per second (0 = unthrottled)' })
    .option('loop', {
      type: 'number',
      default: 1,
      describe: 'passes over the file (0 = forever; times keep increasing); files only',
    })
    .option('partition', { type: 'number', describe: 'send every packet to this partition (default: by key hash)' })
    .option('batch', {
      type: 'number',
      default: 1000,
      describe: 'messages per produce request (same as -X batch.num.messages)',
    })
    .option('stats-interval', {
      type: 'number',
      default: 10,
      describe: 'seconds between "packets in/out" lines on stderr (0 = none)',
    })
    .option('q', { alias: 'quiet', type: 'boolean', default: false, describe: 'no status lines, no summary' })
    .strict()
    .help('h')
    .alias('h', 'help')
    .version(false)
    .fail((msg, err) => {
      throw new UsageError(err?.message ?? msg);
    })
    .parseAsync();
  const sources = [args.i !== undefined, args.interface !== undefined].filter(Boolean).length;
  if (sources !== 1) throw new UsageError('give one source: -i capture.pcap, -i - (stdin) or --interface IF');
  if (args.interface === undefined) {
    for (const live of ['filter', 'snaplen', 'buffer-size', 'capture-tool'] as const)
      if (args[live] !== undefined) throw new UsageError(`--${live} applies to a live capture (--interface)`);
  } else if (args.loop !== 1) throw new UsageError('--loop applies to a file');
  if (args.i === '-' && args.loop !== 1) throw new UsageError('--loop applies to a file, not to stdin');
  // Each numeric option named in its own one-line error; --batch is held in memory, so bounded.
  checkNumber(args.rate, '--rate', 'a number of packets per second (0 = unthrottled)', 0, 1e9, false);
  checkNumber(args.loop, '--loop', 'a number of passes (0 = forever)', 0, Number.MAX_SAFE_INTEGER, true);
  checkNumber(args.batch, '--batch', 'a number of messages per request', 1, MAX_BATCH, true);
  if (args.partition !== undefined)
    checkNumber(args.partition, '--partition', 'a partition number', 0, 2 ** 31 - 1, true);
  if (!TOPIC.test(args.t)) {
    throw new UsageError(`-t/--topic: '${args.t}' is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)`);
  }
  if (args.b !== undefined) checkBrokers(args.b);
  for (const n of ['snaplen', 'max-packets', 'buffer-size'] as const) {
    const v = args[n];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${n} must be an integer >= 1`);
  }
  if (!(args['stats-interval'] >= 0)) throw new UsageError('--stats-interval must be >= 0');
  // kafkajs and the broker addresses are needed only once the arguments are good.
  const [{ publishCapture }, { endpointsOrDefault }, { parseKafkaSettings }, { startStatusLine }] = await Promise.all([
    import('../sensor/replay.js'),
    import('../lib/endpoints.js'),
    import('../sensor/kafka-settings.js'),
    import('../sensor/status-line.js'),
  ]);
  const xs = args.X.map(String);
  const kafka = parseKafkaSettings(xs, 'producer', 'pcap-replay');
  const batchFromX = xs.some((x) => /^\s*batch\.num\.messages\s*=/.test(x));
  const granularity = args.granularity as ReplayOptions['granularity'];
  const maxPackets = args['max-packets'];
  const run = publishCapture({
    input: args.i,
    capture:
      args.interface === undefined
        ? undefined
        : {
            interface: args.interface,
            filter: args.filter,
            snaplen: args.snaplen,
            maxPackets,
            nanos: granularity === 'NANOSECONDS',
            immediate: args['immediate-mode'],
            bufferKiB: args['buffer-size'],
            noPromiscuous: !args.promisc,
            tool: args['capture-tool'] as 'tcpdump' | 'dumpcap' | undefined,
          },
    topic: args.t,
    brokers: args.b?.split(',').map((b) => b.trim()) ?? kafka.brokers ?? endpointsOrDefault().kafkaBrokers.split(','),
    granularity,
    rate: args.rate,
    loop: args.loop,
    partition: args.partition,
    batch: batchFromX ? kafka.batch.maxMessages : args.batch,
    maxPackets,
    kafka,
    onOpen: (source) => {
      if (!args.q) process.stderr.write(`pcap-replay: reading ${source}, publishing to ${args.t}\n`);
    },
  });
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals >= 3) process.exit(130); // the user insists: give up on the unacknowledged packets
    run.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stopStatus = startStatusLine('pcap-replay', args.q ? 0 : args['stats-interval'] * 1000, () => [
    { label: 'packets in', value: run.stats.read, rate: true },
    { label: 'out', value: run.stats.sent, rate: true },
    { label: 'pending', value: run.stats.pending },
  ]);
  let result: SensorResult;
  try {
    result = await run.done;
  } finally {
    stopStatus();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (!args.q) process.stderr.write(`${summary(result, args.t)}\n`);
  const exit = result.capture;
  // The tool died on its own (interface gone, device error) before we asked it to stop: a runtime failure.
  if (exit && !result.stopped && exit.code !== 0 && !(maxPackets && result.read >= maxPackets)) {
    process.stderr.write(
      `pcap-replay: capture ended unexpectedly: ${exit.stderrTail.at(-1) ?? `status ${exit.code}`}\n`,
    );
    return 1;
  }
  return 0;
}

const MAX_BATCH = 100_000;
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** A numeric option as yargs parsed it (NaN for text), checked and named in the one-line error. */
function checkNumber(value: number, option: string, what: string, min: number, max: number, integer: boolean): void {
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    const range = max >= Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min} to ${max}`;
    const shown = Number.isNaN(value) ? 'the value given' : `'${value}'`;
    throw new UsageError(`${option}: ${shown} is not ${what} (${integer ? 'a whole number, ' : ''}${range})`);
  }
}

/** `-b host:port[,host:port…]`, each port 1–65535. */
function checkBrokers(value: string): void {
  for (const b of value.split(',').map((x) => x.trim())) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(b);
    if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw new UsageError(`-b/--brokers: '${b}' is not host:port (a comma-separated list of them)`);
    }
  }
}

function summary(r: SensorResult, topic: string): string {
  let line = `pcap-replay: sent ${r.sent} packets to ${topic}`;
  if (r.read !== r.sent) line += ` (read ${r.read})`;
  const c = r.capture;
  if (c) {
    const parts: string[] = [];
    if (c.captured !== null) parts.push(`captured ${c.captured}`);
    if (c.receivedByFilter !== null) parts.push(`received by filter ${c.receivedByFilter}`);
    if (c.droppedByKernel !== null) parts.push(`dropped by kernel ${c.droppedByKernel}`);
    if (parts.length) line += `; capture: ${parts.join(', ')}`;
  }
  return line;
}

if (isMainModule(import.meta.url)) runCli('pcap-replay', main);
