/**
 * The fault-model harness (test/helpers/scripted-consumer.ts): a scripted Kafka behind the spout
 * interface, the real PartitionOwner / PartitionSink / Ledger on local storage in a temp dir. One
 * test per crash point of docs/exactly-once.md, then rebalances, zombies, offset loss and reset,
 * concurrent claims, commit monotonicity and dead letters. Every test ends by reading the data
 * files back: every record exactly once, files tiling each partition's offsets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { readStore, tsKey, udpFrame, type StoredFile } from '../helpers/ingest.js';
import {
  AttributeTable,
  CrashError,
  HarnessProcess,
  type HarnessOptions,
  ScriptedCluster,
  recordId,
  storedId,
} from '../helpers/scripted-consumer.js';
import { LocalStorage } from '../../src/storage/local.js';
import { SinkLayout } from '../../src/sink/layout.js';
import { Ledger, MARKER_ATTRIBUTE, type SealMarker } from '../../src/sink/ledger.js';
import { LostClaimError } from '../../src/sink/partition-sink.js';
import { DeadLetterError, DeadLetterQueue } from '../../src/sink/dead-letters.js';
import { listDataFiles } from '../../src/query/engine/engine.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'i16-fault-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const start = (options: Omit<HarnessOptions, 'dir'>) => new HarnessProcess({ dir, ...options });

/** Every produced record stored exactly once under `out`; each partition's files tile [0, end). */
async function assertExactlyOnce(cluster: ScriptedCluster, out = '/pcap', copies = 1): Promise<StoredFile[]> {
  const files = await readStore(`file://${dir}${out}`);
  const seen = new Map<string, number>();
  for (const f of files) for (const r of f.records) seen.set(storedId(r.value), (seen.get(storedId(r.value)) ?? 0) + 1);
  let expected = 0;
  cluster.logs.forEach((log, p) => {
    for (const m of log) {
      if (m.key?.length !== 8) continue; // malformed on purpose
      expected++;
      const id = recordId(p, Number(m.offset));
      assert.equal(seen.get(id) ?? 0, copies, `record ${id} stored ${seen.get(id) ?? 0} times`);
    }
  });
  assert.equal(
    [...seen.values()].reduce((a, b) => a + b, 0),
    expected * copies,
    'no unexpected records',
  );
  if (copies === 1) {
    cluster.logs.forEach((log, p) => {
      const ranges = files
        .filter((f) => f.partition === p)
        .map((f) => {
          assert.ok(f.index, `${f.name} has its index`);
          return [BigInt(f.index!.summary.firstOffset), BigInt(f.index!.summary.lastOffset)] as const;
        })
        .sort((a, b) => (a[0] < b[0] ? -1 : 1));
      let next = 0n;
      for (const [first, last] of ranges) {
        assert.ok(first >= next, `partition ${p}: files overlap at ${first}`);
        next = last + 1n;
      }
      if (ranges.length) assert.equal(next, BigInt(log.length), `partition ${p}: files reach the end`);
    });
  }
  return files;
}

/** Runs a process to the end of the topic, seals, stops. */
async function runToEnd(p: HarnessProcess, partitions: number[]): Promise<void> {
  p.options.cluster.rebalance();
  await p.join(partitions);
  await p.drain();
  await p.sealAll();
  await p.stop();
}

const inProgress = (path: string) => path.includes('/_inprogress/');
const CRASH_POINTS: Array<[name: string, point: (op: string, path: string) => boolean]> = [
  // docs/exactly-once.md §6, in protocol order.
  ['crash point 1-2: while writing the in-progress file', (op, path) => op === 'write' && inProgress(path)],
  ['crash point 3: index written, no claim', (op, path) => op === 'create' && path.endsWith('.idx')],
  [
    'crash point 3b: claim written under its temporary name, not renamed',
    (op, path) => op === 'create' && path.includes('/.claim-'),
  ],
  ['crash point 4: marker claimed, not published', (op, path) => op === 'rename' && path.includes('/_state/')],
  ['crash point 5: index renamed into place, data not', (op, path) => op === 'rename' && path.includes('.idx ->')],
  ['crash point 6: data published, offsets not committed', (op, path) => op === 'rename' && path.includes('.seq ->')],
  ['crash point 8: older markers trimmed', (op, path) => op === 'delete' && path.endsWith('.json')],
  ['crash in recovery: epoch taken, nothing else', (op, path) => op === 'create' && path.includes('/epoch-')],
];

