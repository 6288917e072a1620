import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isStorageError, openStorage, type FileStatus, type Storage } from '../../src/storage/index.js';
import { ensureStack, uniqueName } from '../helpers/stack.js';
import { openRangedReader } from '../../src/storage/util.js';

/** Asserts that `promise` rejects with a StorageError carrying `exception`. */
async function rejectsWith(promise: Promise<unknown>, exception: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isStorageError(err), `expected a StorageError, got ${String(err)}`);
    assert.equal(err.exception, exception, err.message);
    return true;
  });
}

async function collectAll<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function bounded<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

const text = async (s: Storage, path: string) => (await s.readBuffer(path)).toString();

interface Fixture {
  store: Storage;
  cleanup(): Promise<void>;
}

/** One set of storage cases, run unchanged against every back end. */
function storageContract(name: string, makeStore: () => Promise<Fixture>): void {
  describe(`storage contract: ${name}`, () => {
    let fx: Fixture;
    let s: Storage;
    before(async () => {
      fx = await makeStore();
      s = fx.store;
    });
    after(async () => {
      await fx?.cleanup();
    });

    it('mkdirs creates nested directories and is idempotent', async () => {
      await s.mkdirs('/mk/a/b/c');
      await s.mkdirs('/mk/a/b/c');
      const st = await s.stat('/mk/a/b/c');
      assert.equal(st?.type, 'directory');
      assert.equal(st?.path, '/mk/a/b/c');
      assert.equal(st?.name, 'c');
    });

    it('create then read back, creating parent directories', async () => {
      await s.create('/cr/deep/er/file.bin', Buffer.from('hello storage'));
      assert.equal(await text(s, '/cr/deep/er/file.bin'), 'hello storage');
      assert.equal((await s.stat('/cr/deep/er'))?.type, 'directory');
    });

    it('create over an existing file fails with FileAlreadyExistsException and keeps the original', async () => {
      await s.create('/ex/f', Buffer.from('original'));
      await rejectsWith(s.create('/ex/f', Buffer.from('intruder')), 'FileAlreadyExistsException');
      await rejectsWith(s.create('/ex/f', Buffer.from('x'), { overwrite: false }), 'FileAlreadyExistsException');
      assert.equal(await text(s, '/ex/f'), 'original');
    });

    it('create with overwrite replaces the content', async () => {
      await s.create('/ow/f', Buffer.from('a much longer first version'));
      await s.create('/ow/f', Buffer.from('second'), { overwrite: true });
      assert.equal(await text(s, '/ow/f'), 'second');
    });

    it('a file where a directory should be: ParentNotDirectoryException / FileAlreadyExistsException', async () => {
      await s.create('/pf/file', Buffer.from('x'));
      await rejectsWith(s.create('/pf/file/child', Buffer.from('y')), 'ParentNotDirectoryException');
      await rejectsWith(s.create('/pf/file/a/b', Buffer.from('y')), 'ParentNotDirectoryException');
      await rejectsWith(s.mkdirs('/pf/file/sub'), 'ParentNotDirectoryException');
      await rejectsWith(s.mkdirs('/pf/file'), 'FileAlreadyExistsException');
      await s.mkdirs('/pf/dir');
      await rejectsWith(s.create('/pf/dir', Buffer.from('y')), 'FileAlreadyExistsException');
      await rejectsWith(s.create('/pf/dir', Buffer.from('y'), { overwrite: true }), 'FileAlreadyExistsException');
    });

    it('append adds to the end', async () => {
      await s.create('/ap/f', Buffer.from('one,'));
      await s.append('/ap/f', Buffer.from('two,'));
      await s.append(
        '/ap/f',
        (async function* () {
          yield Buffer.from('thr');
          yield Buffer.from('ee');
        })(),
      );
      assert.equal(await text(s, '/ap/f'), 'one,two,three');
      assert.equal((await s.stat('/ap/f'))?.length, 13);
    });

    it('append to a missing file fails with FileNotFoundException and creates nothing', async () => {
      await rejectsWith(s.append('/ap-missing/f', Buffer.from('x')), 'FileNotFoundException');
      assert.equal(await s.stat('/ap-missing/f'), null);
    });

    it('ranged reads: middle, to the end, zero-length, at and past the end', async () => {
      await s.create('/rr/f', Buffer.from('0123456789abcdef'));
      assert.equal((await s.readBuffer('/rr/f', 4, 5)).toString(), '45678');
      assert.equal((await s.readBuffer('/rr/f', 10)).toString(), 'abcdef');
      assert.equal((await s.readBuffer('/rr/f', 12, 100)).toString(), 'cdef');
      assert.equal((await s.readBuffer('/rr/f', 3, 0)).length, 0);
      assert.equal((await s.readBuffer('/rr/f', 16)).length, 0);
      assert.equal((await s.readBuffer('/rr/f', 99, 4)).length, 0);
      assert.equal((await s.readBuffer('/rr/f')).toString(), '0123456789abcdef');
      await s.create('/rr/empty', Buffer.alloc(0));
      assert.equal((await s.readBuffer('/rr/empty')).length, 0);
      await rejectsWith(s.read('/rr/f', -1, 2), 'IllegalArgumentException');
    });

    it('one open file for many ranged reads: reads in flight finish before it closes, none after', async () => {
      await s.create('/or/f', Buffer.from('0123456789abcdef'));
      await s.create('/or/g', Buffer.from('ghijklmnopqrstuv'));
      const r = await openRangedReader(s, '/or/f');
      const inFlight = [r.read(0, 4), r.read(4, 4), r.read(12, 10)];
      const closed = r.close();
      // A file opened meanwhile may get a closed descriptor's number: the reads above must not see it.
      const other = await openRangedReader(s, '/or/g');
      assert.deepEqual(
        (await Promise.all(inFlight)).map((b) => b.toString()),
        ['0123', '4567', 'cdef'],
      );
      await closed;
      await r.close(); // a second close is a no-op, never another file's
      assert.equal((await other.read(0, 3)).toString(), 'ghi');
      await other.close();
      if (s.openRanged) await assert.rejects(r.read(0, 1));
    });

    it('reading a missing file or a directory fails with FileNotFoundException', async () => {
      await rejectsWith(s.read('/nope/missing'), 'FileNotFoundException');
      await rejectsWith(s.readBuffer('/nope/missing', 5, 10), 'FileNotFoundException');
      await s.mkdirs('/rd-dir');
      await rejectsWith(s.readBuffer('/rd-dir'), 'FileNotFoundException');
    });

    it('rename moves a file', async () => {
      await s.create('/rn/tmp/_f.inprogress', Buffer.from('payload'));
      await s.mkdirs('/rn/final');
      await s.rename('/rn/tmp/_f.inprogress', '/rn/final/f');
      assert.equal(await s.stat('/rn/tmp/_f.inprogress'), null);
      assert.equal(await text(s, '/rn/final/f'), 'payload');
    });

    it('rename onto an existing file fails with FileAlreadyExistsException and keeps both', async () => {
      await s.create('/rx/a', Buffer.from('A'));
      await s.create('/rx/b', Buffer.from('B'));
      await rejectsWith(s.rename('/rx/a', '/rx/b'), 'FileAlreadyExistsException');
      assert.equal(await text(s, '/rx/a'), 'A');
      assert.equal(await text(s, '/rx/b'), 'B');
    });

    it('rename of a missing source or into a missing directory fails with FileNotFoundException', async () => {
      await rejectsWith(s.rename('/rm/none', '/rm/other'), 'FileNotFoundException');
      await s.create('/rm/a', Buffer.from('A'));
      await rejectsWith(s.rename('/rm/a', '/rm/no-such-dir/a'), 'FileNotFoundException');
      assert.equal(await text(s, '/rm/a'), 'A');
    });

    it('stat: file, directory, missing', async () => {
      await s.create('/st/f', Buffer.from('12345'));
      const f = await s.stat('/st/f');
      assert.deepEqual(
        { ...f, modificationTime: 0 },
        { path: '/st/f', name: 'f', type: 'file', length: 5, modificationTime: 0 },
      );
      assert.ok(f && Math.abs(f.modificationTime - Date.now()) < 120_000, 'modificationTime is ms since the epoch');
      const d = await s.stat('/st');
      assert.equal(d?.type, 'directory');
      assert.equal(await s.stat('/st/missing'), null);
      assert.equal(await s.stat('/st/f/under-a-file'), null);
    });

    it('list pages through more entries than one page, sorted by name', async () => {
      // 1200 entries > dfs.ls.limit (1000). Mostly directories: an HDFS MKDIRS takes a few ms, a
      // non-empty CREATE ~400 ms (the DataNode's close waits on the NameNode's completeFile backoff).
      const names = Array.from({ length: 1200 }, (_, i) => `pcap_t_${String(i).padStart(5, '0')}`);
      const files = new Set(names.filter((_, i) => i % 60 === 7));
      await bounded(names, 16, (n) => (files.has(n) ? s.create(`/ls/${n}`, Buffer.from(n)) : s.mkdirs(`/ls/${n}`)));
      const first = await s.listPage('/ls');
      assert.ok(first.next !== undefined, 'a first page of 1200 entries has a cursor');
      assert.ok(first.entries.length < 1200);
      const all = await collectAll(s.list('/ls'));
      assert.deepEqual(
        all.map((e) => e.name),
        names,
      );
      const f = all.find((e) => e.name === names[7]) as FileStatus;
      assert.deepEqual([f.path, f.type, f.length], [`/ls/${names[7]}`, 'file', names[7].length]);
      assert.equal(all.filter((e) => e.type === 'file').length, files.size);
      assert.equal(all.find((e) => e.name === names[8])?.type, 'directory');
      await rejectsWith(s.listPage('/ls-missing'), 'FileNotFoundException');
      await rejectsWith(s.listPage(`/ls/${names[7]}`), 'PathIsNotDirectoryException');
    });

    it('delete: file, recursive directory, missing, non-empty without recursive', async () => {
      await s.create('/del/f', Buffer.from('x'));
      await s.create('/del/d/sub/g', Buffer.from('y'));
      assert.equal(await s.delete('/del/f'), true);
      assert.equal(await s.stat('/del/f'), null);
      await rejectsWith(s.delete('/del/d'), 'PathIsNotEmptyDirectoryException');
      assert.equal(await s.delete('/del/d', true), true);
      assert.equal(await s.stat('/del/d'), null);
      assert.equal(await s.delete('/del/missing'), false);
      assert.equal(await s.delete('/del/missing', true), false);
    });

    it('streams a 20 MB body from a generator and reads it back', async () => {
      const hash = createHash('sha256');
      const body = async function* () {
        for (let i = 0; i < 20; i++) {
          const chunk = Buffer.alloc(1 << 20);
          for (let j = 0; j < chunk.length; j += 4) chunk.writeUInt32LE((i * chunk.length + j) >>> 0, j);
          hash.update(chunk);
          yield chunk;
        }
      };
      await s.create('/big/f.bin', body());
      const expected = hash.digest('hex');
      assert.equal((await s.stat('/big/f.bin'))?.length, 20 << 20);
      const got = createHash('sha256');
      for await (const chunk of await s.read('/big/f.bin')) got.update(chunk as Buffer);
      assert.equal(got.digest('hex'), expected);
      const slice = await s.readBuffer('/big/f.bin', (7 << 20) + 2, 8);
      assert.deepEqual([slice.readUInt32LE(2), slice.length], [(7 << 20) + 4, 8]);
    });

    it('createWriter: a file written over time, one buffer reused between writes, durable on close', async () => {
      const w = await s.createWriter('/stream/f.bin', { replication: 1 });
      const hash = createHash('sha256');
      const chunk = Buffer.alloc(3 << 20); // the caller reuses one buffer, as the ingest does
      for (let i = 0; i < 5; i++) {
        chunk.fill(i + 1);
        chunk.writeUInt32BE(i, 12345);
        hash.update(chunk);
        await w.write(chunk);
        await new Promise((r) => setTimeout(r, 50)); // filling slowly, as a partition does
      }
      await w.write(Buffer.alloc(0));
      await w.write(Buffer.from('tail'));
      hash.update('tail');
      await w.close();
      assert.equal((await s.stat('/stream/f.bin'))?.length, 5 * (3 << 20) + 4);
      const got = createHash('sha256');
      for await (const c of await s.read('/stream/f.bin')) got.update(c as Buffer);
      assert.equal(got.digest('hex'), hash.digest('hex'));
    });

    it('createWriter: an empty file, and a path that exists (FileAlreadyExistsException, original kept)', async () => {
      const empty = await s.createWriter('/stream/empty');
      await empty.close();
      assert.equal((await s.stat('/stream/empty'))?.length, 0);
      await s.create('/stream/taken', Buffer.from('original'));
      await rejectsWith(
        (async () => {
          const w = await s.createWriter('/stream/taken');
          await w.write(Buffer.alloc(1 << 20));
          await w.close();
        })(),
        'FileAlreadyExistsException',
      );
      assert.equal(await text(s, '/stream/taken'), 'original');
      const over = await s.createWriter('/stream/taken', { overwrite: true });
      await over.write(Buffer.from('replaced'));
      await over.close();
      assert.equal(await text(s, '/stream/taken'), 'replaced');
    });

    it('appendWriter: a file continued over time; a missing file is FileNotFoundException', async () => {
      await s.create('/stream/appended', Buffer.from('first;'));
      const w = await s.appendWriter('/stream/appended');
      await w.write(Buffer.from('second;'));
      await w.write(Buffer.alloc(2 << 20, 0x61));
      await w.close();
      const got = await s.readBuffer('/stream/appended');
      assert.equal(got.length, 13 + (2 << 20));
      assert.equal(got.subarray(0, 14).toString(), 'first;second;a');
      await rejectsWith(
        (async () => {
          const missing = await s.appendWriter('/stream/missing');
          await missing.write(Buffer.from('x'));
          await missing.close();
        })(),
        'FileNotFoundException',
      );
      assert.equal(await s.stat('/stream/missing'), null);
    });

    it('createWriter: an aborted upload leaves at most a partial file; the store stays usable', async () => {
      const w = await s.createWriter('/stream/aborted');
      await w.write(Buffer.alloc(1 << 20, 9));
      await w.abort();
      await w.abort(); // idempotent
      // HDFS: the DataNode may still be creating or closing the file: never more than was sent.
      for (let i = 0; i < 5; i++) {
        assert.ok(((await s.stat('/stream/aborted'))?.length ?? 0) <= 1 << 20);
        await new Promise((r) => setTimeout(r, 200));
      }
      const next = await s.createWriter('/stream/after-abort');
      await next.write(Buffer.from('next'));
      await next.close();
      assert.equal(await text(s, '/stream/after-abort'), 'next');
    });

    it('concurrent creates of one path: exactly one succeeds', async () => {
      const writers = Array.from({ length: 8 }, (_, i) => Buffer.from(`writer-${i}-`.repeat(4096)));
      const results = await Promise.allSettled(writers.map((w) => s.create('/race/f', w)));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      assert.equal(won.length, 1, `winners: ${won}`);
      for (const r of results) {
        if (r.status === 'rejected')
          assert.ok(isStorageError(r.reason, 'FileAlreadyExistsException'), String(r.reason));
      }
      assert.ok((await s.readBuffer('/race/f')).equals(writers[won[0]]));
    });

    it('a refused create stops reading a large stream body early', async () => {
      await s.create('/early/f', Buffer.from('original'));
      let produced = 0;
      const body = async function* () {
        for (let i = 0; i < 256; i++) {
          produced += 1 << 20;
          yield Buffer.alloc(1 << 20, i);
        }
      };
      await rejectsWith(s.create('/early/f', body()), 'FileAlreadyExistsException');
      assert.ok(produced < 64 << 20, `read ${produced} bytes of a 256 MB body`);
      assert.equal(await text(s, '/early/f'), 'original');
    });

    it('names with URL-special and non-ASCII characters', async () => {
      const names = ['a b', 'p%25q', 'x+y', 'h#i', 'q?r&s=t', 'ü-日本'];
      for (const n of names) {
        await s.create(`/sp/${n}/${n}.bin`, Buffer.from(n));
        assert.equal(await text(s, `/sp/${n}/${n}.bin`), n);
        assert.equal((await s.stat(`/sp/${n}`))?.name, n);
        assert.equal(
          (await s.readBuffer(`/sp/${n}/${n}.bin`, 1, 2)).toString(),
          Buffer.from(n).subarray(1, 3).toString(),
        );
      }
      await s.rename(`/sp/${names[0]}/${names[0]}.bin`, `/sp/${names[1]}/moved ${names[4]}`);
      assert.equal(await text(s, `/sp/${names[1]}/moved ${names[4]}`), names[0]);
      assert.deepEqual(
        (await collectAll(s.list('/sp'))).map((e) => e.name),
        [names[5], ...names.slice(0, 5).sort()],
        'HDFS order: signed UTF-8 bytes',
      );
      assert.equal(await s.delete(`/sp/${names[5]}`, true), true);
    });

    it('a failing body stream surfaces its own error', async () => {
      const boom = new Error('sensor went away');
      await assert.rejects(
        s.create(
          '/bodyfail/f',
          (async function* () {
            yield Buffer.from('partial');
            throw boom;
          })(),
        ),
        (err) => err === boom,
      );
    });

    it('paths are rooted at the store base and cannot climb out of it', async () => {
      await s.create('/../../escape', Buffer.from('inside'));
      assert.equal(await text(s, '/escape'), 'inside');
      await rejectsWith(s.stat('relative/path'), 'IllegalArgumentException');
    });
  });
}

