import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReorderBuffer, type TailPacket } from '../../src/sensor/tail/reorder-buffer.js';
import { Prng } from '../support/prng.js';

const MS = 1_000_000n;

function packet(partition: number, offset: number, tsMs: number, arrivedMs = 0, size = 60): Omit<TailPacket, 'seq'> {
  return {
    partition,
    offset: BigInt(offset),
    tsNs: BigInt(tsMs) * MS,
    frame: Buffer.alloc(size),
    origLen: size,
    arrivedMs,
  };
}

const times = (ps: readonly TailPacket[]): number[] => ps.map((p) => Number(p.tsNs / MS));

describe('ReorderBuffer (partition merge within a bounded lateness)', () => {
  it('waits for a partition that is behind, however long, until it has gone the lateness past', () => {
    const b = new ReorderBuffer({ latenessNs: 5n * MS, maxBytes: 1 << 30, partitions: [0, 1] });
    b.push(packet(0, 0, 10));
    b.push(packet(0, 1, 30));
    b.push(packet(0, 2, 300));
    assert.deepEqual(times(b.release(1e9, 1)), [], 'partition 1 is behind and has said nothing yet: wait');
    b.push(packet(1, 0, 20));
    assert.deepEqual(times(b.release(0, null)), [10], 'partition 1 is at 20: up to 15 may go');
    b.push(packet(1, 1, 40));
    assert.deepEqual(times(b.release(0, null)), [20, 30]);
    b.close(1);
    assert.deepEqual(times(b.release(0, null)), [40], 'partition 1 closed; partition 0 is at 300');
    b.close(0);
    assert.deepEqual(times(b.release(0, null)), [300], 'every partition closed: everything goes');
    assert.equal(b.late, 0);
  });

  it('a caught-up (quiet) partition holds packets back by at most the lateness of packet time', () => {
    const b = new ReorderBuffer({ latenessNs: 100n * MS, maxBytes: 1 << 30, partitions: [0, 1] });
    b.setBehind(0, false);
    b.setBehind(1, false);
    for (let i = 0; i < 10; i++) b.push(packet(0, i, 1000 + i * 50));
    // newest = 1450: everything at or below 1350 may go.
    assert.deepEqual(times(b.release(0, null)), [1000, 1050, 1100, 1150, 1200, 1250, 1300, 1350]);
    assert.equal(b.size, 2);
  });

  it('with a wall-clock limit, packets do not wait for traffic that does not come', () => {
    const b = new ReorderBuffer({ latenessNs: 100n * MS, maxBytes: 1 << 30, partitions: [0, 1] });
    b.setBehind(0, false);
    b.setBehind(1, false);
    b.push(packet(0, 0, 1000, 5000));
    assert.deepEqual(times(b.release(5500, 1000)), []);
    assert.deepEqual(times(b.release(6000, 1000)), [1000]);
    // ...but not past a partition that is behind: its records are coming.
    b.setBehind(1, true);
    b.push(packet(0, 1, 2000, 5000));
    assert.deepEqual(times(b.release(60_000, 1000)), []);
  });

  it('memory stays bounded: over maxBytes the earliest packets go out (rule 4)', () => {
    const b = new ReorderBuffer({ latenessNs: 1_000_000n * MS, maxBytes: 1000, partitions: [0, 1] });
    for (let i = 0; i < 100; i++) {
      b.push(packet(0, i, i, 0, 100));
      b.release(0, null);
      assert.ok(b.bytes <= 1000, `holds ${b.bytes} bytes`);
    }
  });

  it('a packet later than the bound is still written, out of order, and counted', () => {
    const b = new ReorderBuffer({ latenessNs: 10n * MS, maxBytes: 1 << 30, partitions: [0, 1] });
    b.push(packet(0, 0, 100));
    b.push(packet(1, 0, 200));
    b.push(packet(0, 1, 300));
    b.push(packet(1, 1, 400));
    assert.deepEqual(times(b.release(0, null)), [100, 200]);
    b.push(packet(0, 2, 50)); // far too late
    assert.deepEqual(times(b.drain()), [50, 300, 400]);
    assert.equal(b.late, 1);
  });

  it('merges unevenly fetched partitions into sorted order, also with disorder inside a partition', () => {
    const rng = new Prng(13);
    const partitions = 4;
    // A capture spread by "key hash" over partitions; times jitter by up to 2 ms (as a sensor's
    // capture order may), which is within the 5 ms lateness.
    const per: Array<Array<Omit<TailPacket, 'seq'>>> = Array.from({ length: partitions }, () => []);
    let t = 1_000_000;
    for (let i = 0; i < 5000; i++) {
      t += rng.int(0, 3);
      const p = rng.int(0, partitions - 1);
      per[p].push(packet(p, per[p].length, t - rng.int(0, 2)));
    }
    // Fetches return uneven chunks of each partition, interleaved.
    const b = new ReorderBuffer({ latenessNs: 5n * MS, maxBytes: 1 << 30, partitions: [0, 1, 2, 3] });
    const out: TailPacket[] = [];
    const at = per.map(() => 0);
    while (at.some((k, p) => k < per[p].length)) {
      const p = rng.int(0, partitions - 1);
      const n = rng.int(1, 40);
      for (let k = 0; k < n && at[p] < per[p].length; k++) b.push(per[p][at[p]++]);
      if (at[p] === per[p].length) b.close(p);
      out.push(...b.release(0, null));
    }
    out.push(...b.drain());
    assert.equal(out.length, 5000);
    for (let i = 1; i < out.length; i++) assert.ok(out[i - 1].tsNs <= out[i].tsNs, `in order at ${i}`);
    assert.equal(b.late, 0);
  });

  it('knows the lowest offset it still holds per partition (what a group may commit)', () => {
    const b = new ReorderBuffer({ latenessNs: 0n, maxBytes: 1 << 30, partitions: [0, 1] });
    b.push(packet(0, 5, 10));
    b.push(packet(0, 6, 30));
    b.push(packet(1, 9, 20));
    assert.equal(b.lowestHeldOffset(0), 5n);
    assert.deepEqual(times(b.release(0, null)), [10, 20]);
    assert.equal(b.lowestHeldOffset(0), 6n);
    assert.equal(b.lowestHeldOffset(1), null);
    b.drain();
    assert.equal(b.lowestHeldOffset(0), null);
    b.close(0);
    // The bookkeeping does not grow with the packets that went through.
    for (let i = 0; i < 10_000; i++) {
      b.push(packet(1, 10 + i, 100 + i));
      b.release(0, null);
    }
    assert.equal(b.size, 0);
    assert.equal(b.lowestHeldOffset(1), null);
  });
});
