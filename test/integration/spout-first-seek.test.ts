/**
 * The first-seek gate against the real broker and kafkajs (src/spout/first-seek-gate.ts): with
 * `seeksAfterAssign`, a newly assigned partition's first batch waits on the consumer thread for the
 * caller's seek. Whether that seek names the batch's first offset (the batch goes on, kafkajs is not
 * sought), another offset (the batch is dropped, kafkajs seeks) or never comes (the batch goes on
 * after the gate's bound), every record from the offset sought arrives once, in order.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createLogger } from '../../src/lib/log.js';
import { KafkaSpout } from '../../src/spout/kafka-spout.js';
import { createTopic, produce, type TestRecord, tsKey, udpFrame } from '../helpers/ingest.js';
import { ensureStack, uniqueName } from '../helpers/stack.js';

let brokers: string;
before(() => {
  brokers = ensureStack().kafkaBrokers;
});

const PARTITIONS = 2;
const PER_PARTITION = 3000;

async function loadedTopic(): Promise<string> {
  const topic = uniqueName('first-seek');
  await createTopic(brokers, topic, PARTITIONS);
  const records: TestRecord[] = [];
  for (let i = 0; i < PER_PARTITION; i++)
    for (let p = 0; p < PARTITIONS; p++)
      records.push({ partition: p, key: tsKey(1_700_000_000_000_000n + BigInt(i)), value: udpFrame(`r${p}-${i}`) });
  await produce(brokers, topic, records);
  return topic;
}

/**
 * Consumes the topic with a spout that seeks each assigned partition `seekAfterMs` after the
 * assignment (to `seekTo(partition)`; null: never), and returns each partition's delivered offsets
 * once every partition reached its last record, and when each partition's first record arrived.
 */
async function consume(
  topic: string,
  seekTo: (partition: number) => bigint | null,
  seekAfterMs: number,
): Promise<{ offsets: Map<number, number[]>; firstAfterAssignMs: Map<number, number> }> {
  const spout = new KafkaSpout({
    brokers: brokers.split(','),
    groupId: uniqueName('first-seek-group'),
    topic,
    clientId: 'pcapline-test-first-seek',
    sessionTimeoutMs: 10_000,
    security: { protocol: 'PLAINTEXT', sslRejectUnauthorized: true },
    log: createLogger('first-seek-test', 'warn'),
    seeksAfterAssign: true,
  });
  const offsets = new Map<number, number[]>();
  const firstAfterAssignMs = new Map<number, number>();
  let assignedAt = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  const complete = () =>
    offsets.size === PARTITIONS && [...offsets.values()].every((o) => o.at(-1) === PER_PARTITION - 1);
  await spout.connect();
  try {
    await spout.run({
      partitionsConcurrently: 8,
      fromBeginning: true,
      onAssign: (partitions) => {
        assignedAt = Date.now();
        setTimeout(() => {
          for (const p of partitions) {
            const to = seekTo(p);
            if (to !== null) spout.seek(p, to);
          }
        }, seekAfterMs);
      },
      onKept: () => {},
      onRevoke: () => {},
      onCrash: (err) => {
        throw err;
      },
      onBatch: async (batch) => {
        if (!batch.shouldContinue()) return;
        let seen = offsets.get(batch.partition);
        if (!seen) {
          seen = [];
          offsets.set(batch.partition, seen);
          firstAfterAssignMs.set(batch.partition, Date.now() - assignedAt);
        }
        for (const m of batch.messages) seen.push(Number(m.offset));
        if (complete()) finish();
      },
    });
    await Promise.race([
      done,
      new Promise((_, reject) => setTimeout(() => reject(new Error('not every record arrived in 30 s')), 30_000)),
    ]);
  } finally {
    spout.beginStop();
    await spout.disconnect();
  }
  return { offsets, firstAfterAssignMs };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

test('a first batch sought to its own first offset goes on under the seek: every record once, in order', async () => {
  const topic = await loadedTopic();
  // The seek comes well after the first fetch: the first batch is held for it.
  const { offsets, firstAfterAssignMs } = await consume(topic, () => 0n, 500);
  for (let p = 0; p < PARTITIONS; p++) {
    assert.deepEqual(offsets.get(p), range(0, PER_PARTITION), `partition ${p}`);
    assert.ok(firstAfterAssignMs.get(p)! >= 500, `partition ${p}: nothing handed over before the seek`);
  }
});

test('a first batch sought elsewhere is dropped: delivery starts where the seek says', async () => {
  const topic = await loadedTopic();
  const { offsets } = await consume(topic, (p) => (p === 0 ? 1000n : 2500n), 500);
  assert.deepEqual(offsets.get(0), range(1000, PER_PARTITION));
  assert.deepEqual(offsets.get(1), range(2500, PER_PARTITION));
});

test('a partition never sought is held only for the bound, then consumed from where kafkajs started', async () => {
  const topic = await loadedTopic();
  const { offsets, firstAfterAssignMs } = await consume(topic, () => null, 0);
  for (let p = 0; p < PARTITIONS; p++) {
    assert.deepEqual(offsets.get(p), range(0, PER_PARTITION), `partition ${p}`);
    const waited = firstAfterAssignMs.get(p)!;
    assert.ok(waited >= 900 && waited < 5000, `partition ${p}: held ${waited} ms, about the gate's second`);
  }
});
