/**
 * Streaming mode on the real Kafka: the golden captures, merged into one mixed capture, are
 * produced to a 3-partition sensor topic with consecutive packets on different partitions (the
 * worst case for reassembly: every TCP connection is spread over all partitions). The analyzer
 * consumes them as its own group, merges partitions by packet time and publishes events; the
 * events on the topic must be exactly what pcap-analyze reports for the same packets (packet
 * references aside: Kafka offsets instead of file positions). A clean stop commits every offset,
 * so a restart of the group publishes nothing twice.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodePcapFile, readPcapFile } from '../../src/formats/pcap/pcap-file.js';
import { analyzePcap } from '../../src/protocols/input/pcap-input.js';
import { StreamAnalyzer } from '../../src/protocols/stream/kafka-analyzer.js';
import type { AppEvent } from '../../src/protocols/types.js';
import { committedOffsets, createTopic, kafkaClient, produce, tsKey } from '../helpers/ingest.js';
import { PROTOCOL_FIXTURES, protocolFixtures } from '../helpers/protocols.js';
import { ensureStack, uniqueName } from '../helpers/stack.js';

const PARTITIONS = 3;

async function mixedCapture(): Promise<{ tsNs: bigint; data: Buffer }[]> {
  const all: { tsNs: bigint; data: Buffer }[] = [];
  for (const name of protocolFixtures())
    for await (const p of readPcapFile(readFileSync(join(PROTOCOL_FIXTURES, `${name}.pcap`))))
      all.push({ tsNs: p.tsNs, data: Buffer.from(p.data) });
  return all.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
}

/** The event without its packet references, which name file positions in one mode and Kafka offsets in the other. */
function comparable(e: AppEvent): string {
  const copy = structuredClone(e) as { pcapline: { packets: Record<string, unknown> } };
  delete copy.pcapline.packets.first;
  delete copy.pcapline.packets.last;
  return JSON.stringify(copy);
}

async function readEvents(brokers: string, topic: string, expected: number): Promise<AppEvent[]> {
  const consumer = kafkaClient(brokers).consumer({ groupId: uniqueName('i14-events-reader') });
  const events: AppEvent[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const deadline = Date.now() + 60_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (events.length >= expected) {
        clearInterval(timer);
        setTimeout(resolve, 2000); // anything extra (a duplicate) would arrive here
      } else if (Date.now() > deadline) {
        clearInterval(timer);
        reject(new Error(`only ${events.length} of ${expected} events on ${topic}`));
      }
    }, 200);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          events.push(JSON.parse(String(message.value)));
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return events;
}

describe('pcap-analyze streaming mode on the local stack', { timeout: 240_000 }, () => {
  let brokers: string;
  const packetsTopic = uniqueName('i14-packets');
  const eventsTopic = uniqueName('i14-events');
  const group = uniqueName('i14-analyzer');
  let packets: { tsNs: bigint; data: Buffer }[];
  let expected: AppEvent[];

  before(async () => {
    brokers = ensureStack().kafkaBrokers;
    packets = await mixedCapture();
    expected = [];
    await analyzePcap(encodePcapFile(packets), (e) => expected.push(e));
    await createTopic(brokers, packetsTopic, PARTITIONS);
    await createTopic(brokers, eventsTopic, 1);
    await produce(
      brokers,
      packetsTopic,
      packets.map((p, i) => ({ partition: i % PARTITIONS, key: tsKey(p.tsNs / 1000n), value: p.data })),
    );
  });

  after(async () => {
    const admin = kafkaClient(brokers).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [packetsTopic, eventsTopic] }).catch(() => {});
    await admin.disconnect();
  });

  it('publishes the events pcap-analyze reports for the same packets, then commits every offset', async () => {
    const s = new StreamAnalyzer({
      brokers: [brokers],
      topic: packetsTopic,
      groupId: group,
      eventsTopic,
      fromBeginning: true,
      idleFlushMs: 1000,
      exitWhenIdleMs: 5000,
    });
    await s.start();
    await s.done;
    assert.equal(s.stats.messages, packets.length);
    assert.equal(s.stats.rejected, 0);
    assert.ok(expected.length >= 30, `${expected.length} events expected`);

    const got = await readEvents(brokers, eventsTopic, expected.length);
    assert.deepEqual(got.map(comparable).sort(), expected.map(comparable).sort());
    for (const e of got) {
      const first = (e.pcapline as { packets: { first: { partition: number; offset: number } } }).packets.first;
      assert.ok(
        first.partition >= 0 && first.partition < PARTITIONS && first.offset >= 0,
        'references name a partition and offset',
      );
    }

    const committed = await committedOffsets(brokers, group, packetsTopic);
    const admin = kafkaClient(brokers).admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(packetsTopic);
    await admin.disconnect();
    for (const p of ends)
      assert.equal(committed.get(p.partition), BigInt(p.high), `partition ${p.partition} committed to its end`);
  });

  it('a restart of the same group publishes nothing again', async () => {
    const s = new StreamAnalyzer({
      brokers: [brokers],
      topic: packetsTopic,
      groupId: group,
      eventsTopic,
      fromBeginning: true,
      exitWhenIdleMs: 4000,
    });
    await s.start();
    await s.done;
    assert.equal(s.stats.messages, 0);
    assert.equal(s.stats.eventsProduced, 0);
  });
});
