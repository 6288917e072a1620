/**
 * The partition merge of streaming mode: packets come out in time order although partitions are
 * fetched one batch at a time, a caught-up partition does not hold the others back, and the
 * buffer is bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type HeldPacket, TimeMerger } from '../../src/protocols/stream/time-merger.js';

const pkt = (partition: number, offset: number, ms: number): HeldPacket => ({
  tsNs: BigInt(ms) * 1_000_000n,
  partition,
  offset,
  data: Buffer.alloc(0),
  frameOffset: 0,
  frameLength: 0,
  linkType: 1,
});

describe('TimeMerger', () => {
  it('a partition read far ahead waits for the lagging one', () => {
    const m = new TimeMerger(10_000_000n, 1000);
    m.assign([
      { partition: 0, caughtUp: false },
      { partition: 1, caughtUp: false },
    ]);
    const out: number[] = [];
    const rel = (p: HeldPacket) => out.push(Number(p.tsNs / 1_000_000n));
    for (let i = 0; i < 10; i++) m.push(pkt(0, i, i * 100), rel); // partition 0: 0..900 ms
    m.setCaughtUp(0, true, rel);
    assert.deepEqual(out, [], 'partition 1 has not delivered yet');
    for (let i = 0; i < 10; i++) m.push(pkt(1, i, i * 100 + 50), rel);
    m.setCaughtUp(1, true, rel);
    m.drain(rel);
    assert.deepEqual(
      out,
      [...out].sort((a, b) => a - b),
    );
    assert.equal(out.length, 20);
    assert.equal(m.stats.late, 0);
  });

  it('caught-up partitions do not block; lateness bounds the wait', () => {
    const m = new TimeMerger(50_000_000n, 1000);
    m.assign([
      { partition: 0, caughtUp: false },
      { partition: 1, caughtUp: true },
    ]);
    const out: number[] = [];
    const rel = (p: HeldPacket) => out.push(Number(p.tsNs / 1_000_000n));
    m.push(pkt(0, 0, 0), rel);
    m.push(pkt(0, 1, 40), rel);
    assert.deepEqual(out, []);
    m.push(pkt(0, 2, 60), rel);
    assert.deepEqual(out, [0]);
    assert.deepEqual([...m.lowestHeldOffsets()], [[0, 1]]);
  });

  it('releases early past maxHeld, and counts it', () => {
    const m = new TimeMerger(1_000_000_000n, 5);
    m.assign([
      { partition: 0, caughtUp: false },
      { partition: 1, caughtUp: false },
    ]);
    let n = 0;
    for (let i = 0; i < 20; i++) m.push(pkt(0, i, i), () => n++);
    assert.equal(m.held, 5);
    assert.equal(n, 15);
    assert.equal(m.stats.forced, 15);
  });
});
