/**
 * SmallRecords (src/storage/small-records.ts): small records as empty directories (or files) carrying
 * an attribute where the store has attributes, as content elsewhere; readers take both forms. The store is the
 * fault-model harness's local store with an AttributeTable (HDFS-like extended attributes), scripted
 * to refuse or fail.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { StorageError, isStorageError } from '../../src/storage/errors.js';
import { SmallRecords, UnreadableRecordError } from '../../src/storage/small-records.js';
import { AttributeTable, CrashableStorage } from '../helpers/scripted-consumer.js';

const NAME = 'user.test.body';
const body = Buffer.from(JSON.stringify({ first: '7', last: '9' }));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'small-records-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function store(attributes: AttributeTable | null = new AttributeTable()) {
  const storage = new CrashableStorage(dir, null, attributes);
  const warnings: string[] = [];
  return { storage, warnings, records: new SmallRecords(storage, NAME, (m) => warnings.push(m)) };
}

describe('SmallRecords', () => {
  it('with attributes and cheap directories (HDFS): an empty directory carrying the body, read back by asking', async () => {
    const attributes = new AttributeTable();
    const { storage, records } = store(attributes);
    await records.write('/s/.tmp', body);
    assert.deepEqual(
      storage.ops.map(([op]) => op),
      ['mkdirs', 'setattr'],
      'no file created: NameNode calls only',
    );
    await storage.rename('/s/.tmp', '/s/r.json');
    assert.equal((await storage.stat('/s/r.json'))?.type, 'directory');
    assert.deepEqual(attributes.get('/s/r.json', NAME), body, 'the attribute moved with the rename');
    assert.deepEqual(await records.read('/s/r.json', 0), body);
    assert.deepEqual(await records.read('/s/r.json'), body);
    assert.equal(storage.ops.filter(([op]) => op === 'read').length, 0, 'no content read');
    assert.equal(await storage.delete('/s/r.json'), true, 'deleted without recursion');
  });

  it('with attributes but no cheap directories: an empty file carrying the body', async () => {
    const attributes = new AttributeTable();
    const storage = new CrashableStorage(dir, null, attributes, { emptyFileRecords: true });
    const records = new SmallRecords(storage, NAME);
    await records.write('/s/.tmp', body);
    assert.deepEqual(
      storage.ops.map(([op]) => op),
      ['create', 'setattr'],
    );
    await storage.rename('/s/.tmp', '/s/r.json');
    const st = await storage.stat('/s/r.json');
    assert.equal(st?.type, 'file');
    assert.equal(st?.length, 0);
    assert.deepEqual(await records.read('/s/r.json', 0), body);
    assert.deepEqual(await records.read('/s/r.json'), body);
    assert.equal(storage.ops.filter(([op]) => op === 'read').length, 0, 'no content read');
  });

  it('a directory without the attribute reads as empty (a torn record)', async () => {
    const { storage, records } = store();
    await storage.mkdirs('/s/torn.json');
    assert.equal((await records.read('/s/torn.json', 0)).length, 0);
    assert.equal((await records.read('/s/torn.json')).length, 0);
  });

  it('without attributes (the local back end): the body is the content', async () => {
    const { storage, records } = store(null);
    assert.equal(records.usesAttributes, false);
    await records.write('/s/r.json', body);
    assert.deepEqual(await storage.readBuffer('/s/r.json'), body);
    assert.deepEqual(await records.read('/s/r.json', body.length), body);
    assert.deepEqual(await records.read('/s/r.json'), body);
  });

  it('a record with content (an older version) is read as its content on a store with attributes', async () => {
    const { storage, records } = store();
    await storage.create('/s/old.json', body);
    assert.deepEqual(await records.read('/s/old.json', body.length), body);
    assert.deepEqual(await records.read('/s/old.json'), body);
  });

  it('an empty file without the attribute reads as empty (a torn record), a missing one as FileNotFoundException', async () => {
    const { storage, records } = store();
    await storage.create('/s/torn.json', Buffer.alloc(0));
    assert.equal((await records.read('/s/torn.json', 0)).length, 0);
    assert.equal((await records.read('/s/torn.json')).length, 0);
    await assert.rejects(records.read('/s/missing.json'), (e) => isStorageError(e, 'FileNotFoundException'));
  });

  it('a store refusing attributes: content from then on, one warning, never a failed write', async () => {
    const attributes = new AttributeTable();
    attributes.refuse = true;
    const { storage, records, warnings } = store(attributes);
    await records.write('/s/a.json', body);
    await records.write('/s/b.json', body);
    assert.equal((await storage.stat('/s/a.json'))?.type, 'file', 'the refused directory made way for a file');
    assert.deepEqual(await storage.readBuffer('/s/a.json'), body, 'the refused record was rewritten with content');
    assert.deepEqual(await storage.readBuffer('/s/b.json'), body);
    assert.equal(
      storage.ops.filter(([op]) => op === 'setattr').length,
      0,
      'asked once (the refused call is not logged)',
    );
    assert.equal(records.usesAttributes, false);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /refuses extended attributes/);
    assert.deepEqual(await records.read('/s/a.json', body.length), body);
  });

  it('an attribute body the store now refuses to read is an error, never an empty record', async () => {
    const attributes = new AttributeTable();
    const { records } = store(attributes);
    await records.write('/s/r.json', body);
    attributes.refuse = true;
    await assert.rejects(records.read('/s/r.json', 0), UnreadableRecordError);
    await assert.rejects(records.read('/s/r.json'), UnreadableRecordError);
  });

  it('a transient failure of the attribute call is thrown, not taken for a refusal', async () => {
    const { storage, records, warnings } = store();
    const outage = new StorageError('setxattr: StandbyException', 'StandbyException', '/s', 403, true);
    storage.setAttribute = async () => {
      throw outage;
    };
    await assert.rejects(records.write('/s/r.json', body), (e) => e === outage);
    storage.getAttribute = async () => {
      throw new StorageError('getxattrs: IOException: reset', 'IOException', '/s', undefined, true);
    };
    await assert.rejects(records.read('/s/r.json', 0), (e) => isStorageError(e, 'IOException'));
    assert.equal(records.usesAttributes, true, 'attributes stay in use');
    assert.deepEqual(warnings, []);
  });
});
