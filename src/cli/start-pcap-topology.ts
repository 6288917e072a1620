import yargs from 'yargs';
import { ConfigError, loadTopologyConfig, parseOverrides } from '../config/topology-config.js';
import { isStorageError } from '../storage/errors.js';
import { describeLocation, parseStorageUri } from '../storage/uri.js';
import { isMainModule, runCli } from './run.js';

/**
 * start-pcap-topology [-c config/pcap.properties] [-D key=value ...]
 * Runs the ingest until SIGINT/SIGTERM, then seals open files, commits and exits 0.
 * Exit 2: bad arguments or configuration. Exit 1: an unrecoverable consumer error (restart me).
 */
export async function main(argv: string[]): Promise<number> {
  const args = await yargs(argv)
    .scriptName('start-pcap-topology')
    .usage('$0 [-c config/pcap.properties] [-D key=value ...]')
    .epilogue(
      [
        'Drains packets from Kafka into rolled, Metron-compatible packet files (HDFS or local), exactly once.',
        'Every key is listed with its meaning in config/pcap.properties.',
        'SIGINT/SIGTERM: seal, commit, exit 0. Exit 2: a bad argument or configuration key.',
        'Exit 1: an unrecoverable error; run it under a supervisor that restarts it (nothing is lost).',
      ].join('\n'),
    )
    .wrap(null)
    .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': false })
    .option('c', { alias: 'config', type: 'string', describe: 'Java .properties file (see config/pcap.properties)' })
    .option('D', { type: 'string', array: true, describe: 'override one key: -D kafka.pcap.numPackets=10000' })
    .strict()
    .help('h')
    .alias('h', 'help')
    .version(false)
    .fail((msg, err) => {
      throw new ConfigError('arguments', err?.message ?? msg);
    })
    .parseAsync();
  const { config, notices } = loadTopologyConfig(args.c, parseOverrides((args.D ?? []) as string[]));
  // The same rule for a plain path as every tool (storage/uri.ts), checked before anything starts.
  let out: string;
  try {
    out = describeLocation(parseStorageUri(config.out));
  } catch (err) {
    if (isStorageError(err, 'IllegalArgumentException')) throw new ConfigError('kafka.pcap.out', err.message);
    throw err;
  }
  // The Kafka client, the store clients and the logger load only for a run, not for --help or a bad key.
  const [{ Topology }, { createLogger }] = await Promise.all([import('../topology.js'), import('../lib/log.js')]);
  const log = createLogger('pcap-topology');
  // A bug must not leave a half-working consumer behind: exit and let the supervisor restart us
  // (offsets trail durable data, so nothing is lost).
  process.on('unhandledRejection', (err) => {
    log.error({ err: (err as Error)?.message ?? String(err) }, 'unhandled rejection; exiting');
    process.exit(1);
  });
  for (const n of notices) log.warn(n);
  log.info({ out, topic: config.topic, groupId: config.groupId }, 'writing to the store');
  const topology = Topology.create(config, { log });
  return new Promise<number>((resolve, reject) => {
    let stopping = false;
    // Signals are handled from the start: a SIGTERM while start-up still waits on the cluster ends
    // in a clean stop too.
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping: sealing open files and committing');
      topology.stop().then(
        () => resolve(0),
        (err) => {
          log.error({ err: (err as Error).message }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    topology.on('fatal', (err: Error) => {
      log.error(
        { err: err.message },
        'exiting so a supervisor restarts the topology; uncommitted records will be re-read',
      );
      resolve(1);
    });
    topology.begin().catch((err) => {
      if (!stopping) reject(err);
    });
  });
}

if (isMainModule(import.meta.url)) runCli('start-pcap-topology', main);