describe('crash points (docs/exactly-once.md §6)', () => {
  for (const [name, point] of CRASH_POINTS) {
    it(name, async () => {
      const cluster = new ScriptedCluster('t', 2);
      cluster.produce(0, 2600);
      cluster.produce(1, 1300);
      // A small chunk size makes the in-progress file see appends before its first seal.
      const a = start({ cluster, instanceId: 'a', numPackets: 1000, crashAfter: point, chunkBytes: 65536 });
      cluster.rebalance();
      await a.join([0, 1]);
      await a.drain(200);
      if (!a.dead) await a.sealAll();
      assert.ok(a.dead, 'the process crashed at the point');
      const b = start({ cluster, instanceId: 'b', numPackets: 1000 });
      await runToEnd(b, [0, 1]);
      await assertExactlyOnce(cluster);
      assert.equal(cluster.committed.get(0), 2600n);
      assert.equal(cluster.committed.get(1), 1300n);
    });
  }

  it('crash point 7: committed, then killed; a restart finds nothing to redo', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 2500);
    const a = start({ cluster, instanceId: 'a', numPackets: 1000 });
    a.member.afterCommit = (_p, offset) => {
      if (offset === 1000n) {
        a.kill();
        throw new CrashError('crashed after commit');
      }
    };
    cluster.rebalance();
    await a.join([0]);
    await a.drain(200);
    assert.ok(a.dead);
    await runToEnd(start({ cluster, instanceId: 'b', numPackets: 1000 }), [0]);
    await assertExactlyOnce(cluster);
  });

  it('a crash in every recovery in a row still converges (recovery is idempotent)', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 3000);
    const a = start({
      cluster,
      instanceId: 'a',
      numPackets: 1000,
      crashAfter: (op, p) => op === 'rename' && p.includes('/_state/'),
    });
    cluster.rebalance();
    await a.join([0]);
    await a.drain(200);
    assert.ok(a.dead);
    for (let i = 0; i < 3; i++) {
      // Each restart dies right after rolling the claim forward (its first rename).
      const r = start({ cluster, instanceId: `r${i}`, numPackets: 1000, crashAfter: (op) => op === 'rename' });
      cluster.rebalance();
      await r.join([0]);
      await r.drain(50);
    }
    await runToEnd(start({ cluster, instanceId: 'z', numPackets: 1000 }), [0]);
    await assertExactlyOnce(cluster);
  });
});

/**
 * The partition's state directory: no claim left behind; every marker an empty directory (an empty
 * file for `emptyFileRecords`) carrying its JSON in the attribute.
 */
async function assertAttributeMarkers(
  p: HarnessProcess,
  partitions: number[],
  attributes: AttributeTable,
): Promise<void> {
  const form = p.options.emptyFileRecords ? 'file' : 'directory';
  for (const partition of partitions) {
    let markers = 0;
    for await (const e of p.storage.inner.list(`/pcap/_state/t/${partition}`)) {
      assert.ok(!e.name.startsWith('.claim-'), `${e.name} left behind`);
      if (!e.name.endsWith('.json')) continue;
      markers++;
      assert.equal(e.type, form, `${e.name} is a ${form}`);
      if (form === 'file') assert.equal(e.length, 0, `${e.name} is empty`);
      const body = JSON.parse(attributes.get(e.path, MARKER_ATTRIBUTE)?.toString() ?? 'null') as SealMarker | null;
      assert.equal(body?.first, String(BigInt(e.name.slice(0, 20))), `${e.name} carries its claim`);
    }
    assert.equal(markers, 1, `partition ${partition} keeps its high-water mark`);
  }
}

/**
 * A writer of the current form takes partition 0 over from a dead one: it must resume at `position`
 * (the dead writer's markers read, its last claim rolled forward), drain exactly once and leave
 * directory markers only.
 */
async function takeOverWithAttributes(
  cluster: ScriptedCluster,
  attributes: AttributeTable,
  position: bigint,
  why: string,
): Promise<void> {
  const b = start({ cluster, instanceId: 'b', numPackets: 1000, attributes });
  cluster.rebalance();
  await b.join([0]);
  assert.equal(b.owner(0).position, position, why);
  await b.drain();
  await b.sealAll();
  await b.stop();
  await assertExactlyOnce(cluster);
  await assertAttributeMarkers(b, [0], attributes);
}

