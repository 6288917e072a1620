import yargs from 'yargs';
import { UsageError } from '../lib/errors.js';
import type { ProtocolSettings } from '../protocols/registry.js';
import { stdinDash } from './dash-arg.js';
import { isMainModule, runCli } from './run.js';

/**
 * pcap-analyze: application-protocol events (DNS, HTTP, TLS, SMTP, SIP, ICMP) as ECS NDJSON, from a
 * pcap file or stdin, or continuously from the sensor topic to an events topic. Exit 0 on success,
 * 2 on bad arguments or an unreadable capture, 1 when Kafka fails.
 */
const PROTOCOLS = ['dns', 'http', 'tls', 'smtp', 'sip', 'icmp'];

export async function main(argv: string[]): Promise<number> {
  const args = await yargs(stdinDash(argv, ['-i', '--input', '-o', '--output']))
    .scriptName('pcap-analyze')
    .usage(
      '$0 -i capture.pcap [-o events.ndjson] [options]\n$0 --topic pcap --events-topic pcap-events [--group g] [options]',
    )
    .epilogue(
      [
        'Decodes DNS (UDP/TCP), HTTP/1.x, TLS handshakes, SMTP, SIP and ICMP like Packetbeat, on packet time,',
        'and writes one JSON event per transaction with ECS field names (docs/protocols.md lists them all).',
        "Each event's pcapline.packets.query holds the pcap-query arguments that fetch its packets.",
        'Protocols are found by port (--ports) and, on other ports, by content (--no-content-dispatch to turn off).',
        '',
        'Examples:',
        '  pcap-analyze -i capture.pcap > events.ndjson',
        '  pcap-query fixed -st 1700000000000 -sa 10.0.0.5 -o - | pcap-analyze -i - --protocols dns,tls',
        '  pcap-analyze --topic pcap --events-topic pcap-events --group pcap-analyze',
        '',
        'Exit status: 0 done, 2 bad arguments or capture, 1 runtime failure (Kafka).',
      ].join('\n'),
    )
    .wrap(null)
    .parserConfiguration({ 'short-option-groups': false })
    .option('i', { alias: 'input', type: 'string', describe: 'pcap file to analyze, or - for stdin' })
    .option('o', { alias: 'output', type: 'string', default: '-', describe: 'NDJSON output file (default stdout)' })
    .option('protocols', {
      type: 'string',
      describe: `comma-separated protocols to run (default all: ${PROTOCOLS.join(',')})`,
    })
    .option('ports', {
      type: 'array',
      string: true,
      describe: 'ports of a protocol, replacing its defaults: --ports http=80,8080 --ports tls=443',
    })
    .option('content-dispatch', {
      type: 'boolean',
      default: true,
      describe: 'recognise protocols by content on unconfigured ports',
    })
    .option('transaction-timeout', {
      type: 'number',
      default: 10_000,
      describe: 'request/response pairing timeout, ms of packet time',
    })
    .option('tcp-timeout', {
      type: 'number',
      default: 60_000,
      describe: 'idle TCP connection timeout, ms of packet time',
    })
    .option('max-connections', { type: 'number', default: 100_000, describe: 'TCP connections tracked at once' })
    .option('memory', { type: 'number', default: 256, describe: 'MiB all buffers together may hold' })
    .option('stats', { type: 'boolean', default: false, describe: 'print every counter as JSON on stderr at the end' })
    .option('topic', { type: 'string', describe: 'streaming mode: the sensor topic to consume' })
    .option('events-topic', { type: 'string', describe: 'streaming mode: the topic events are published to' })
    .option('group', { type: 'string', default: 'pcap-analyze', describe: 'streaming mode: consumer group' })
    .option('b', {
      alias: 'brokers',
      type: 'string',
      describe: 'bootstrap servers (default $KAFKA_BROKERS or the local stack)',
    })
    .option('from-beginning', {
      type: 'boolean',
      default: false,
      describe: 'streaming: start at the oldest packet when the group is new',
    })
    .option('lateness', {
      type: 'number',
      default: 2000,
      describe: 'streaming: packet-time ms partitions may lag each other',
    })
    .option('ts-granularity', {
      type: 'string',
      default: 'MICROSECONDS',
      choices: ['MILLISECONDS', 'MICROSECONDS', 'NANOSECONDS'],
      describe: 'streaming: unit of the sensor key',
    })
    .option('exit-when-idle', {
      type: 'number',
      default: 0,
      describe: 'streaming: stop cleanly after this many ms without packets (0 = never)',
    })
    .strict()
    .help('h')
    .alias('h', 'help')
    .version(false)
    .fail((msg, err) => {
      throw new UsageError(err?.message ?? msg);
    })
    .parseAsync();

  const streaming = args.topic !== undefined;
  if (streaming === (args.i !== undefined)) throw new UsageError('give either -i <capture> or --topic <sensor topic>');
  if (streaming && !args['events-topic']) throw new UsageError('--topic needs --events-topic');
  for (const [name, v] of [
    ['transaction-timeout', args['transaction-timeout']],
    ['tcp-timeout', args['tcp-timeout']],
    ['max-connections', args['max-connections']],
    ['memory', args.memory],
  ] as const)
    if (!(Number.isFinite(v) && v > 0)) throw new UsageError(`--${name} must be a positive number`);

  const protocols = protocolSettings(args.protocols, args.ports ?? [], args['transaction-timeout']);
  const analyzerOptions = {
    protocols,
    contentDispatch: args['content-dispatch'],
    memoryLimitBytes: args.memory * 1024 * 1024,
    tcp: {
      idleTimeoutNs: BigInt(Math.round(args['tcp-timeout'])) * 1_000_000n,
      maxConnections: args['max-connections'],
    },
  };

  if (streaming) {
    const [{ StreamAnalyzer }, { endpointsOrDefault }] = await Promise.all([
      import('../protocols/stream/kafka-analyzer.js'),
      import('../lib/endpoints.js'),
    ]);
    const s = new StreamAnalyzer({
      brokers: (args.b ?? endpointsOrDefault().kafkaBrokers).split(','),
      topic: args.topic as string,
      eventsTopic: args['events-topic'] as string,
      groupId: args.group,
      fromBeginning: args['from-beginning'],
      latenessMs: args.lateness,
      tsGranularity: args['ts-granularity'] as 'MICROSECONDS',
      exitWhenIdleMs: args['exit-when-idle'],
      analyzer: analyzerOptions,
    });
    const stop = () => {
      s.stop().catch(() => {});
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await s.start();
    await s.done;
    process.stderr.write(
      `pcap-analyze: ${s.stats.messages} packets consumed, ${s.stats.eventsProduced} events published to ${args['events-topic']}` +
        ` (${s.stats.rejected} rejected, ${s.stats.late} late, ${s.stats.forced} released early)\n`,
    );
    if (args.stats) process.stderr.write(`${JSON.stringify({ ...s.analyzer.stats, stream: s.stats })}\n`);
    return 0;
  }

  const [{ analyzePcap }, { openInput, openOutput }] = await Promise.all([
    import('../protocols/input/pcap-input.js'),
    import('./analyze-io.js'),
  ]);
  const input = await openInput(args.i as string);
  const output = openOutput(args.o);
  const result = await analyzePcap(
    input,
    (e) => output.write(e),
    analyzerOptions,
    () => output.drain(),
  );
  await output.end();
  const st = result.stats;
  process.stderr.write(
    `pcap-analyze: ${st.packets} packets, ${st.events} events, ${st.tcpConnections} TCP connections` +
      `${result.read.torn ? `, capture cut short after ${result.read.packets} packets` : ''}` +
      `${st.parseErrors + st.messagesTooLarge + st.ipFragmentsDropped + st.tcpGaps > 0 ? `; lost: ${st.tcpGaps} TCP gaps, ${st.ipFragmentsDropped} fragments, ${st.parseErrors} unparseable, ${st.messagesTooLarge} oversized messages` : ''}\n`,
  );
  if (args.stats) process.stderr.write(`${JSON.stringify({ ...st, peakBufferedBytes: result.peakBufferedBytes })}\n`);
  return 0;
}

/** --protocols and --ports into per-protocol settings; unknown names are usage errors. */
export function protocolSettings(
  list: string | undefined,
  ports: readonly string[],
  transactionTimeoutMs: number,
): Record<string, ProtocolSettings> {
  const settings: Record<string, ProtocolSettings> = {};
  const wanted = list === undefined ? PROTOCOLS : list.split(',').map((p) => p.trim().toLowerCase());
  for (const p of wanted)
    if (!PROTOCOLS.includes(p))
      throw new UsageError(`--protocols: unknown protocol '${p}' (known: ${PROTOCOLS.join(', ')})`);
  for (const p of PROTOCOLS) settings[p] = { enabled: wanted.includes(p), transactionTimeoutMs };
  for (const spec of ports) {
    const m = /^([a-z]+)=(\d+(?:,\d+)*)$/.exec(spec.trim());
    if (m === null) throw new UsageError(`--ports: expected protocol=port[,port...], got '${spec}'`);
    if (!PROTOCOLS.includes(m[1])) throw new UsageError(`--ports: unknown protocol '${m[1]}'`);
    const list2 = m[2].split(',').map(Number);
    if (list2.some((n) => n < 1 || n > 65535)) throw new UsageError(`--ports: ports must be 1-65535 in '${spec}'`);
    settings[m[1]] = { ...settings[m[1]], ports: list2 };
  }
  return settings;
}

if (isMainModule(import.meta.url)) runCli('pcap-analyze', main);
