import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalesceRanges, MAX_RANGE, RANGE_GAP } from '../../src/query/engine/ranged-read.js';

test('records closer than the gap share one read; members keep the caller indexes', () => {
  // Given out of file order: the ranges come back in file order.
  const ranges = coalesceRanges([5000, 0, 1000 + RANGE_GAP * 3], [100, 200, 50]);
  assert.deepEqual(ranges, [
    { start: 0, end: 5100, members: [1, 0] },
    { start: 1000 + RANGE_GAP * 3, end: 1050 + RANGE_GAP * 3, members: [2] },
  ]);
});

test('a gap of exactly RANGE_GAP still coalesces; one byte more starts a new read', () => {
  assert.equal(coalesceRanges([0, 100 + RANGE_GAP], [100, 10]).length, 1);
  assert.equal(coalesceRanges([0, 101 + RANGE_GAP], [100, 10]).length, 2);
});

test('no read grows past MAX_RANGE however dense the records', () => {
  const n = 3000;
  const size = 4096;
  const positions = Array.from({ length: n }, (_, k) => k * size);
  const ranges = coalesceRanges(positions, new Array(n).fill(size));
  assert.ok(ranges.length > 1);
  for (const r of ranges) assert.ok(r.end - r.start <= MAX_RANGE, `${r.end - r.start}`);
  assert.equal(
    ranges.reduce((a, r) => a + r.members.length, 0),
    n,
    'every record is in exactly one range',
  );
});
