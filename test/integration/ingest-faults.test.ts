import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStack, stackCommand, uniqueName, usingExternalCluster } from '../helpers/stack.js';
import { createTopic, kafkaClient, produce, readStore, tsKey, udpFrame, type TestRecord } from '../helpers/ingest.js';
import { assertExactlyOnce, TopologyProcess, waitForDrain } from '../helpers/topology-process.js';
import { applyConfig, defaultConfig } from '../../src/config/topology-config.js';
import { Topology, type BadRecord } from '../../src/topology.js';
import { createLogger } from '../../src/lib/log.js';
import { metronPcapValue } from '../../src/formats/pcap/pcap-record.js';

let endpoints: ReturnType<typeof ensureStack>;
before(() => {
  endpoints = ensureStack();
});

const LOGS = `${process.env.PCAPLINE_TEST_LOGS ?? '/tmp/pcapline-test-logs'}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const T0 = 1_700_000_000_000_000n; // µs

async function readTopic(
  topic: string,
  expected: number,
): Promise<{ key: Buffer | null; value: Buffer | null; headers: Record<string, string> }[]> {
  const consumer = kafkaClient(endpoints.kafkaBrokers).consumer({ groupId: uniqueName('dlq-reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: { key: Buffer | null; value: Buffer | null; headers: Record<string, string> }[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length}/${expected} dead letters after 60 s`)), 60000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          got.push({ key: message.key, value: message.value, headers });
          if (got.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return got;
}

async function runInProcess(pairs: Record<string, string>, expectedRecords: number) {
  const config = defaultConfig({});
  applyConfig(config, {
    'kafka.bootstrap.servers': endpoints.kafkaBrokers,
    'kafka.group.id': uniqueName('g'),
    'kafka.pcap.idleTimeoutMS': '0',
    ...pairs,
  });
  const topology = await Topology.start(config, { log: createLogger('test', process.env.TEST_LOG_LEVEL ?? 'error') });
  const bad: BadRecord[] = [];
  let fatal: Error | null = null;
  topology.on('bad-record', (b: BadRecord) => bad.push(b));
  topology.on('fatal', (e: Error) => {
    fatal = e;
  });
  const deadline = Date.now() + 60000;
  while (topology.metrics.recordsIn < expectedRecords && Date.now() < deadline) await sleep(100);
  await topology.stop();
  assert.equal(fatal, null, 'the topology never gave up');
  return { topology, bad };
}

test('malformed records (FROM_KEY): counted by reason, dead-lettered, never block; every valid packet stored', {
  timeout: 180_000,
}, async () => {
  const topic = uniqueName('bad-key');
  const dlq = `${topic}-dlq`;
  const out = `${endpoints.webhdfsUrl}/${uniqueName('bad')}/pcap`;
  await createTopic(endpoints.kafkaBrokers, topic, 2);
  await createTopic(endpoints.kafkaBrokers, dlq, 1);
  const recs: TestRecord[] = [];
  const valid = new Set<string>();
  const expectedBad = { 'missing-key': 0, 'bad-key-length': 0, 'empty-value': 0 };
  for (let i = 0; i < 3000; i++) {
    const id = `r${String(i).padStart(15, '0')}`;
    const good = { partition: i % 2, key: tsKey(T0 + BigInt(i)), value: udpFrame(id) };
    if (i % 10 === 3) {
      recs.push({ ...good, key: null });
      expectedBad['missing-key']++;
    } else if (i % 10 === 6) {
      recs.push({ ...good, key: Buffer.from([1, 2, 3]) });
      expectedBad['bad-key-length']++;
    } else if (i % 30 === 9) {
      recs.push({ ...good, value: Buffer.alloc(0) });
      expectedBad['empty-value']++;
    } else {
      recs.push(good);
      valid.add(id);
    }
  }
  await produce(endpoints.kafkaBrokers, topic, recs);
  const { topology, bad } = await runInProcess(
    {
      'spout.kafka.topic.pcap': topic,
      'kafka.pcap.start': 'EARLIEST',
      'kafka.pcap.numPackets': '500',
      'kafka.pcap.out': out,
      'kafka.pcap.deadLetterTopic': dlq,
    },
    recs.length,
  );
  assert.deepEqual(Object.fromEntries(topology.metrics.badRecords), expectedBad, 'bad records counted by reason');
  assert.equal(bad.length, 3000 - valid.size);
  assert.match(topology.metrics.prometheus(), /pcap_bad_records_total\{reason="missing-key"\} \d+/);
  const letters = await readTopic(dlq, bad.length);
  assert.equal(letters.length, bad.length, 'every malformed record is in the dead-letter topic');
  const reasons = letters.map((l) => l.headers['pcapline-reject-reason']).sort();
  assert.deepEqual(reasons, bad.map((b) => b.reason).sort(), 'reason header on each dead letter');
  assert.ok(
    letters.filter((l) => l.headers['pcapline-reject-reason'] === 'bad-key-length').every((l) => l.key?.length === 3),
    'original key kept',
  );
  const files = await readStore(out);
  const stored = files.flatMap((f) => f.records.map((r) => r.value.subarray(40 + 42, 40 + 58).toString('latin1')));
  assert.equal(stored.length, valid.size, 'every valid packet stored once');
  assert.deepEqual(new Set(stored), valid);
});

