/**
 * The consumer thread: kafkajs's group membership, fetching and record decoding, beside the ingest
 * thread that stores what it delivers (./kafka-spout.ts drives it). Decoding fetch responses is as
 * much CPU as storing the records, so on two threads each runs at its own pace. A batch is packed
 * into one transferred buffer and its offset resolved at once, so kafkajs fetches on while the
 * ingest thread stores; a window of unhandled bytes (acknowledged by the ingest thread) keeps memory
 * bounded when storage is slower than Kafka.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { packBatch, packedSize, TransferPool } from './batch-transfer.js';
import { KafkaGroupClient, MAX_BYTES_PER_PARTITION, type SpoutLog } from './kafka-client.js';
import {
  type ConsumerCall,
  type ConsumerThreadData,
  type FromConsumer,
  type ToConsumer,
  toThreadError,
} from './protocol.js';
import { FirstSeekGate } from './first-seek-gate.js';
import { HandOverWindow } from './hand-over-window.js';

const port = parentPort;
if (!port) throw new Error('consumer-thread.ts runs as a worker thread');
const data = workerData as ConsumerThreadData;
const send = (m: FromConsumer, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

const log: SpoutLog = {
  error: (fields, message) => send({ kind: 'log', level: 'error', fields, message }),
  warn: (fields, message) => send({ kind: 'log', level: 'warn', fields, message }),
};
const client = new KafkaGroupClient({ ...data.options, log });
const fetchClock = new BigInt64Array(data.fetchClock);
const window = new HandOverWindow(data.windowBytes);
/** Buffers of handled batches, given back by the ingest thread: a window's worth of full batches, and some. */
const pool = new TransferPool(Math.ceil(data.windowBytes / MAX_BYTES_PER_PARTITION) + 4);
/** Each partition's seek count as last told by the ingest thread: batches carry it, so stale ones are known there. */
const seeks = new Map<number, number>();
/** A newly assigned partition's first batch waits for the owner's seek instead of going stale (./first-seek-gate.ts). */
const gate = data.holdFirstBatch ? new FirstSeekGate() : null;

const calls: { [M in ConsumerCall]: (...args: never[]) => Promise<unknown> } = {
  connect: () => client.connect(),
  run: (o: { partitionsConcurrently: number; fromBeginning: boolean }) =>
    client.run({
      ...o,
      onJoin: (change) => {
        gate?.revoked(change.revoked);
        gate?.assigned(change.assigned);
        send({ kind: 'join', change });
      },
      onCrash: (error) => send({ kind: 'crash', error: toThreadError(error) }),
      onFetch: () => Atomics.store(fetchClock, 0, BigInt(Date.now())),
      onBatch: async (batch) => {
        const n = batch.messages.length;
        if (n === 0 || !batch.shouldContinue()) return;
        // Only a new partition's first batch waits: every other hand-over stays synchronous, as before.
        // Not resolved when dropped: kafkajs seeks (the owner sought elsewhere) or fetches it again (stale).
        if (
          gate?.waitsFor(batch.partition) &&
          (await gate.hold(batch.partition, batch.messages[0].offset, () => batch.shouldContinue())) === 'dropped'
        )
          return;
        const packed = packBatch(batch.partition, seeks.get(batch.partition) ?? 0, batch.messages, pool);
        window.take(packedSize(packed));
        send({ kind: 'batch', batch: packed }, [packed.buffer]);
        // Handed over: kafkajs may fetch past it. Records the ingest thread does not store are
        // fetched again only because it seeks (a failure, a stale batch, a rebalance): it always does.
        batch.resolveOffset(batch.messages[n - 1].offset);
        await window.room(() => batch.shouldContinue());
      },
    }),
  commit: (partition: number, offset: bigint) => client.commit(partition, offset),
  committed: (partition: number) => client.committed(partition),
  allOffsets: () => client.allOffsets(),
  lag: () => client.lag(),
  disconnect: () => client.disconnect(),
};

port.on('message', (m: ToConsumer) => {
  switch (m.kind) {
    case 'call':
      (calls[m.method] as (...args: unknown[]) => Promise<unknown>)(...m.args).then(
        (value) => send({ kind: 'reply', id: m.id, ok: true, value }),
        (err: unknown) => send({ kind: 'reply', id: m.id, ok: false, error: toThreadError(err) }),
      );
      break;
    case 'seek':
      seeks.set(m.partition, m.seq);
      // A held first batch that starts at the offset sought goes on under this seek: kafkajs is
      // already positioned there, and seeking it would only fetch the same records again.
      if (!gate?.sought(m.partition, m.offset)) client.seek(m.partition, m.offset);
      break;
    case 'stop':
      client.beginStop();
      window.close();
      gate?.close();
      break;
    case 'ack':
      window.give(m.buffer.byteLength);
      pool.give(m.buffer);
      break;
  }
});
