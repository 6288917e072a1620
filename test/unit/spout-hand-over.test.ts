import assert from 'node:assert/strict';
import { test } from 'node:test';
import { packBatch, packedSize, TransferPool, unpackBatch } from '../../src/spout/batch-transfer.js';
import { HandOverWindow } from '../../src/spout/hand-over-window.js';
import type { SpoutMessage } from '../../src/spout/types.js';

const msg = (offset: string, key: string | null, value: string | null): SpoutMessage => ({
  offset,
  key: key === null ? null : Buffer.from(key),
  value: value === null ? null : Buffer.from(value),
});

test('a packed batch unpacks to the same records: offsets, keys, values and nulls', () => {
  // Views of one larger buffer, as kafkajs hands them out (slices of a fetch response).
  const response = Buffer.from('xxKEY1value-one|value-two');
  const messages: SpoutMessage[] = [
    { offset: '41', key: response.subarray(2, 6), value: response.subarray(6, 15) },
    msg('42', null, 'v'),
    msg('45', 'k', null), // offsets need not be contiguous (compaction, transaction markers)
    msg('46', '', ''),
    { offset: '47', key: null, value: response.subarray(16) },
  ];
  const pool = new TransferPool(4);
  const packed = packBatch(3, 7, messages, pool);
  assert.equal(packed.partition, 3);
  assert.equal(packed.seq, 7);
  assert.equal(packed.count, 5);
  assert.equal(packed.bigOffsets, undefined);
  const out = unpackBatch(structuredClone(packed, { transfer: [packed.buffer] }));
  assert.deepEqual(
    out.map((m) => [m.offset, m.key?.toString() ?? null, m.value?.toString() ?? null]),
    [
      ['41', 'KEY1', 'value-one'],
      ['42', null, 'v'],
      ['45', 'k', null],
      ['46', '', ''],
      ['47', null, 'value-two'],
    ],
  );
});

test('offsets beyond 2^53 travel as the strings kafkajs gave', () => {
  const big = '9007199254740993'; // 2^53 + 1: not a double
  const packed = packBatch(0, 0, [msg('9007199254740992', null, 'a'), msg(big, null, 'b')], new TransferPool(1));
  assert.deepEqual(
    unpackBatch(packed).map((m) => m.offset),
    ['9007199254740992', big],
  );
});

test('the pool reuses a given-back buffer that is large enough, and keeps at most its limit', () => {
  const pool = new TransferPool(2);
  const a = packBatch(0, 0, [msg('1', null, 'x'.repeat(1000))], pool);
  const size = packedSize(a);
  assert.ok(size >= 1000 + 24, 'holds the record and its offset and places');
  assert.equal(size % 65536, 0, 'rounded, so later batches of about the same size fit');
  pool.give(a.buffer);
  const b = packBatch(0, 0, [msg('2', null, 'y'.repeat(2000))], pool);
  assert.equal(b.buffer, a.buffer, 'reused');
  assert.equal(pool.size, 0);
  const huge = packBatch(0, 0, [msg('3', null, 'z'.repeat(70000))], pool);
  assert.notEqual(huge.buffer, a.buffer);
  assert.ok(huge.buffer.byteLength >= 70000 + 24);
  pool.give(new ArrayBuffer(8));
  pool.give(new ArrayBuffer(8));
  pool.give(new ArrayBuffer(8));
  assert.equal(pool.size, 2);
  // A spare too small is passed over, not handed out.
  const c = packBatch(0, 0, [msg('4', null, 'w'.repeat(100))], pool);
  assert.ok(c.buffer.byteLength >= 124);
});

test('the window waits while more than its limit is held, and lets one batch past it', async () => {
  const w = new HandOverWindow(100, 10_000);
  w.take(150); // one batch larger than the window still goes
  let done = false;
  const waiting = w.room(() => true).then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false, 'over the window: waits');
  w.give(60);
  await waiting;
  assert.equal(done, true, 'back within the window');
  assert.equal(w.bytes, 90);
  await w.room(() => true); // within: no wait
});

test('a wait ends when its batch no longer matters, or when the window closes', async () => {
  const w = new HandOverWindow(10, 5);
  w.take(50);
  let stale = false;
  const waiting = w.room(() => !stale);
  setTimeout(() => (stale = true), 20);
  await waiting; // the poll sees it
  assert.equal(w.bytes, 50);
  const held = w.room(() => true);
  w.close();
  await held;
  await w.room(() => true); // closed: never waits again
});