describe('seal markers in file attributes (HDFS extended attributes, docs/exactly-once.md §2)', () => {
  const ATTRIBUTE_CRASH_POINTS: Array<[name: string, point: (op: string, path: string) => boolean]> = [
    ...CRASH_POINTS.filter(([name]) => !name.startsWith('crash point 3b')),
    [
      'crash point 3b: the claim made as a directory under its temporary name, no attribute yet',
      (op, path) => op === 'mkdirs' && path.includes('/.claim-'),
    ],
    [
      'crash point 3c: the claim attribute set, the claim not renamed',
      (op, path) => op === 'setattr' && path.includes('/.claim-'),
    ],
  ];
  for (const [name, point] of ATTRIBUTE_CRASH_POINTS) {
    it(`attribute markers: ${name}`, async () => {
      const attributes = new AttributeTable();
      const cluster = new ScriptedCluster('t', 2);
      cluster.produce(0, 2600);
      cluster.produce(1, 1300);
      const a = start({ cluster, instanceId: 'a', numPackets: 1000, crashAfter: point, chunkBytes: 65536, attributes });
      cluster.rebalance();
      await a.join([0, 1]);
      await a.drain(200);
      if (!a.dead) await a.sealAll();
      assert.ok(a.dead, 'the process crashed at the point');
      const b = start({ cluster, instanceId: 'b', numPackets: 1000, attributes });
      await runToEnd(b, [0, 1]);
      await assertExactlyOnce(cluster);
      assert.equal(cluster.committed.get(0), 2600n);
      assert.equal(cluster.committed.get(1), 1300n);
      await assertAttributeMarkers(b, [0, 1], attributes);
    });
  }

  it('a seal writes two files with content (data, index) and a claim directory carrying the attribute', async () => {
    const attributes = new AttributeTable();
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 5000);
    const a = start({ cluster, instanceId: 'a', numPackets: 1000, attributes });
    await runToEnd(a, [0]);
    const ops = a.storage.ops.map(([op, path]) => `${op} ${path}`);
    const claims = ops.filter((o) => /^mkdirs .*\/_state\/t\/0\/\.claim-/.test(o));
    assert.equal(claims.length, 5, 'one temporary claim per file');
    assert.equal(ops.filter((o) => /^create .*\/_state\//.test(o)).length, 1, 'no file in the ledger but the epoch');
    assert.equal(ops.filter((o) => /^setattr .*\/\.claim-/.test(o)).length, 5, 'each carries its attribute');
    assert.equal(ops.filter((o) => o.startsWith('read ') && o.includes('/_state/')).length, 0, 'no marker read back');
    await assertExactlyOnce(cluster);
    await assertAttributeMarkers(a, [0], attributes);
    assert.deepEqual(a.warnings, []);
  });

  it('markers of older versions (JSON content) are still read, rolled forward and trimmed', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 2500);
    // An older writer (no attributes) claims a file and dies before publishing it.
    const old = start({
      cluster,
      instanceId: 'old',
      numPackets: 1000,
      crashAfter: (op, path) => op === 'rename' && path.includes('/_state/'),
    });
    cluster.rebalance();
    await old.join([0]);
    await old.drain(200);
    assert.ok(old.dead);
    await takeOverWithAttributes(cluster, new AttributeTable(), 1000n, 'the content marker was rolled forward');
  });

  it('empty-file markers of earlier versions are rolled forward and trimmed by a writer of directory markers', async () => {
    const attributes = new AttributeTable();
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 3500);
    // An earlier writer (empty files carrying the attribute) publishes two files, claims a third and dies.
    let claims = 0;
    const claimedThird = (op: string, path: string) =>
      op === 'rename' && path.includes('/.claim-') && path.includes('/_state/') && ++claims === 3;
    const old = start({
      cluster,
      instanceId: 'a',
      numPackets: 1000,
      attributes,
      emptyFileRecords: true,
      crashAfter: claimedThird,
    });
    cluster.rebalance();
    await old.join([0]);
    await old.drain(200);
    if (!old.dead) await old.sealAll();
    assert.ok(old.dead, 'the earlier writer died after its third claim');
    await takeOverWithAttributes(cluster, attributes, 3000n, 'the empty-file marker was read and rolled forward');
  });

  it('a store that refuses attributes: markers go into content after one warning, exactly once', async () => {
    const attributes = new AttributeTable();
    attributes.refuse = true;
    const cluster = new ScriptedCluster('t', 2);
    cluster.produce(0, 3000);
    cluster.produce(1, 3000);
    const a = start({ cluster, instanceId: 'a', numPackets: 1000, attributes });
    await runToEnd(a, [0, 1]);
    assert.equal(a.warnings.length, 1, a.warnings.join('\n'));
    assert.match(a.warnings[0], /refuses extended attributes.*dfs\.namenode\.xattrs\.enabled/);
    assert.deepEqual(a.failures, []);
    const b = start({ cluster, instanceId: 'b', numPackets: 1000, attributes });
    cluster.rebalance();
    await b.join([0, 1]);
    assert.equal(b.owner(0).position, 3000n, 'the content markers are the high-water marks');
    await b.stop();
    await assertExactlyOnce(cluster);
  });

  it('markers whose attribute the store stops serving are never taken for torn ones: recovery waits', async () => {
    const attributes = new AttributeTable();
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 2000);
    await runToEnd(start({ cluster, instanceId: 'a', numPackets: 1000, attributes }), [0]);
    cluster.resetOffsets('none'); // Kafka forgot: only the marker says 2000 offsets are stored
    attributes.refuse = true; // an admin turned extended attributes off
    const b = start({ cluster, instanceId: 'b', numPackets: 1000, attributes });
    cluster.rebalance();
    await b.join([0]);
    assert.equal(b.owner(0).position, null, 'not recovered');
    assert.ok(
      b.failures.some((e) => (e as { code?: string }).code === 'PCAPLINE_RECORD_ATTRIBUTE_REFUSED'),
      String(b.failures[0]),
    );
    attributes.refuse = false;
    await runToEnd(b, [0]);
    await assertExactlyOnce(cluster);
  });
});

