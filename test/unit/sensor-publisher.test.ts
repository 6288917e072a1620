import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProducerRecord } from 'kafkajs';
import { PacketPublisher, type PublisherOptions, type SendTarget } from '../../src/sensor/publisher.js';

/** A scripted producer: records every send; each send stays pending until the test acknowledges it. */
class FakeProducer implements SendTarget {
  sends: ProducerRecord[] = [];
  private pending: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  maxConcurrent = 0;
  send(record: ProducerRecord): Promise<unknown> {
    this.sends.push(record);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve: () => resolve([]), reject });
      this.maxConcurrent = Math.max(this.maxConcurrent, this.pending.length);
    });
  }
  get inFlight(): number {
    return this.pending.length;
  }
  ack(): void {
    this.pending.shift()!.resolve();
  }
  fail(message: string): void {
    this.pending.shift()!.reject(new Error(message));
  }
}

const options = (o: Partial<PublisherOptions> = {}): PublisherOptions => ({
  topic: 't',
  acks: -1,
  compression: 0,
  lingerMs: 5,
  maxMessages: 3,
  maxBytes: 1 << 20,
  ...o,
});
const key = (n: number): Buffer => Buffer.from([0, 0, 0, 0, 0, 0, 0, n]);
const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('PacketPublisher (batching in front of kafkajs)', () => {
  it('sends full batches, one in flight and one filling; add waits when both are busy', async () => {
    const fake = new FakeProducer();
    const pub = new PacketPublisher(fake, options());
    for (let i = 0; i < 3; i++) await pub.add(key(i), Buffer.from('x'));
    assert.equal(fake.sends.length, 1, 'the first full batch went out');
    assert.deepEqual(
      fake.sends[0].messages.map((m) => (m.key as Buffer)[7]),
      [0, 1, 2],
    );
    for (let i = 3; i < 5; i++) await pub.add(key(i), Buffer.from('x'));
    let sixthQueued = false;
    const sixth = pub.add(key(5), Buffer.from('x')).then(() => {
      sixthQueued = true;
    });
    await tick(20);
    assert.equal(sixthQueued, false, 'the second batch is full and the first is unacknowledged: add waits');
    assert.equal(fake.maxConcurrent, 1);
    fake.ack();
    await sixth;
    assert.equal(fake.sends.length, 2);
    assert.equal(pub.acked, 3);
    assert.equal(pub.pending, 3);
    const flushed = pub.flush();
    fake.ack();
    await flushed;
    assert.equal(pub.acked, 6);
    assert.equal(pub.pending, 0);
  });

  it('a partial batch goes out after linger.ms', async () => {
    const fake = new FakeProducer();
    const pub = new PacketPublisher(fake, options({ lingerMs: 10, maxMessages: 100 }));
    await pub.add(key(1), Buffer.from('x'));
    assert.equal(fake.sends.length, 0);
    await tick(40);
    assert.equal(fake.sends.length, 1);
    fake.ack();
    await pub.flush();
    assert.equal(pub.acked, 1);
  });

  it('batch.size bounds a batch by bytes; partition, acks and compression are passed on', async () => {
    const fake = new FakeProducer();
    const pub = new PacketPublisher(
      fake,
      options({ maxBytes: 100, maxMessages: 1000, partition: 2, acks: 1, compression: 1 }),
    );
    await pub.add(key(1), Buffer.alloc(60));
    await pub.add(key(2), Buffer.alloc(60));
    assert.equal(fake.sends.length, 1);
    assert.equal(fake.sends[0].messages.length, 2);
    assert.equal(fake.sends[0].messages[0].partition, 2);
    assert.equal(fake.sends[0].acks, 1);
    assert.equal(fake.sends[0].compression, 1);
    fake.ack();
    await pub.flush();
  });

  it('flush waits for every acknowledgement; a failed send surfaces from flush and later adds', async () => {
    const fake = new FakeProducer();
    const pub = new PacketPublisher(fake, options());
    for (let i = 0; i < 4; i++) await pub.add(key(i), Buffer.from('x'));
    let flushed = false;
    const f = pub.flush().then(
      () => {
        flushed = true;
      },
      (err: Error) => err,
    );
    await tick(10);
    assert.equal(flushed, false);
    fake.fail('broker gone');
    const err = await f;
    assert.match(String(err), /broker gone/);
    await assert.rejects(pub.add(key(9), Buffer.from('x')), /broker gone/);
    assert.equal(pub.acked, 0);
  });
});
