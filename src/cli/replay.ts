import yargs from 'yargs';
import { UsageError } from '../lib/errors.js';
import type { ReplayOptions } from '../sensor/replay.js';
import { isMainModule, runCli } from './run.js';

/**
 * pcap-replay -i capture.pcap -t topic: publishes a capture in the sensor format (src/sensor/replay.ts).
 * Exit 0 when every packet was acknowledged, 2 on bad arguments or an unreadable capture, 1 when
 * the broker fails.
 */
export async function main(argv: string[]): Promise<number> {
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
  // kafkajs and the broker addresses are needed only once the arguments are good.
  const [{ replay }, { endpointsOrDefault }] = await Promise.all([
    import('../sensor/replay.js'),
    import('../lib/endpoints.js'),
  ]);
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

if (isMainModule(import.meta.url)) runCli('pcap-replay', main);
