import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mustRoll, rollDeadline, rollsBy } from '../../src/sink/roll-policy.js';

const ms = 1_000_000n;

test('count is checked before the append: a file holds exactly numPackets records', () => {
  const p = { numPackets: 2, maxTimeNs: 0n };
  assert.equal(mustRoll(p, 1, 0n, 5n), false);
  assert.equal(mustRoll(p, 2, 0n, 5n), true);
});

test('numPackets = 0 puts one record in each file (Metron)', () => {
  assert.equal(mustRoll({ numPackets: 0, maxTimeNs: 0n }, 1, 0n, 0n), true);
});

test('time rolls when the packet-time span reaches maxTime; <= 0 disables', () => {
  const p = { numPackets: 1000, maxTimeNs: 200n * ms };
  assert.equal(mustRoll(p, 1, 1000n * ms, 1199n * ms), false);
  assert.equal(mustRoll(p, 1, 1000n * ms, 1200n * ms), true);
  assert.equal(mustRoll({ numPackets: 1000, maxTimeNs: 0n }, 1, 0n, 10n ** 18n), false);
});

test('a packet earlier than the first one does not force a roll (Metron rolled: unsigned difference)', () => {
  const p = { numPackets: 1000, maxTimeNs: 200n * ms };
  assert.equal(mustRoll(p, 5, 1000n * ms, 10n * ms), false);
});

test('rollsBy with the per-file deadline decides exactly as mustRoll (the consume loop compares against it)', () => {
  for (const maxTimeNs of [-5n, 0n, 1n, 200n * ms]) {
    const p = { numPackets: 10, maxTimeNs };
    for (const first of [0n, 1000n * ms, 1n << 62n]) {
      const deadline = rollDeadline(p, first);
      assert.equal(deadline === null, maxTimeNs <= 0n);
      for (const ts of [
        first - 1n,
        first,
        first + maxTimeNs - 1n,
        first + maxTimeNs,
        first + maxTimeNs + 1n,
        first + 1000n * ms,
      ])
        for (const count of [0, 9, 10]) {
          assert.equal(
            rollsBy(p, count, deadline, ts),
            mustRoll(p, count, first, ts),
            `max ${maxTimeNs} first ${first} ts ${ts} count ${count}`,
          );
        }
    }
  }
});