describe('background seals (docs/exactly-once.md §4)', () => {
  it('a full file is sealed while the next one fills; commits stay in offset order', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 3500);
    const a = start({ cluster, instanceId: 'a', numPackets: 1000 });
    const commits: bigint[] = [];
    a.member.afterCommit = (_p, offset) => void commits.push(offset);
    await runToEnd(a, [0]);
    const ops = a.storage.ops.map(([op, path]) => `${op} ${path}`);
    const nextOpened = ops.findIndex((o) => /^create .*\/_inprogress\/t\/0\/1000-.*\.seq$/.test(o));
    const firstPublished = ops.findIndex((o) => /^rename .*\/_inprogress\/t\/0\/0-.*\.seq -> /.test(o));
    assert.ok(
      nextOpened >= 0 && firstPublished > nextOpened,
      'the next file was open before the full one was published',
    );
    assert.deepEqual(
      commits.filter((c) => c > 0n),
      [1000n, 2000n, 3000n, 3500n],
      'one commit per file, in offset order',
    );
    await assertExactlyOnce(cluster);
  });

  it('the next file claims once the previous one is published, while its commit is still under way; commits stay in order', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 3500);
    const a = start({ cluster, instanceId: 'a', numPackets: 1000 });
    const secondClaimed = () =>
      a.storage.ops.some(
        ([op, path]) => op === 'rename' && /\/\.claim-1000-.* -> .*00000000000000001000\.json$/.test(path),
      );
    const commit = a.member.commit.bind(a.member);
    let claimedDuringCommit = false;
    a.member.commit = async (partition, offset) => {
      if (offset === 1000n) {
        // Hold the first file's commit (a slow broker) until the second file has claimed, or 2 s.
        for (let i = 0; i < 1000 && !secondClaimed(); i++) await new Promise((r) => setTimeout(r, 2));
        claimedDuringCommit = secondClaimed();
      }
      return commit(partition, offset);
    };
    await runToEnd(a, [0]);
    assert.ok(claimedDuringCommit, "the second file's claim did not wait for the first file's commit");
    assert.deepEqual(
      cluster.commits.map(([, offset]) => offset).filter((c) => c > 0n),
      [1000n, 2000n, 3000n, 3500n],
      'one commit per file, in offset order',
    );
    await assertExactlyOnce(cluster);
  });

  it('files of a burst stamped with one time, sealed at once, never take the same name', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 4500, (offset) => ({
      offset: String(offset),
      key: tsKey(1_700_000_000_000_000n), // fastcapa stamps a whole burst alike
      value: udpFrame(recordId(0, offset)),
    }));
    await runToEnd(start({ cluster, instanceId: 'a', numPackets: 1000 }), [0]);
    const files = await assertExactlyOnce(cluster);
    assert.equal(new Set(files.map((f) => f.name)).size, 5);
  });

  it('a background seal that fails makes the partition drop its open file and re-read both, exactly once', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 2500);
    let failed = false;
    const a = start({ cluster, instanceId: 'a', numPackets: 1000 });
    // The first claim fails like a storage outage would (not a crash: the process lives on and recovers).
    const claim = a.storage.rename.bind(a.storage);
    a.storage.rename = async (from: string, to: string) => {
      if (!failed && to.includes('/_state/')) {
        failed = true;
        throw new Error('storage unavailable');
      }
      return claim(from, to);
    };
    await runToEnd(a, [0]);
    assert.ok(failed);
    assert.ok(a.failures.some((e) => (e as Error).message === 'storage unavailable'));
    await assertExactlyOnce(cluster);
    assert.equal(cluster.committed.get(0), 2500n);
  });
});