describe('WebHDFS timeouts measure the server, not the caller', () => {
  let store: Storage;
  const timeoutMs = 1000;
  before(async () => {
    const { webhdfsUrl } = ensureStack();
    store = openStorage(`${webhdfsUrl}/tmp/pcapline-test/${uniqueName('timeouts')}`, { timeoutMs });
  });
  after(async () => {
    await store.delete('/', true);
    await store.close();
  });

  it('a reader that pauses longer than the idle timeout still gets every byte', async () => {
    const data = Buffer.alloc(8 << 20, 7);
    await store.create('/slow-reader', data);
    const stream = await store.read('/slow-reader');
    let got = 0;
    for await (const chunk of stream) {
      if (got === 0) await new Promise((r) => setTimeout(r, 2.5 * timeoutMs)); // socket buffers fill, stream pauses
      got += (chunk as Buffer).length;
    }
    assert.equal(got, data.length);
  });

  it('a body produced more slowly than the idle timeout is still written', async () => {
    await store.create(
      '/slow-writer',
      (async function* () {
        yield Buffer.from('first;');
        await new Promise((r) => setTimeout(r, 2.5 * timeoutMs));
        yield Buffer.from('second');
      })(),
    );
    assert.equal(await text(store, '/slow-writer'), 'first;second');
  });

  it('a streaming create left idle longer than the idle timeout still completes', async () => {
    const w = await store.createWriter('/slow-upload');
    await w.write(Buffer.from('first;'));
    await new Promise((r) => setTimeout(r, 2.5 * timeoutMs));
    await w.write(Buffer.from('second'));
    await new Promise((r) => setTimeout(r, 2.5 * timeoutMs));
    await w.close();
    assert.equal(await text(store, '/slow-upload'), 'first;second');
  });
});

storageContract('local filesystem', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pcapline-storage-'));
  const base = join(dir, uniqueName('store'));
  return {
    store: openStorage(`file://${base}`),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

storageContract('HDFS via WebHDFS', async () => {
  const { webhdfsUrl } = ensureStack();
  const nn = `http://${new URL(webhdfsUrl).host}`;
  const jmx = (await (await fetch(`${nn}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo`)).json()) as {
    beans: { SoftwareVersion: string }[];
  };
  console.log(`HDFS NameNode ${nn}: Hadoop ${jmx.beans[0]?.SoftwareVersion}`);
  const store = openStorage(`${webhdfsUrl}/tmp/pcapline-test/${uniqueName('storage')}`);
  return {
    store,
    cleanup: async () => {
      await store.delete('/', true);
      await store.close();
    },
  };
});
