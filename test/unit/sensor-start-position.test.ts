import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PcaplineError } from '../../src/lib/errors.js';
import {
  type PartitionRange,
  parseStartSpec,
  parseTime,
  resolveStart,
  type StartLookups,
} from '../../src/sensor/tail/start-position.js';

const NOW = Date.UTC(2026, 10, 17, 14, 0, 0);
const ranges: PartitionRange[] = [
  { partition: 0, low: 0n, high: 100n },
  { partition: 1, low: 50n, high: 80n },
  { partition: 2, low: 0n, high: 0n },
];
const lookups: StartLookups = {
  byTime: async () =>
    new Map([
      [0, 40n],
      [1, 80n],
      [2, 0n],
    ]),
  committed: async () =>
    new Map([
      [0, 10n],
      [1, -1n],
    ]),
};
const resolve = async (offset?: string, since?: string) => {
  const spec = parseStartSpec(offset, since, NOW);
  assert.ok(spec);
  return resolveStart(spec, ranges, lookups);
};
const asObject = (m: Map<number, bigint>) => Object.fromEntries([...m].map(([k, v]) => [k, Number(v)]));

describe('pcap-tail start positions', () => {
  it('beginning, end, a common offset, N before the end', async () => {
    assert.deepEqual(asObject((await resolve('beginning')).offsets), { 0: 0, 1: 50, 2: 0 });
    assert.deepEqual(asObject((await resolve('begin')).offsets), { 0: 0, 1: 50, 2: 0 }, "pycapa's name");
    assert.deepEqual(asObject((await resolve('end')).offsets), { 0: 100, 1: 80, 2: 0 });
    const common = await resolve('60');
    assert.deepEqual(asObject(common.offsets), { 0: 60, 1: 60, 2: 0 });
    assert.match(common.notes.join('\n'), /partition 2: offset 60 is past the end/);
    assert.deepEqual(asObject((await resolve('-20')).offsets), { 0: 80, 1: 60, 2: 0 });
    assert.deepEqual(asObject((await resolve('-1000')).offsets), { 0: 0, 1: 50, 2: 0 }, 'not before the log start');
  });

  it('per partition: only the partitions named, clamped to their range', async () => {
    const r = await resolve('0:5,1:10');
    assert.deepEqual(asObject(r.offsets), { 0: 5, 1: 50 });
    assert.match(r.notes.join('\n'), /partition 1: offset 10 is before the log start; starting at 50/);
    await assert.rejects(resolve('7:1'), /no partition 7/);
  });

  it('by time (Kafka timestamps) and from a group’s committed offsets', async () => {
    assert.deepEqual(asObject((await resolve(undefined, '10m')).offsets), { 0: 40, 1: 80, 2: 0 });
    const stored = await resolve('stored');
    assert.deepEqual(asObject(stored.offsets), { 0: 10, 1: 50, 2: 0 });
    assert.match(stored.notes.join('\n'), /partition 1: no committed offset/);
  });

  it('parses times: epoch ms, ISO 8601 (UTC unless zoned), durations back from now', () => {
    assert.equal(parseTime('1700000000000', NOW, '--since'), 1_700_000_000_000);
    assert.equal(parseTime('2026-11-17T13:00:00Z', NOW, '--since'), NOW - 3_600_000);
    assert.equal(parseTime('2026-11-17T13:00', NOW, '--since'), NOW - 3_600_000, 'UTC by default');
    assert.equal(parseTime('2026-11-17T14:00:00+01:00', NOW, '--since'), NOW - 3_600_000);
    assert.equal(parseTime('10m', NOW, '--since'), NOW - 600_000);
    assert.equal(parseTime('-90s', NOW, '--since'), NOW - 90_000);
    assert.equal(parseTime('2h', NOW, '--since'), NOW - 7_200_000);
  });

  it('bad text is a usage error (exit 2), in one line', () => {
    for (const [offset, since] of [
      ['next-week', undefined],
      ['0:1,0:2', undefined],
      ['1:x', undefined],
      [undefined, 'yesterday-ish'],
      ['end', '10m'],
    ] as const) {
      assert.throws(
        () => parseStartSpec(offset, since, NOW),
        (err: unknown) => err instanceof PcaplineError && err.exitCode === 2 && !err.message.includes('\n'),
        `${offset} / ${since}`,
      );
    }
    assert.equal(parseStartSpec(undefined, undefined, NOW), null, 'no choice: the caller picks the default');
  });
});