describe('rebalances (docs/exactly-once.md §7)', () => {
  it('a rejoin that keeps a partition with > 10,000 open records resumes at the sink position (finding 1)', async () => {
    const cluster = new ScriptedCluster('t', 2);
    cluster.produce(0, 30_000);
    cluster.produce(1, 30_000);
    const a = start({ cluster, instanceId: 'a', numPackets: 100_000 });
    cluster.rebalance();
    await a.join([0, 1]);
    for (let i = 0; i < 25; i++) await a.step(500); // 12,500 records per partition, all in open files
    const open = a.owner(0).openRecords;
    assert.ok(open > 10_000, `open records ${open}`);
    assert.equal(cluster.committed.get(0), 0n, 'nothing committed yet');
    // The second process joins: a keeps 0, b takes 1. kafkajs rewinds a's kept partition to 0.
    cluster.rebalance();
    const b = start({ cluster, instanceId: 'b', numPackets: 100_000 });
    await a.join([0]);
    await b.join([1]);
    assert.equal(a.member.position(0), a.owner(0).position, 'the kept partition was sought back to the sink position');
    assert.equal(a.owner(0).openRecords, open, 'its open file survived the rejoin');
    await a.drain();
    await b.drain();
    assert.equal(a.member.position(0), 30_000n);
    await a.sealAll();
    await b.sealAll();
    await assertExactlyOnce(cluster);
    assert.equal(cluster.committed.get(0), 30_000n);
    assert.equal(cluster.committed.get(1), 30_000n);
  });

  it('a batch behind the sink position seeks forward instead of waiting (the rewind without the rejoin seek)', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 20_000);
    const a = start({ cluster, instanceId: 'a', numPackets: 100_000 });
    cluster.rebalance();
    await a.join([0]);
    for (let i = 0; i < 30; i++) await a.step(500);
    const position = a.owner(0).position!;
    assert.equal(position, 15_000n);
    // The fetch position goes back to the committed offset behind the owner's back.
    a.member.seek(0, 0n);
    await a.step(500);
    assert.equal(a.member.position(0), position, 'one stale batch, then a seek to the position');
    await a.drain();
    await a.sealAll();
    await assertExactlyOnce(cluster);
  });

  it('a revoked partition drops its open file; the new owner re-reads and stores it once', async () => {
    const cluster = new ScriptedCluster('t', 2);
    cluster.produce(0, 2500);
    cluster.produce(1, 2500);
    const a = start({ cluster, instanceId: 'a', numPackets: 1000 });
    cluster.rebalance();
    await a.join([0, 1]);
    for (let i = 0; i < 3; i++) await a.step(500);
    cluster.rebalance();
    const b = start({ cluster, instanceId: 'b', numPackets: 1000 });
    await a.join([0]);
    await b.join([1]);
    assert.equal(a.owner(1).state, 'revoked');
    assert.equal(a.owner(1).openRecords, 0);
    await a.drain();
    await b.drain();
    await a.sealAll();
    await b.sealAll();
    await assertExactlyOnce(cluster);
  });

  it('the lifecycle goes assigned → reconciled → seeked → consuming → sealing → committing → revoked', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 1500);
    const a = start({ cluster, instanceId: 'a', numPackets: 1000 });
    await runToEnd(a, [0]);
    const states = a.transitions.map(([, , to]) => to);
    assert.deepEqual(states.slice(0, 3), ['reconciled', 'seeked', 'consuming']);
    assert.ok(states.includes('sealing') && states.includes('committing'));
    assert.equal(states.at(-1), 'revoked');
  });

  it('zombie publish: a process that lost the partition cannot publish, even after its marker offset was trimmed', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 1500);
    const zombie = start({ cluster, instanceId: 'z', numPackets: 1000 });
    cluster.rebalance();
    await zombie.join([0]);
    await zombie.drain(); // sealed 0-999; 1000-1499 open
    assert.equal(zombie.owner(0).openRecords, 500);
    // The zombie misses the rebalance (a long GC pause); b takes over and moves on.
    cluster.produce(0, 2500);
    const b = start({ cluster, instanceId: 'b', numPackets: 1000 });
    cluster.rebalance();
    await b.join([0]);
    await b.drain();
    await b.sealAll();
    // The zombie's idle timer fires: it tries to seal 1000-1499, whose marker b trimmed long ago.
    await zombie.sealAll();
    assert.ok(
      zombie.failures.some((e) => e instanceof LostClaimError),
      'the zombie lost its claim',
    );
    await assertExactlyOnce(cluster);
  });

  it('zombie with the same instance id: the loser never deletes the winner index (finding 7)', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 1800);
    // Large chunks: the zombie's open file exists only in memory until it seals, so it gets as far as the claim.
    const zombie = start({ cluster, instanceId: 'same', numPackets: 1000, chunkBytes: 1 << 20 });
    cluster.rebalance();
    await zombie.join([0]);
    await zombie.drain(); // 0-999 sealed, 1000-1799 open
    const b = start({ cluster, instanceId: 'same', numPackets: 1000, chunkBytes: 1 << 20 });
    cluster.rebalance();
    await b.join([0]);
    await b.drain();
    await b.sealAll(); // publishes 1000-1799 under the very name the zombie would use
    await zombie.sealAll();
    assert.ok(zombie.failures.some((e) => e instanceof LostClaimError));
    const files = await assertExactlyOnce(cluster);
    assert.ok(
      files.every((f) => f.index !== null),
      'every published file kept its index',
    );
  });
});

