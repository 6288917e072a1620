/**
 * The catalog's seal hook batches: entries come from what the sink holds (the index's sketches as
 * written), gathered per bucket into one loose object per batch or per flush interval, so a seal
 * costs the store no catalog operation of its own. What it writes must equal what reading the
 * index back gives (the entry a rebuild or the old per-seal hook wrote).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readCatalog } from '../../src/catalog/catalog-reader.js';
import {
  bucketOfEntry,
  CatalogHook,
  COMPACT_AT,
  compactBucket,
  entryFromIndex,
  listBucket,
  publishObject,
  readStoreFacts,
} from '../../src/catalog/catalog-writer.js';
import { type CatalogEntry, decodeCatalog, encodeCatalog } from '../../src/catalog/catalog-format.js';
import { LocalStorage } from '../../src/storage/local.js';
import type { Storage } from '../../src/storage/types.js';
import { SyntheticCapture } from '../support/synthetic.js';
import { type WrittenFile, writeStoreFile } from '../support/store-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'pcapline-catalog-hook-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** LocalStorage counting the creates under `_catalog`. */
class CountingStorage extends LocalStorage {
  catalogCreates = 0;
  override async create(...args: Parameters<Storage['create']>): Promise<void> {
    if (args[0].includes('/_catalog/')) this.catalogCreates++;
    return super.create(...args);
  }
}

/** `n` one-hour-bucket data files of 200 packets each, written with their v2 indexes under `root`. */
async function files(root: string, n: number): Promise<WrittenFile[]> {
  const gen = new SyntheticCapture({ seed: 7, flows: 20, rate: 5000 });
  const out: WrittenFile[] = [];
  for (let i = 0; i < n; i++) {
    const packets = Array.from({ length: 200 }, () => {
      const p = gen.next();
      return { tsNs: p.tsNs, frame: p.frame };
    });
    out.push(await writeStoreFile(join(dir, root), packets, { partition: i % 3, id: `f${i}` }));
  }
  return out;
}

const sealed = (root: string, f: WrittenFile) => ({
  dataPath: `/${root}/${f.name}`,
  indexPath: f.indexPath!.slice(dir.length),
  minTsNs: f.minTsNs,
  maxTsNs: f.maxTsNs,
  count: f.count,
  bytes: f.bytes,
  sketches: f.sketches,
});

async function catalogued(storage: Storage, root: string, bucket: string): Promise<Map<string, CatalogEntry>> {
  const { summary, loose } = await listBucket(storage, `/${root}`, bucket);
  const out = new Map<string, CatalogEntry>();
  for (const p of [...(summary ? [summary.path] : []), ...loose])
    for (const e of decodeCatalog(await storage.readBuffer(p))) out.set(e.dataPath, e);
  return out;
}

const plain = (e: CatalogEntry) => ({ ...e, sketches: [...e.sketches].map(([k, f]) => [k, f.hashes, [...f.bits]]) });

