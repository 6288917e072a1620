import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { packBatch, TransferPool } from '../../src/spout/batch-transfer.js';
import { type ConsumerThread, ConsumerThreadError, KafkaSpout } from '../../src/spout/kafka-spout.js';
import type { FromConsumer, ToConsumer } from '../../src/spout/protocol.js';
import type { SpoutBatch } from '../../src/spout/types.js';
import { createLogger } from '../../src/lib/log.js';

/**
 * A scripted consumer thread: the test plays the consumer thread's side of the protocol over a
 * MessageChannel (same structured cloning and transfers as a worker), answering calls and
 * handing over batches, and sees every message the spout sends.
 */
class ScriptedThread extends EventEmitter {
  readonly received: ToConsumer[] = [];
  private readonly mine: MessagePort;
  private readonly theirs: MessagePort;
  private waiters: (() => void)[] = [];

  constructor(private readonly answer: (method: string, args: unknown[]) => unknown) {
    super();
    const { port1, port2 } = new MessageChannel();
    this.theirs = port1;
    this.mine = port2;
    this.theirs.on('message', (m: FromConsumer) => this.emit('message', m));
    this.mine.on('message', (m: ToConsumer) => {
      this.received.push(m);
      if (m.kind === 'call') {
        try {
          this.send({ kind: 'reply', id: m.id, ok: true, value: this.answer(m.method, m.args) });
        } catch (err) {
          const e = err as Error;
          this.send({ kind: 'reply', id: m.id, ok: false, error: { name: e.name, message: e.message } });
        }
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  postMessage(m: ToConsumer, transfer?: ArrayBuffer[]): void {
    this.theirs.postMessage(m, transfer);
  }

  ref(): void {}
  unref(): void {}

  terminate(): Promise<number> {
    this.mine.close();
    this.theirs.close();
    return Promise.resolve(0);
  }

  send(m: FromConsumer, transfer?: ArrayBuffer[]): void {
    this.mine.postMessage(m, transfer);
  }

  /** Hands over a batch; returns its buffer's size (the buffer itself is transferred away). */
  batch(partition: number, seq: number, offsets: number[]): number {
    const packed = packBatch(
      partition,
      seq,
      offsets.map((o) => ({ offset: String(o), key: null, value: Buffer.from(`r${o}`) })),
      new TransferPool(0),
    );
    const size = packed.buffer.byteLength;
    this.send({ kind: 'batch', batch: packed }, [packed.buffer]);
    return size;
  }

  /** Waits until the spout has sent a message matching `pred`. */
  async sent<K extends ToConsumer['kind']>(
    kind: K,
    pred: (m: Extract<ToConsumer, { kind: K }>) => boolean = () => true,
  ) {
    for (;;) {
      const m = this.received.find((x) => x.kind === kind && pred(x as Extract<ToConsumer, { kind: K }>));
      if (m) return m as Extract<ToConsumer, { kind: K }>;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

async function started(answer: (method: string, args: unknown[]) => unknown = () => undefined) {
  let thread!: ScriptedThread;
  const spout = new KafkaSpout({
    brokers: ['127.0.0.1:9'],
    groupId: 'g',
    topic: 't',
    clientId: 'c',
    sessionTimeoutMs: 30000,
    security: { protocol: 'PLAINTEXT' } as never,
    log: createLogger('test', 'silent'),
    startThread: () => {
      thread = new ScriptedThread(answer);
      return thread as unknown as ConsumerThread;
    },
  });
  const batches: SpoutBatch[] = [];
  const events: string[] = [];
  const crashes: Error[] = [];
  const values: (string | null)[] = [];
  let release: () => void = () => {};
  let hold: Promise<void> | null = null;
  await spout.connect();
  await spout.run({
    partitionsConcurrently: 8,
    fromBeginning: true,
    onBatch: async (b) => {
      batches.push(b);
      events.push(`batch ${b.partition}:${b.messages.map((m) => m.offset).join(',')}`);
      values.push(...b.messages.map((m) => m.value?.toString() ?? null));
      if (hold !== null) await hold;
    },
    onAssign: (p) => events.push(`assign ${p}`),
    onKept: (p) => events.push(`kept ${p}`),
    onRevoke: (p) => events.push(`revoke ${p}`),
    onCrash: (e) => crashes.push(e),
  });
  const holdBatches = () => {
    hold = new Promise<void>((r) => (release = r));
  };
  return { spout, thread, batches, events, values, crashes, holdBatches, release: () => release() };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

test('batches reach onBatch in arrival order, as views of their records, and each buffer comes back once handled', async () => {
  const s = await started();
  s.thread.send({ kind: 'join', change: { assignment: [0, 1], revoked: [], kept: [], assigned: [0, 1] } });
  const size = s.thread.batch(0, 0, [1, 2]);
  s.thread.batch(1, 0, [7]);
  s.thread.batch(0, 0, [3]);
  const ack = await s.thread.sent('ack');
  assert.equal(ack.buffer.byteLength, size, 'the buffer itself travels back');
  await tick();
  assert.deepEqual(s.events, ['assign 0,1', 'batch 0:1,2', 'batch 1:7', 'batch 0:3']);
  assert.deepEqual(s.values, ['r1', 'r2', 'r7', 'r3'], 'the records, as onBatch saw them');
  assert.equal(s.batches[0].messages[1].value?.length, 0, 'once handed back, the views are empty: keep a copy');
  assert.equal(s.thread.received.filter((m) => m.kind === 'ack').length, 3);
  assert.ok(s.spout.owns(1));
  await s.spout.disconnect();
});

test('a batch handed over before a seek of its partition is stale: dropped unseen, or told to stop', async () => {
  const s = await started();
  s.thread.send({ kind: 'join', change: { assignment: [0], revoked: [], kept: [], assigned: [0] } });
  s.holdBatches();
  s.thread.batch(0, 0, [10, 11]);
  await tick();
  const running = s.batches[0];
  assert.equal(running.shouldContinue(), true);
  s.spout.seek(0, 5n);
  assert.equal(running.shouldContinue(), false, 'a seek makes the running batch stale');
  const seek = await s.thread.sent('seek');
  assert.deepEqual(seek, { kind: 'seek', partition: 0, offset: 5n, seq: 1 });
  s.release();
  s.thread.batch(0, 0, [12]); // fetched before the seek reached the consumer thread
  s.thread.batch(0, 1, [5, 6]); // fetched after it
  await tick();
  assert.deepEqual(s.events, ['assign 0', 'batch 0:10,11', 'batch 0:5,6']);
  assert.equal(s.thread.received.filter((m) => m.kind === 'ack').length, 3, 'the dropped batch is acknowledged too');
  await s.spout.disconnect();
});

test('a batch of a partition this member no longer holds is dropped; a revoke makes a running batch stale', async () => {
  const s = await started();
  s.thread.send({ kind: 'join', change: { assignment: [0, 1], revoked: [], kept: [], assigned: [0, 1] } });
  s.holdBatches();
  s.thread.batch(1, 0, [1]);
  await tick();
  s.thread.send({ kind: 'join', change: { assignment: [0], revoked: [1], kept: [0], assigned: [] } });
  await tick();
  assert.equal(s.batches[0].shouldContinue(), false);
  assert.equal(s.spout.owns(1), false);
  s.release();
  s.thread.batch(1, 0, [2]);
  s.thread.batch(2, 0, [1]);
  await tick();
  assert.deepEqual(s.events, ['assign 0,1', 'batch 1:1', 'revoke 1', 'kept 0', 'assign ']);
  await s.spout.disconnect();
});

test('calls carry arguments and results across (bigints, maps) and errors by name and message', async () => {
  const s = await started((method, args) => {
    if (method === 'committed') return args[0] === 0 ? 42n : null;
    if (method === 'allOffsets') return new Map([[0, { low: 1n, high: 9n }]]);
    if (method === 'commit') throw Object.assign(new Error('not the coordinator'), { name: 'KafkaJSProtocolError' });
    return undefined;
  });
  assert.equal(await s.spout.committed(0), 42n);
  assert.equal(await s.spout.committed(1), null);
  assert.deepEqual(await s.spout.offsets(0), { low: 1n, high: 9n });
  await assert.rejects(s.spout.offsets(3), /partition 3 of t does not exist/);
  await assert.rejects(s.spout.commit(0, 5n), (err: Error) => {
    assert.equal(err.name, 'KafkaJSProtocolError');
    assert.equal(err.message, 'not the coordinator');
    return true;
  });
  const commit = await s.thread.sent('call', (m) => m.method === 'commit');
  assert.deepEqual(commit.args, [0, 5n]);
  await s.spout.disconnect();
});

test('the consumer thread stopping unasked fails its pending calls and reports a crash', async () => {
  const s = await started((method) => (method === 'lag' ? new Promise(() => {}) : undefined));
  s.thread.removeAllListeners('message'); // no more replies
  const pending = s.spout.lag();
  s.thread.emit('exit', 1);
  await assert.rejects(pending, ConsumerThreadError);
  assert.equal(s.crashes.length, 1);
  assert.match(s.crashes[0].message, /consumer thread stopped unexpectedly \(exit code 1\)/);
  await assert.rejects(s.spout.committed(0), /not running/);
  await s.thread.terminate();
});