describe('the store is the source of truth (finding 2, finding 6)', () => {
  for (const reset of ['earliest', 'none'] as const) {
    it(`committed offsets ${reset === 'none' ? 'lost (a new group)' : 'reset to the earliest'}: nothing is stored twice`, async () => {
      const cluster = new ScriptedCluster('t', 2);
      cluster.produce(0, 6000);
      cluster.produce(1, 6000);
      await runToEnd(start({ cluster, instanceId: 'a', numPackets: 1000 }), [0, 1]);
      // A restart with nothing new (the old recovery trimmed every marker here).
      await runToEnd(start({ cluster, instanceId: 'b', numPackets: 1000 }), [0, 1]);
      cluster.resetOffsets(reset);
      const c = start({ cluster, instanceId: 'c', numPackets: 1000 });
      await runToEnd(c, [0, 1]);
      await assertExactlyOnce(cluster);
      assert.equal(cluster.committed.get(0), 6000n, 'the committed offset is restored from the store');
      // And new records after the reset are stored once.
      cluster.produce(0, 700);
      await runToEnd(start({ cluster, instanceId: 'd', numPackets: 1000 }), [0, 1]);
      await assertExactlyOnce(cluster);
    });
  }

  it('EARLIEST into a new output directory with an existing group writes everything (finding 6)', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 3000);
    await runToEnd(start({ cluster, instanceId: 'a', numPackets: 1000, out: '/first' }), [0]);
    assert.equal(cluster.committed.get(0), 3000n);
    const b = start({ cluster, instanceId: 'b', numPackets: 1000, out: '/second', start: 'EARLIEST' });
    await runToEnd(b, [0]);
    assert.deepEqual(b.failures, [], 'no lost claims');
    await assertExactlyOnce(cluster, '/second');
    assert.equal(cluster.committed.get(0), 3000n);
  });

  it('EARLIEST on the same output resumes at the store high-water mark, not at the earliest offset', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 3000);
    await runToEnd(start({ cluster, instanceId: 'a', numPackets: 1000 }), [0]);
    cluster.produce(0, 500);
    await runToEnd(start({ cluster, instanceId: 'b', numPackets: 1000, start: 'EARLIEST' }), [0]);
    await assertExactlyOnce(cluster);
  });

  it('kafka.pcap.reingest stores everything again once; a restart with the same token does not repeat it', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 2000);
    await runToEnd(start({ cluster, instanceId: 'a', numPackets: 1000 }), [0]);
    const again = { cluster, numPackets: 1000, start: 'EARLIEST' as const, reingest: 'r1' };
    await runToEnd(start({ ...again, instanceId: 'b' }), [0]);
    await assertExactlyOnce(cluster, '/pcap', 2);
    await runToEnd(start({ ...again, instanceId: 'c' }), [0]);
    await assertExactlyOnce(cluster, '/pcap', 2);
  });

  it('recovery reads O(1) ledger objects per partition, however many files were sealed', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 20_000);
    await runToEnd(start({ cluster, instanceId: 'a', numPackets: 100 }), [0]); // 200 files
    const b = start({ cluster, instanceId: 'b', numPackets: 100 });
    cluster.rebalance();
    await b.join([0]);
    const reads = b.storage.ops.filter(([op, path]) => op === 'read' && path.includes('/_state/'));
    assert.ok(reads.length <= 3, `recovery read ${reads.length} markers`);
    const entries: string[] = [];
    for await (const e of b.storage.list('/pcap/_state/t/0')) entries.push(e.name);
    assert.ok(entries.length <= 3, `ledger holds ${entries.join(', ')}`);
  });
});

