import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RollingUpload } from '../../src/sink/rolling-upload.js';
import { StorageError } from '../../src/storage/errors.js';
import type { FileWriter, Storage } from '../../src/storage/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A scripted store: records every upload operation and the bytes each file would hold once closed. */
class FakeStore {
  readonly ops: string[] = [];
  readonly durable = new Map<string, string>();
  /** Delay before createWriter answers (a slow NameNode). */
  createDelayMs = 0;
  /** Make the n-th write (1-based, over all uploads) fail. */
  failWrite = 0;
  private writes = 0;

  asStorage(): Storage {
    return {
      createWriter: async (path: string) => {
        this.ops.push(`create ${path}`);
        await sleep(this.createDelayMs);
        return this.writer(path, '');
      },
      appendWriter: async (path: string) => {
        this.ops.push(`append ${path}`);
        return this.writer(path, this.durable.get(path) ?? '');
      },
    } as unknown as Storage;
  }

  private writer(path: string, before: string): FileWriter {
    let pending = before;
    let open = true;
    return {
      write: async (chunk) => {
        if (++this.writes === this.failWrite)
          throw new StorageError('write: IOException: pipeline broke', 'IOException', path);
        assert.ok(open, 'write after close');
        this.ops.push(`write ${chunk.toString()}`);
        pending += chunk.toString();
      },
      close: async () => {
        open = false;
        this.ops.push('close');
        this.durable.set(path, pending);
      },
      abort: async () => {
        open = false;
        this.ops.push('abort');
      },
    };
  }
}

describe('RollingUpload: the in-progress file as streaming uploads', () => {
  it('one create for the whole file when it completes within the age limit', async () => {
    const fake = new FakeStore();
    const up = new RollingUpload(fake.asStorage(), '/f', {}, 60_000);
    await up.write(Buffer.from('a'));
    await up.write(Buffer.from('b'));
    await up.complete();
    assert.deepEqual(fake.ops, ['create /f', 'write a', 'write b', 'close']);
    assert.equal(fake.durable.get('/f'), 'ab');
  });

  it('an upload older than the limit is closed in the background and continued by an append', async () => {
    const fake = new FakeStore();
    const up = new RollingUpload(fake.asStorage(), '/f', {}, 20);
    await up.write(Buffer.from('a'));
    await sleep(80); // idle past the limit: the lease must not be held
    assert.deepEqual(fake.ops, ['create /f', 'write a', 'close']);
    await up.write(Buffer.from('b'));
    await up.write(Buffer.from('c'));
    await up.complete();
    assert.equal(fake.durable.get('/f'), 'abc');
    assert.deepEqual(fake.ops.slice(3), ['append /f', 'write b', 'write c', 'close']);
  });

  it('operations run in call order even when the create is slow', async () => {
    const fake = new FakeStore();
    fake.createDelayMs = 30;
    const up = new RollingUpload(fake.asStorage(), '/f', {}, 60_000);
    await Promise.all([up.write(Buffer.from('1')), up.write(Buffer.from('2')), up.complete()]);
    assert.deepEqual(fake.ops, ['create /f', 'write 1', 'write 2', 'close']);
  });

  it('a failure is sticky: every later write and the completion fail', async () => {
    const fake = new FakeStore();
    fake.failWrite = 2;
    const up = new RollingUpload(fake.asStorage(), '/f', {}, 60_000);
    await up.write(Buffer.from('a'));
    await assert.rejects(up.write(Buffer.from('b')), /pipeline broke/);
    await assert.rejects(up.write(Buffer.from('c')), /pipeline broke/);
    await assert.rejects(up.complete(), /pipeline broke/);
    assert.equal(fake.durable.get('/f'), undefined, 'never closed: nothing durable');
  });

  it('abort before anything was sent creates nothing', async () => {
    const fake = new FakeStore();
    const up = new RollingUpload(fake.asStorage(), '/f', {}, 60_000);
    await up.abort();
    assert.deepEqual(fake.ops, []);
  });

  it('abort while the create is under way: the upload it opens is dropped, and abort waits for it', async () => {
    const fake = new FakeStore();
    fake.createDelayMs = 30;
    const up = new RollingUpload(fake.asStorage(), '/f', {}, 60_000);
    await sleep(5); // the create has been sent and not answered
    const write = up.write(Buffer.from('a'));
    await up.abort();
    assert.deepEqual(fake.ops, ['create /f', 'abort']);
    await assert.rejects(write, /aborted/);
    await assert.rejects(up.complete(), /aborted/);
  });
});
