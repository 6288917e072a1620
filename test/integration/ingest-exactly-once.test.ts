import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStack, uniqueName } from '../helpers/stack.js';
import { createTopic, kafkaClient, produce, tsKey, udpFrame, type TestRecord } from '../helpers/ingest.js';
import { assertExactlyOnce, TopologyProcess, waitForDrain } from '../helpers/topology-process.js';

let endpoints: ReturnType<typeof ensureStack>;
before(() => {
  endpoints = ensureStack();
});

const LOGS = `${process.env.PCAPLINE_TEST_LOGS ?? '/tmp/pcapline-test-logs'}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Frames carry a fixed-width id at the UDP payload start (offset 42). */
const idOf = (value: Buffer): string => value.subarray(40 + 42, 40 + 42 + 16).toString('latin1');

function records(
  partitions: number,
  perPartition: number,
  startTs: bigint,
): { records: TestRecord[]; ids: Set<string> } {
  const out: TestRecord[] = [];
  const ids = new Set<string>();
  for (let i = 0; i < perPartition; i++) {
    for (let p = 0; p < partitions; p++) {
      const id = `p${p}-${String(i).padStart(12, '0')}`.slice(0, 16).padEnd(16, '.');
      ids.add(id);
      out.push({
        partition: p,
        key: tsKey(startTs + BigInt(i) * 1000n),
        value: udpFrame(id, 40000 + p, 53, 64 + (i % 200)),
      });
    }
  }
  return { records: out, ids };
}

function topologyConfig(topic: string, group: string, out: string): Record<string, string> {
  return {
    'spout.kafka.topic.pcap': topic,
    'kafka.bootstrap.servers': endpoints.kafkaBrokers,
    'kafka.group.id': group,
    'kafka.pcap.start': 'UNCOMMITTED_EARLIEST',
    'kafka.pcap.numPackets': '4000',
    'kafka.pcap.maxTimeMS': '0',
    'kafka.pcap.idleTimeoutMS': '1500',
    'kafka.pcap.out': out,
    'kafka.session.timeout.ms': '6000',
    'pcap.chunk.bytes': '262144',
    'pcap.stats.intervalMS': '5000',
  };
}

test('exactly once under SIGKILL: 200k packets, 4 partitions, killed at 6 random moments and restarted', {
  timeout: 900_000,
}, async () => {
  const topic = uniqueName('crash');
  const group = uniqueName('crash-g');
  const out = `${endpoints.webhdfsUrl}/${uniqueName('crash')}/pcap`;
  await createTopic(endpoints.kafkaBrokers, topic, 4);
  const { records: recs, ids } = records(4, 50_000, 1_700_000_000_000_000n);
  await produce(endpoints.kafkaBrokers, topic, recs, 5000);
  const logFile = `${LOGS}/${topic}.log`;
  const config = topologyConfig(topic, group, out);
  // A seeded schedule of kill moments, so a failure can be replayed.
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let kill = 0; kill < 6; kill++) {
    const proc = new TopologyProcess(config, logFile);
    await sleep(2500 + rand() * 6000);
    proc.kill('SIGKILL');
    assert.equal(await proc.exited, null, 'killed by the signal');
  }
  const last = new TopologyProcess(config, logFile);
  await waitForDrain(endpoints.kafkaBrokers, group, topic, 300_000);
  await sleep(2500); // idle sealing has sealed the tail files (their commits are what drained)
  last.kill('SIGTERM');
  assert.equal(await last.exited, 0, 'SIGTERM: seal, commit, exit 0');
  const admin = kafkaClient(endpoints.kafkaBrokers).admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  await admin.disconnect();
  const files = await assertExactlyOnce(out, ids, idOf, ends);
  assert.ok(files.length >= 50, `rolled into many files (${files.length})`);
});

test('exactly once across a rebalance: two processes share 4 partitions, one stops mid-stream', {
  timeout: 600_000,
}, async () => {
  const topic = uniqueName('rebalance');
  const group = uniqueName('rebalance-g');
  const out = `${endpoints.webhdfsUrl}/${uniqueName('rebalance')}/pcap`;
  await createTopic(endpoints.kafkaBrokers, topic, 4);
  const { records: recs, ids } = records(4, 25_000, 1_700_000_000_000_000n);
  const logFile = `${LOGS}/${topic}.log`;
  const config = topologyConfig(topic, group, out);
  const a = new TopologyProcess({ ...config, 'pcap.instance.id': 'a' }, logFile);
  const b = new TopologyProcess({ ...config, 'pcap.instance.id': 'b' }, logFile);
  // Produce in slices while both consume; once both have sealed files, stop one of them mid-stream.
  const slices = 10;
  const per = Math.ceil(recs.length / slices);
  let stopped = false;
  for (let i = 0; i < slices; i++) {
    await produce(endpoints.kafkaBrokers, topic, recs.slice(i * per, (i + 1) * per), 5000);
    if (!stopped && i >= slices / 2) {
      const deadline = Date.now() + 60_000;
      while ((a.sealed === 0 || b.sealed === 0) && Date.now() < deadline) await sleep(200);
      b.kill('SIGTERM');
      stopped = true;
    }
    await sleep(700);
  }
  assert.equal(await b.exited, 0);
  await waitForDrain(endpoints.kafkaBrokers, group, topic, 300_000);
  await sleep(2500);
  a.kill('SIGTERM');
  assert.equal(await a.exited, 0);
  const admin = kafkaClient(endpoints.kafkaBrokers).admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  await admin.disconnect();
  const files = await assertExactlyOnce(out, ids, idOf, ends);
  assert.ok(
    files.some((f) => f.name.endsWith('_a')) && files.some((f) => f.name.endsWith('_b')),
    'both processes wrote files',
  );
});