describe('catalog seal hook', () => {
  test('one loose object per batch, entries equal to those read back from the indexes', async () => {
    const storage = new CountingStorage(`file://${dir}`);
    const written = await files('a', 7);
    const hook = new CatalogHook(
      storage,
      '/a',
      async () => true,
      (m) => assert.fail(m),
      {
        batchEntries: 3,
        flushAfterMs: 60_000,
      },
    );
    for (const f of written) await hook.recordSealed(sealed('a', f));
    assert.equal(hook.pendingEntries, 1, 'two batches of three went out, one entry waits');
    await hook.drain();
    assert.equal(hook.pendingEntries, 0);
    const buckets = new Set(written.map((f) => bucketOfEntry(f)));
    assert.equal(buckets.size, 1, 'the files share one hour bucket');
    const [bucket] = buckets;
    // Three loose objects and store.json: no create per file.
    assert.equal(storage.catalogCreates, 4);
    assert.equal((await listBucket(storage, '/a', bucket)).loose.length, 3);
    const got = await catalogued(storage, 'a', bucket);
    assert.equal(got.size, written.length);
    for (const f of written) {
      const reread = await entryFromIndex(storage, '/a', `/a/${f.name}`, f.indexPath!.slice(dir.length));
      assert.ok(reread);
      assert.deepEqual(plain(got.get(f.name)!), plain(reread));
    }
    assert.deepEqual(await readStoreFacts(storage, '/a'), { version: 1, layout: 'flat', complete: true });
  });

  test('entries waiting are written after the flush interval without a drain', async () => {
    const storage = new CountingStorage(`file://${dir}`);
    const [f] = await files('b', 1);
    const hook = new CatalogHook(
      storage,
      '/b',
      async () => true,
      (m) => assert.fail(m),
      { flushAfterMs: 30 },
    );
    await hook.recordSealed(sealed('b', f));
    const bucket = bucketOfEntry(f);
    for (let i = 0; i < 200 && (await catalogued(storage, 'b', bucket)).size === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.equal((await catalogued(storage, 'b', bucket)).size, 1);
    await hook.drain();
  });

  test(`a bucket with ${COMPACT_AT} loose objects is compacted into one summary`, async () => {
    const storage = new CountingStorage(`file://${dir}`);
    const written = await files('c', COMPACT_AT + 1);
    const hook = new CatalogHook(
      storage,
      '/c',
      async () => true,
      (m) => assert.fail(m),
      { batchEntries: 1 },
    );
    for (const f of written) await hook.recordSealed(sealed('c', f));
    await hook.drain();
    const bucket = bucketOfEntry(written[0]);
    const l = await listBucket(storage, '/c', bucket);
    assert.ok(l.summary, 'a summary was written');
    assert.ok(l.loose.length < COMPACT_AT, `loose objects merged (${l.loose.length} left)`);
    assert.equal((await catalogued(storage, 'c', bucket)).size, written.length);
  });

  test('a file without sketches (a v1 index) is read from its index, as before', async () => {
    const storage = new CountingStorage(`file://${dir}`);
    const [f] = await files('d', 1);
    const hook = new CatalogHook(
      storage,
      '/d',
      async () => true,
      (m) => assert.fail(m),
    );
    await hook.recordSealed({ dataPath: `/d/${f.name}`, indexPath: f.indexPath!.slice(dir.length) });
    assert.equal((await catalogued(storage, 'd', bucketOfEntry(f))).size, 1);
    await hook.drain();
  });
});

describe('catalog objects are published whole', () => {
  test('an object appears under its name only complete; replacing, and refusing to replace', async () => {
    const storage = new LocalStorage(`file://${dir}`);
    const [f] = await files('p', 1);
    const entry = await entryFromIndex(storage, '/p', `/p/${f.name}`, f.indexPath!.slice(dir.length));
    assert.ok(entry);
    const bucket = bucketOfEntry(entry);
    const path = `/p/_catalog/${bucket}/s-0000000001.avro`;
    await publishObject(storage, path, encodeCatalog([entry]), false);
    await assert.rejects(publishObject(storage, path, encodeCatalog([]), false), /FileAlreadyExists/);
    assert.equal(decodeCatalog(await storage.readBuffer(path)).length, 1, 'the refused publish left it as it was');
    await publishObject(storage, path, encodeCatalog([]), true);
    assert.equal(decodeCatalog(await storage.readBuffer(path)).length, 0);
    const names: string[] = [];
    for await (const e of storage.list(`/p/_catalog/${bucket}`)) names.push(e.name);
    assert.deepEqual(names, ['s-0000000001.avro'], 'no temporary object left behind');
  });

  test('a torn object (written in place by an older version) costs its sketches, never a file or the query', async () => {
    const storage = new LocalStorage(`file://${dir}`);
    const written = await files('t', 3);
    const hook = new CatalogHook(
      storage,
      '/t',
      async () => true,
      (m) => assert.fail(m),
      { batchEntries: 1 },
    );
    for (const f of written) await hook.recordSealed(sealed('t', f));
    await hook.drain();
    const bucket = bucketOfEntry(written[0]);
    const { loose } = await listBucket(storage, '/t', bucket);
    assert.ok(loose.length >= 1);
    // Cut one loose object short, as a crash inside an in-place create left it.
    const whole = await storage.readBuffer(loose[0]);
    await storage.delete(loose[0]);
    await storage.create(loose[0], whole.subarray(0, Math.floor(whole.length / 2)));
    const plan = await readCatalog(storage, '/t', 0n, 2n ** 62n);
    assert.ok(plan);
    assert.deepEqual(plan.files.map((x) => x.dataPath).sort(), written.map((x) => `/t/${x.name}`).sort());
    assert.equal(await compactBucket(storage, '/t', bucket), true, 'compaction drops the torn object');
    const after = await listBucket(storage, '/t', bucket);
    assert.deepEqual(after.loose, []);
  });
});