describe('claims, commits, dead letters', () => {
  it('concurrent claims: exactly one winner per offset, never a half-written or deleted winner (finding 3)', async () => {
    // The old exclusive create made an empty marker visible before its bytes; a concurrent listing
    // called it torn and deleted it (this loop broke 3 of 308 offsets with that ledger).
    const storage = new LocalStorage(dir);
    const ledger = new Ledger(storage, new SinkLayout('/pcap'));
    let current = 0;
    let running = true;
    const listers = Array.from({ length: 4 }, async () => {
      while (running) await ledger.scan('t', current).catch(() => {});
    });
    for (let offset = 0; offset < 200; offset++) {
      current = offset;
      const marker = (i: number): SealMarker => ({
        first: String(offset),
        last: String(offset),
        tmpPath: `/tmp-${offset}-${i}-${'x'.repeat(4000)}`,
        dataPath: `/d-${offset}-${i}`,
        indexPath: `/i-${offset}-${i}`,
        count: 1,
        instanceId: `w${i}`,
        epoch: '1',
      });
      const claims = Array.from({ length: 6 }, (_, i) =>
        new Promise((r) => setTimeout(r, i))
          .then(() => ledger.claim('t', offset, marker(i)))
          .then((won) => (won ? i : -1)),
      );
      const winners = (await Promise.all(claims)).filter((i) => i >= 0);
      assert.equal(winners.length, 1, `offset ${offset}: one winner`);
      const stored = await ledger.read('t', offset, BigInt(offset));
      assert.ok(stored, `offset ${offset}: the winner's marker is still there`);
      assert.equal(stored.instanceId, `w${winners[0]}`);
      assert.deepEqual((await ledger.scan('t', offset)).leftovers, [], 'no temporary claim left behind');
    }
    running = false;
    await Promise.all(listers);
  });

  it('commits never move backwards: a skipped record before a file does not commit a stale offset (finding 4)', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 1, (offset) => ({ offset: String(offset), key: null, value: Buffer.from('bad') }));
    cluster.produce(0, 250);
    // Shift ids: records after the bad one carry ids of their own offsets.
    await runToEnd(start({ cluster, instanceId: 'a', numPackets: 100 }), [0]);
    const offsets = cluster.commits.filter(([p]) => p === 0).map(([, o]) => o);
    for (let i = 1; i < offsets.length; i++)
      assert.ok(offsets[i] >= offsets[i - 1], `commits ${offsets.join(', ')} never go backwards`);
    assert.equal(offsets.at(-1), 251n);
  });

  it('a dead-letter copy that keeps failing is fatal and never committed past (finding 5)', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 10);
    cluster.produce(0, 1, (offset) => ({ offset: String(offset), key: Buffer.from([1, 2]), value: Buffer.from('x') }));
    cluster.produce(0, 10);
    let attempts = 0;
    const a = start({
      cluster,
      instanceId: 'a',
      numPackets: 1000,
      deadLetters: () =>
        new DeadLetterQueue({
          topic: 'dlq',
          attempts: 3,
          sleep: async () => {},
          send: async () => {
            attempts++;
            throw new Error('topic unwritable');
          },
        }),
    });
    await runToEnd(a, [0]);
    assert.equal(attempts, 3, 'retried, then gave up');
    assert.equal(a.fatals.length, 1);
    assert.ok(a.fatals[0] instanceof DeadLetterError);
    assert.ok((cluster.committed.get(0) ?? 0n) <= 10n, 'never committed past the undelivered record');
  });

  it('a dead-letter copy that fails and then succeeds is delivered before the commit', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 5);
    cluster.produce(0, 1, (offset) => ({ offset: String(offset), key: null, value: Buffer.from('x') }));
    cluster.produce(0, 5);
    const sent: string[] = [];
    let failures = 2;
    const a = start({
      cluster,
      instanceId: 'a',
      numPackets: 1000,
      deadLetters: () =>
        new DeadLetterQueue({
          topic: 'dlq',
          sleep: async () => {},
          send: async (_t, letter) => {
            if (failures-- > 0) throw new Error('leader not available');
            sent.push(letter.headers['pcapline-source']);
          },
        }),
    });
    await runToEnd(a, [0]);
    assert.deepEqual(sent, ['t/0/5']);
    assert.deepEqual(a.fatals, []);
    assert.equal(cluster.committed.get(0), 11n);
  });
});

