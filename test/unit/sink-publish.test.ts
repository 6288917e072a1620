import assert from 'node:assert/strict';
import { link, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SinkLayout } from '../../src/sink/layout.js';
import { Ledger, type SealMarker } from '../../src/sink/ledger.js';
import { NameTakenError, PartitionSink } from '../../src/sink/partition-sink.js';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/types.js';

// Publishing is a rename of the in-progress file onto the data name. When that name already exists,
// the claim counts as published only if the name holds this very file: anything else would commit
// offsets whose records no file holds.
describe('publish when the data name already exists', () => {
  let dir: string;
  let storage: Storage;
  let sink: PartitionSink;
  const marker = (name: string): SealMarker => ({
    first: '0',
    last: '9',
    tmpPath: `/out/_inprogress/${name}`,
    dataPath: `/out/${name}`,
    indexPath: `/out/_index/${name}.avro`,
    count: 10,
    instanceId: 'test',
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcapline-publish-'));
    storage = openStorage(`file://${dir}`);
    const layout = new SinkLayout('/out');
    sink = new PartitionSink({
      storage,
      layout,
      ledger: new Ledger(storage, layout),
      topic: 'pcap',
      partition: 0,
      instanceId: 'test',
      policy: { numPackets: 10, maxTimeNs: 0n },
      chunkBytes: 1 << 16,
      replication: 1,
      commit: async () => {},
      onSealed: () => {},
      beforeCommit: async () => {},
    });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('another file under the name: refused, and our in-progress file is kept', async () => {
    const m = marker('collide');
    await storage.create(m.tmpPath, Buffer.from('our records'));
    await storage.create(m.dataPath, Buffer.from('someone else'));
    await assert.rejects(sink.publish(m), NameTakenError);
    await assert.rejects(sink.publish(m, { known: 'unpublished' }), NameTakenError);
    assert.equal((await storage.readBuffer(m.tmpPath)).toString(), 'our records');
    assert.equal((await storage.readBuffer(m.dataPath)).toString(), 'someone else');
  });

  it('another file of the same length under the name: still refused (bytes compared)', async () => {
    const m = marker('same-length');
    await storage.create(m.tmpPath, Buffer.from('AAAA'));
    await storage.create(m.dataPath, Buffer.from('BBBB'));
    await assert.rejects(sink.publish(m), NameTakenError);
    assert.ok(await storage.stat(m.tmpPath));
  });

  it('a crash between link and unlink (the same file under both names): published, the extra name removed', async () => {
    const m = marker('linked');
    await storage.create(m.tmpPath, Buffer.from('our records'));
    await link(join(dir, m.tmpPath), join(dir, m.dataPath));
    assert.equal(await sink.publish(m), true);
    assert.equal(await storage.stat(m.tmpPath), null);
    assert.equal((await storage.readBuffer(m.dataPath)).toString(), 'our records');
  });

  it('already renamed (by this writer or a recovery): published', async () => {
    const m = marker('done');
    await storage.create(m.dataPath, Buffer.from('our records'));
    assert.equal(await sink.publish(m), true);
  });
});