test('malformed records (FROM_VALUE): truncated and empty pcaps are rejected, the rest stored', {
  timeout: 180_000,
}, async () => {
  const topic = uniqueName('bad-value');
  const out = `${endpoints.webhdfsUrl}/${uniqueName('badv')}/pcap`;
  await createTopic(endpoints.kafkaBrokers, topic, 1);
  const recs: TestRecord[] = [];
  let good = 0;
  for (let i = 0; i < 1000; i++) {
    const pcap = metronPcapValue((T0 + BigInt(i)) * 1000n, udpFrame(`v${String(i).padStart(15, '0')}`));
    if (i % 10 === 1) recs.push({ partition: 0, key: null, value: pcap.subarray(0, 30) });
    else if (i % 10 === 2) recs.push({ partition: 0, key: null, value: pcap.subarray(0, pcap.length - 5) });
    else if (i % 10 === 5) recs.push({ partition: 0, key: null, value: Buffer.alloc(0) });
    else {
      recs.push({ partition: 0, key: null, value: pcap });
      good++;
    }
  }
  await produce(endpoints.kafkaBrokers, topic, recs);
  const { topology } = await runInProcess(
    {
      'spout.kafka.topic.pcap': topic,
      'kafka.pcap.start': 'EARLIEST',
      'kafka.pcap.numPackets': '300',
      'kafka.pcap.ts_scheme': 'FROM_PACKET',
      'kafka.pcap.out': out,
    },
    recs.length,
  );
  assert.equal(topology.metrics.badTotal, 300);
  assert.ok((topology.metrics.badRecords.get('truncated-pcap') ?? 0) >= 100, 'truncated pcaps counted');
  assert.equal(topology.metrics.badRecords.get('empty-value'), 100);
  const files = await readStore(out);
  assert.equal(
    files.reduce((n, f) => n + f.records.length, 0),
    good,
  );
});

test('HDFS outage: the DataNode stops for 30 s mid-ingest; no crash, no loss, no duplicate, ingest resumes', {
  timeout: 600_000,
  skip: usingExternalCluster()
    ? "stops and starts the local stack's DataNode: not done to a cluster of your own"
    : false,
}, async () => {
  const topic = uniqueName('outage');
  const group = uniqueName('outage-g');
  const out = `${endpoints.webhdfsUrl}/${uniqueName('outage')}/pcap`;
  await createTopic(endpoints.kafkaBrokers, topic, 2);
  const recs: TestRecord[] = [];
  const ids = new Set<string>();
  for (let i = 0; i < 60_000; i++) {
    const id = `o${String(i).padStart(15, '0')}`;
    ids.add(id);
    recs.push({ partition: i % 2, key: tsKey(T0 + BigInt(i)), value: udpFrame(id) });
  }
  const proc = new TopologyProcess(
    {
      'spout.kafka.topic.pcap': topic,
      'kafka.bootstrap.servers': endpoints.kafkaBrokers,
      'kafka.group.id': group,
      'kafka.pcap.numPackets': '3000',
      'kafka.pcap.maxTimeMS': '0',
      'kafka.pcap.idleTimeoutMS': '1500',
      'kafka.pcap.out': out,
      'kafka.session.timeout.ms': '10000',
      'pcap.chunk.bytes': '262144',
      'pcap.stats.intervalMS': '5000',
    },
    `${LOGS}/${topic}.log`,
  );
  let exitedEarly = false;
  void proc.exited.then(() => {
    exitedEarly = true;
  });
  try {
    await produce(endpoints.kafkaBrokers, topic, recs.slice(0, 20_000));
    await sleep(3000);
    stackCommand('stop-datanode');
    await produce(endpoints.kafkaBrokers, topic, recs.slice(20_000, 40_000));
    await sleep(30_000);
    assert.equal(exitedEarly, false, 'still running during the outage');
  } finally {
    stackCommand('start-datanode');
  }
  await produce(endpoints.kafkaBrokers, topic, recs.slice(40_000));
  await waitForDrain(endpoints.kafkaBrokers, group, topic, 300_000);
  await sleep(2500);
  assert.equal(exitedEarly, false, 'never exited on its own');
  proc.kill('SIGTERM');
  assert.equal(await proc.exited, 0);
  const admin = kafkaClient(endpoints.kafkaBrokers).admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  await admin.disconnect();
  await assertExactlyOnce(out, ids, (v) => v.subarray(40 + 42, 40 + 58).toString('latin1'), ends);
});
