import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CachedReadGate, openLocalRanged } from '../../src/storage/local-ranged.js';

/** A clock the test moves: each timed call takes the next duration (ms). */
function scriptedGate(durations: number[]): CachedReadGate {
  let t = 0;
  let starting = true;
  return new CachedReadGate(() => {
    if (!starting) t += durations.shift() ?? 0;
    starting = !starting;
    return t;
  });
}

const calls = (gate: CachedReadGate, n: number) => {
  for (let k = 0; k < n; k++) gate.timed(() => k);
};

describe('CachedReadGate', () => {
  it('stays synchronous while calls come from the page cache, with a few preempted ones among them', () => {
    const durations = Array.from({ length: 200 }, (_, k) => (k % 10 === 0 ? 8 : 0.005));
    const gate = scriptedGate(durations);
    calls(gate, 200);
    assert.equal(gate.synchronous, true);
  });

  it('turns asynchronous once half of the last 32 calls were slow (a cold disk)', () => {
    const gate = scriptedGate([...Array(40).fill(0.005), ...Array(15).fill(2), 0.005, 2]);
    calls(gate, 40 + 15 + 1);
    assert.equal(gate.synchronous, true, '15 slow of the last 32');
    calls(gate, 1);
    assert.equal(gate.synchronous, false, '16 slow of the last 32');
    calls(gate, 100); // for good
    assert.equal(gate.synchronous, false);
  });

  it('needs 32 calls before judging by the majority, but one stalled call closes it at once', () => {
    const early = scriptedGate(Array(20).fill(3));
    calls(early, 20);
    assert.equal(early.synchronous, true);
    const stalled = scriptedGate([0.005, 60]);
    calls(stalled, 2);
    assert.equal(stalled.synchronous, false);
  });

  it('records a call that throws', () => {
    const gate = scriptedGate([60]);
    assert.throws(() =>
      gate.timed(() => {
        throw new Error('boom');
      }),
    );
    assert.equal(gate.synchronous, false);
  });
});

describe('openLocalRanged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'local-ranged-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = Buffer.alloc(200_000);
  for (let k = 0; k < bytes.length; k++) bytes[k] = (k * 7 + (k >> 8)) & 0xff;
  const file = join(dir, 'data');
  writeFileSync(file, bytes);
  const mapError = (err: unknown) => new Error(`mapped ${(err as { code?: string }).code}`);

  for (const mode of ['synchronous', 'asynchronous'] as const) {
    it(`${mode}: small, large (over 64 KiB) and past-the-end reads give the file's bytes`, async () => {
      const gate = mode === 'synchronous' ? new CachedReadGate() : scriptedGate([60]);
      if (mode === 'asynchronous') calls(gate, 1);
      assert.equal(gate.synchronous, mode === 'synchronous');
      const r = await openLocalRanged(file, gate, mapError);
      const got = await Promise.all([r.read(0, 10), r.read(1000, 100_000), r.read(199_990, 50), r.read(300_000, 5)]);
      assert.deepEqual(got[0], bytes.subarray(0, 10));
      assert.deepEqual(got[1], bytes.subarray(1000, 101_000));
      assert.deepEqual(got[2], bytes.subarray(199_990));
      assert.equal(got[3].length, 0);
      await r.close();
      await assert.rejects(r.read(0, 1), /mapped EBADF/);
    });
  }

  it('a missing file fails through the mapper', async () => {
    await assert.rejects(openLocalRanged(join(dir, 'missing'), new CachedReadGate(), mapError), /mapped ENOENT/);
  });
});