describe('layout and watchdog', () => {
  it('hourly layout: files land in YYYY/MM/DD/HH and pcap-query lists every one with its index bounds', async () => {
    const cluster = new ScriptedCluster('t', 1);
    // 3 hours of packets, one per 10 s.
    cluster.produce(0, 1080, (offset) => ({
      offset: String(offset),
      key: tsKey(1_700_000_000_000_000n + BigInt(offset) * 10_000_000n),
      value: udpFrame(recordId(0, offset)),
    }));
    const a = start({ cluster, instanceId: 'a', numPackets: 200, layout: 'hourly' });
    await runToEnd(a, [0]);
    const files = await assertExactlyOnce(cluster);
    assert.ok(
      files.every((f) => /\/pcap\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/pcap_t_/.test(f.path)),
      files.map((f) => f.path).join(' '),
    );
    const listed = await listDataFiles(a.storage.inner, '/pcap', true);
    assert.equal(listed.files.length, files.length);
    assert.equal(listed.indexes.size, files.length, 'every file found with its index');
    assert.ok(new Set(files.map((f) => f.path.split('/').slice(-2, -1)[0])).size >= 3, 'spread over several hours');
  });

  it('the stall watchdog sees a partition with records to read whose position does not move, and re-seeks it', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 1000);
    const a = start({ cluster, instanceId: 'a', numPackets: 10_000 });
    cluster.rebalance();
    await a.join([0]);
    await a.step(100);
    const owner = a.owner(0);
    const t0 = Date.now();
    assert.equal(owner.stalledFor(1000n, t0), 0);
    assert.equal(owner.stalledFor(1000n, t0 + 60_000), 60_000, 'no progress for a minute with records to read');
    a.member.seek(0, 0n); // kafkajs lost our position
    owner.nudge(t0 + 60_000);
    assert.equal(a.member.position(0), 100n, 're-sought to the owner position');
    await a.drain();
    assert.equal(owner.stalledFor(1000n, t0 + 120_000), 0, 'caught up: nothing to read');
  });
});

describe('marker trimming', () => {
  it('small files sealed back to back: every older marker deleted exactly once, the newest kept', async () => {
    const cluster = new ScriptedCluster('t', 1);
    cluster.produce(0, 3000);
    const a = start({ cluster, instanceId: 'a', numPackets: 100 });
    // Slow deletes (as a busy NameNode's): the next seals list the markers while they are under way.
    const del = a.storage.delete.bind(a.storage);
    a.storage.delete = async (path, recursive) => {
      if (path.endsWith('.json')) await new Promise((r) => setTimeout(r, 30));
      return del(path, recursive);
    };
    await runToEnd(a, [0]);
    await assertExactlyOnce(cluster);
    const markerDeletes = a.storage.ops.filter(
      ([op, path]) => op === 'delete' && /\/_state\/.*\/\d{20}\.json$/.test(path),
    );
    const times = new Map<string, number>();
    for (const [, path] of markerDeletes) times.set(path, (times.get(path) ?? 0) + 1);
    assert.deepEqual(
      [...times].filter(([, n]) => n > 1),
      [],
      'no marker deleted twice',
    );
    // 30 files: the 29 older markers are trimmed, the newest stays as the partition's high-water mark.
    assert.equal(times.size, 29);
    assert.equal(cluster.committed.get(0), 3000n);
  });
});
