/**
 * The consumer thread's first-seek gate (src/spout/first-seek-gate.ts): a newly assigned partition's
 * first batch waits for the owner's seek and goes on under it when the seek names its first offset;
 * any other seek drops it (kafkajs seeks), and no wait outlasts its bound or its batch's currency.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FirstSeekGate, type HoldOutcome } from '../../src/spout/first-seek-gate.js';

const always = () => true;

/** Settles to the outcome, or to 'pending' if the hold has not ended after a few turns of the loop. */
async function outcomeSoon(p: Promise<HoldOutcome>, ms = 20): Promise<HoldOutcome | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
}

describe('first-seek gate', () => {
  it('passes batches of partitions that were not newly assigned, and every batch after the first seek', async () => {
    const gate = new FirstSeekGate();
    assert.equal(await gate.hold(3, '0', always), 'passed', 'never assigned');
    gate.assigned([3]);
    assert.equal(gate.sought(3, 100n), false, 'no batch held: kafkajs seeks as usual');
    assert.equal(await gate.hold(3, '100', always), 'passed', 'the first seek has come');
  });

  it('holds the first batch until the seek; the same offset releases it and kafkajs is not sought', async () => {
    const gate = new FirstSeekGate();
    gate.assigned([0, 1]);
    assert.equal(gate.waitsFor(0), true);
    const held = gate.hold(0, '42', always);
    assert.equal(gate.waitsFor(0), false, 'one batch a partition is held');
    assert.equal(await outcomeSoon(held), 'pending', 'waits for the owner');
    assert.equal(gate.sought(0, 42n), true, 'the held batch takes the seek');
    assert.equal(await held, 'released');
    assert.equal(gate.waitsFor(0), false, 'the batches after it go straight on');
    assert.equal(await gate.hold(0, '1042', always), 'passed');
    assert.equal(gate.waitsFor(1), true, 'partition 1 still waits for its seek');
  });

  it('drops the held batch when the seek goes elsewhere (kafkajs seeks and fetches from there)', async () => {
    const gate = new FirstSeekGate();
    gate.assigned([2]);
    for (const [first, soughtTo] of [
      ['10', 500n], // the store holds more than Kafka's committed offset said
      ['500', 10n], // a rewind
    ] as const) {
      gate.assigned([2]);
      const held = gate.hold(2, first, always);
      assert.equal(gate.sought(2, soughtTo), false, `${first} sought to ${soughtTo}: kafkajs must seek`);
      assert.equal(await held, 'dropped');
    }
  });

  it('lets the batch go on as before when no seek comes in time (a recovery that failed)', async () => {
    const gate = new FirstSeekGate(30, 5);
    gate.assigned([1]);
    assert.equal(await gate.hold(1, '0', always), 'passed');
    assert.equal(gate.sought(1, 0n), false, 'a late seek is an ordinary one');
  });

  it('drops a batch that stops being current while it waits (a rebalance), and on revoke', async () => {
    const gate = new FirstSeekGate(10_000, 5);
    gate.assigned([0, 1]);
    let current = true;
    const stale = gate.hold(0, '0', () => current);
    current = false;
    assert.equal(await stale, 'dropped');
    const revoked = gate.hold(1, '7', always);
    gate.revoked([1]);
    assert.equal(await revoked, 'dropped');
    assert.equal(await gate.hold(1, '7', always), 'passed', 'a revoked partition waits for nothing');
  });

  it('a stop ends every wait', async () => {
    const gate = new FirstSeekGate(10_000, 5);
    gate.assigned([0, 1]);
    const a = gate.hold(0, '0', always);
    const b = gate.hold(1, '0', always);
    gate.close();
    assert.deepEqual(await Promise.all([a, b]), ['passed', 'passed']);
  });

  it('holds one batch per partition, each released by its own seek', async () => {
    const gate = new FirstSeekGate();
    gate.assigned([0, 1, 2, 3]);
    const holds = [0, 1, 2, 3].map((p) => gate.hold(p, String(p * 1000), always));
    assert.equal(gate.sought(2, 2000n), true);
    assert.equal(await holds[2], 'released');
    assert.equal(await outcomeSoon(holds[0]), 'pending', 'the others still wait for theirs');
    assert.equal(gate.sought(0, 0n), true);
    assert.equal(gate.sought(1, 5n), false);
    assert.equal(gate.sought(3, 3000n), true);
    assert.deepEqual(await Promise.all(holds), ['released', 'dropped', 'released', 'released']);
  });
});
