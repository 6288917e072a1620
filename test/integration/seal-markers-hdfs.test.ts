/**
 * Seal markers on the real HDFS (docs/exactly-once.md §2): a marker is an empty directory carrying
 * its JSON in the extended attribute `user.pcapline.claim` (WebHDFS MKDIRS, SETXATTR, GETXATTRS), so
 * writing it costs NameNode calls only. A directory must rename into place exclusively (never into
 * an existing marker). Markers of older versions (JSON content, or an empty file carrying the
 * attribute) must still be read, and a cluster that refuses the attribute must get content instead,
 * never a failed seal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SinkLayout } from '../../src/sink/layout.js';
import { Ledger, MARKER_ATTRIBUTE, type SealMarker } from '../../src/sink/ledger.js';
import { PartitionSink } from '../../src/sink/partition-sink.js';
import { recoverPartition } from '../../src/sink/recovery.js';
import { isStorageError, openStorage, type Storage } from '../../src/storage/index.js';
import { ensureStack, uniqueName } from '../helpers/stack.js';

const layout = new SinkLayout('/out');
const TOPIC = 'pcap';

const marker = (first: number, last: number, name: string, extra: Partial<SealMarker> = {}): SealMarker => ({
  first: String(first),
  last: String(last),
  tmpPath: `/out/_inprogress/${TOPIC}/0/${name}.seq`,
  tmpIndexPath: `/out/_inprogress/${TOPIC}/0/${name}.idx`,
  dataPath: `/out/${name}`,
  indexPath: `/out/_index/${name}.avro`,
  count: last - first + 1,
  instanceId: 'it',
  epoch: '1',
  ...extra,
});

describe('seal markers on HDFS: JSON in an extended attribute of an empty directory', () => {
  let storage: Storage;
  before(() => {
    const { webhdfsUrl } = ensureStack();
    storage = openStorage(`${webhdfsUrl}/tmp/pcapline-test/${uniqueName('seal-markers')}`);
  });
  after(async () => {
    await storage?.delete('/', true).catch(() => false);
    await storage?.close();
  });

  it('WebHDFS attributes: any bytes round trip, replaced, kept through a rename; absent is null', async () => {
    const bytes = Buffer.from([0, 1, 2, 0xff, 0x2b, 0x2f, 0x3d, ...Buffer.from(' a+b/c=d&e?f#g%')]);
    await storage.create('/attr/f', Buffer.alloc(0));
    assert.equal(await storage.getAttribute!('/attr/f', 'user.pcapline.test'), null);
    await storage.setAttribute!('/attr/f', 'user.pcapline.test', Buffer.from('first'));
    await storage.setAttribute!('/attr/f', 'user.pcapline.test', bytes);
    await storage.setAttribute!('/attr/f', 'user.pcapline.empty', Buffer.alloc(0));
    await storage.rename('/attr/f', '/attr/g');
    assert.deepEqual(await storage.getAttribute!('/attr/g', 'user.pcapline.test'), bytes);
    assert.deepEqual(await storage.getAttribute!('/attr/g', 'user.pcapline.empty'), Buffer.alloc(0));
    assert.equal((await storage.stat('/attr/g'))?.length, 0);
    // One at a time: a second call started beside the first would reject before anyone awaits it.
    for (const call of [
      () => storage.getAttribute!('/attr/missing', 'user.pcapline.test'),
      () => storage.setAttribute!('/attr/missing', 'user.pcapline.test', bytes),
    ])
      await assert.rejects(call(), (e) => isStorageError(e, 'FileNotFoundException'));
  });

  it('WebHDFS directories: attributes, an exclusive rename (never into an existing one), a plain delete', async () => {
    assert.equal(storage.cheapDirectories, true);
    await storage.mkdirs('/dirs/.a');
    await storage.setAttribute!('/dirs/.a', 'user.pcapline.test', Buffer.from('a'));
    await storage.rename('/dirs/.a', '/dirs/x');
    assert.deepEqual(await storage.getAttribute!('/dirs/x', 'user.pcapline.test'), Buffer.from('a'));
    await storage.mkdirs('/dirs/.b');
    await assert.rejects(storage.rename('/dirs/.b', '/dirs/x'), (e) => isStorageError(e, 'FileAlreadyExistsException'));
    assert.ok(await storage.stat('/dirs/.b'), 'the loser stays where it was');
    assert.equal(await storage.stat('/dirs/x/.b'), null, 'not moved into the winner');
    // Onto a marker of the earlier form (a file), and a file onto a directory marker: the target exists.
    await storage.create('/dirs/f', Buffer.alloc(0));
    await assert.rejects(storage.rename('/dirs/.b', '/dirs/f'), (e) => isStorageError(e, 'FileAlreadyExistsException'));
    await storage.create('/dirs/.g', Buffer.alloc(0));
    await storage.mkdirs('/dirs/y');
    await assert.rejects(storage.rename('/dirs/.g', '/dirs/y'), (e) => isStorageError(e, 'FileAlreadyExistsException'));
    assert.equal(await storage.stat('/dirs/y/.g'), null, 'a file is not moved into a directory either');
    assert.equal(await storage.delete('/dirs/x'), true, 'an empty directory needs no recursive delete');
    assert.equal(await storage.stat('/dirs/x'), null);
  });

  it('a claim is an empty directory carrying its marker; scan, read and removeIfSame see it', async () => {
    const warnings: string[] = [];
    const ledger = new Ledger(storage, layout, (m) => warnings.push(m));
    const m = marker(100, 199, 'claimed');
    assert.equal(await ledger.claim(TOPIC, 0, m), true);
    const path = layout.marker(TOPIC, 0, 100n);
    assert.equal((await storage.stat(path))?.type, 'directory', 'NameNode calls only');
    assert.deepEqual(JSON.parse((await storage.getAttribute!(path, MARKER_ATTRIBUTE))!.toString()), m);
    const scan = await ledger.scan(TOPIC, 0);
    assert.deepEqual(
      scan.markers.map((x) => [x.first, x.last, x.dataPath, x.markerPath]),
      [['100', '199', m.dataPath, path]],
    );
    assert.deepEqual(scan.leftovers, []);
    assert.equal((await ledger.read(TOPIC, 0, 100n))?.tmpPath, m.tmpPath);
    // Another claim at the same offset loses; removing "the same claim" with another epoch keeps it.
    assert.equal(await ledger.claim(TOPIC, 0, marker(100, 150, 'loser')), false);
    await ledger.removeIfSame({ ...m, epoch: '2', markerPath: path });
    assert.ok(await storage.stat(path));
    await ledger.removeIfSame({ ...m, markerPath: path });
    assert.equal(await storage.stat(path), null);
    assert.deepEqual(warnings, []);
  });

  it('a marker of an older version (JSON content) is still read by scan, read and removeIfSame', async () => {
    const ledger = new Ledger(storage, layout);
    const m = marker(200, 299, 'old');
    const path = layout.marker(TOPIC, 1, 200n);
    await storage.create(path, Buffer.from(JSON.stringify(m)));
    assert.equal((await ledger.scan(TOPIC, 1)).markers[0]?.dataPath, m.dataPath);
    assert.equal((await ledger.read(TOPIC, 1, 200n))?.last, '299');
    await ledger.removeIfSame({ ...m, markerPath: path });
    assert.equal(await storage.stat(path), null);
  });

  it('a marker of the previous form (an empty file carrying the attribute) is still read', async () => {
    const ledger = new Ledger(storage, layout);
    const m = marker(500, 599, 'empty-file');
    const path = layout.marker(TOPIC, 4, 500n);
    await storage.create(path, Buffer.alloc(0));
    await storage.setAttribute!(path, MARKER_ATTRIBUTE, Buffer.from(JSON.stringify(m)));
    assert.equal((await ledger.scan(TOPIC, 4)).markers[0]?.dataPath, m.dataPath);
    assert.equal((await ledger.read(TOPIC, 4, 500n))?.last, '599');
    await ledger.removeIfSame({ ...m, markerPath: path });
    assert.equal(await storage.stat(path), null);
  });

  it('recovery rolls an attribute marker forward and removes leftover claims of both forms', async () => {
    const ledger = new Ledger(storage, layout);
    const commits: bigint[] = [];
    const sink = new PartitionSink({
      storage,
      layout,
      ledger,
      topic: TOPIC,
      partition: 2,
      instanceId: 'it',
      policy: { numPackets: 100, maxTimeNs: 0n },
      chunkBytes: 1 << 16,
      replication: 1,
      commit: async (offset) => void commits.push(offset),
      onSealed: () => {},
      beforeCommit: async () => {},
    });
    const m = marker(0, 99, 'rolled', {
      tmpPath: `/out/_inprogress/${TOPIC}/2/rolled.seq`,
      tmpIndexPath: `/out/_inprogress/${TOPIC}/2/rolled.idx`,
    });
    await storage.create(m.tmpPath, Buffer.from('the records'));
    await storage.create(m.tmpIndexPath!, Buffer.from('the index'));
    assert.equal(await ledger.claim(TOPIC, 2, m), true);
    // Crashes between making a claim (a directory; an empty file in earlier versions) and setting its attribute.
    const leftover = `${layout.stateDir(TOPIC, 2)}/.claim-100-0123456789ab`;
    const oldLeftover = `${layout.stateDir(TOPIC, 2)}/.claim-200-0123456789ab`;
    await storage.mkdirs(leftover);
    await storage.create(oldLeftover, Buffer.alloc(0));
    assert.deepEqual((await ledger.scan(TOPIC, 2)).leftovers, [leftover, oldLeftover]);

    const result = await recoverPartition(sink, { base: 0n, committed: null, rewind: false });
    assert.equal(result.rolledForward, 1);
    assert.equal(result.highWater, 100n);
    assert.deepEqual(commits, [100n]);
    assert.equal((await storage.readBuffer(m.dataPath)).toString(), 'the records');
    assert.equal((await storage.readBuffer(m.indexPath)).toString(), 'the index');
    assert.equal(await storage.stat(leftover), null, 'the leftover claim is gone');
    assert.equal(await storage.stat(oldLeftover), null, 'the leftover claim of the earlier form is gone');
    const after = await ledger.scan(TOPIC, 2);
    assert.deepEqual(
      after.markers.map((x) => x.first),
      ['0'],
      'the marker stays: the high-water mark',
    );
    assert.deepEqual(after.leftovers, []);
  });

  it('a marker the cluster refuses as an attribute (over its size limit) is written as content, with one warning', async () => {
    const warnings: string[] = [];
    const ledger = new Ledger(storage, layout, (m) => warnings.push(m));
    // A re-ingest token long enough to pass HDFS's 16 KiB per attribute.
    const big = marker(300, 399, 'big', { reingest: 'r'.repeat(17_000) });
    assert.equal(await ledger.claim(TOPIC, 3, big), true);
    assert.equal(await ledger.claim(TOPIC, 3, marker(400, 499, 'next')), true);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    const path = layout.marker(TOPIC, 3, 300n);
    assert.ok(((await storage.stat(path))?.length ?? 0) > 17_000, 'the JSON is the content');
    const scan = await ledger.scan(TOPIC, 3);
    assert.deepEqual(
      scan.markers.map((x) => [x.first, x.reingest?.length]),
      [
        ['300', 17_000],
        ['400', undefined],
      ],
    );
    assert.ok(((await storage.stat(layout.marker(TOPIC, 3, 400n)))?.length ?? 0) > 0, 'content from then on');
  });
});
