/**
 * The "raw kafkajs consume" row of the ingest benchmark: the topology's own consumer (KafkaSpout,
 * built from the same -D configuration the topology gets: topic, group, start mode, session timeout,
 * fetch sizes, partitions consumed concurrently) draining the topic and doing nothing with the
 * records but reading each batch's last offset. It is what kafkajs delivers to the ingest thread on
 * this machine, through the consumer thread's hand-over: the ceiling for the topology, whose rows
 * the benchmark prints as a ratio to it.
 *
 *   node dist-bench/bench/raw-consume.js --expect N -D key=value ...
 *
 * Exits 0 once N records were delivered and every partition's end offset is committed (as the
 * topology commits on SIGTERM); prints `{"records":N,"firstRecordMs":T}` on stdout. Run compiled
 * (bench/ingest.ts builds it with tsconfig.bench.json), like the topology, so neither pays for a
 * TypeScript loader.
 */
import { parseArgs } from 'node:util';
import { loadTopologyConfig, parseOverrides } from '../src/config/topology-config.js';
import { createLogger } from '../src/lib/log.js';
import { KafkaSpout } from '../src/spout/kafka-spout.js';

/** As the topology's `spout.run` call (src/topology.ts). */
const PARTITIONS_CONSUMED_CONCURRENTLY = 8;

async function main(): Promise<void> {
  const startedAt = Date.now();
  const { values } = parseArgs({
    options: { expect: { type: 'string' }, D: { type: 'string', short: 'D', multiple: true } },
    strict: true,
  });
  const expected = Number(values.expect);
  if (!Number.isSafeInteger(expected) || expected < 1) throw new Error('--expect needs a positive integer');
  const { config } = loadTopologyConfig(undefined, parseOverrides(values.D ?? []));
  const log = createLogger('raw-consume', 'warn');
  const spout = new KafkaSpout({
    brokers: config.bootstrapServers,
    groupId: config.groupId,
    topic: config.topic,
    clientId: `pcapline-${config.instanceId}`,
    sessionTimeoutMs: config.sessionTimeoutMs,
    security: config.security,
    log,
  });
  let records = 0;
  let firstRecordAt = 0;
  const next = new Map<number, bigint>();
  let finish: () => void = () => {};
  const drained = new Promise<void>((resolve) => (finish = resolve));
  await spout.connect();
  await spout.run({
    partitionsConcurrently: PARTITIONS_CONSUMED_CONCURRENTLY,
    fromBeginning: config.start.endsWith('EARLIEST'),
    onAssign: () => {},
    onKept: () => {},
    onRevoke: () => {},
    onCrash: (err) => {
      process.stderr.write(`raw-consume: consumer crashed: ${err.message}\n`);
      process.exit(1);
    },
    onBatch: async (batch) => {
      const n = batch.messages.length;
      if (!n) return;
      if (!firstRecordAt) firstRecordAt = Date.now();
      const last = batch.messages[n - 1].offset;
      batch.resolveOffset(last);
      next.set(batch.partition, BigInt(last) + 1n);
      records += n;
      if (records >= expected) finish();
    },
  });
  await drained;
  spout.beginStop();
  for (const [partition, offset] of next) await spout.commit(partition, offset);
  await spout.disconnect();
  process.stdout.write(`${JSON.stringify({ records, firstRecordMs: firstRecordAt - startedAt })}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`raw-consume: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
