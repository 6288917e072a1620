import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { describe, it } from 'node:test';
import {
  LocalStorage,
  WebHdfsStorage,
  compareNames,
  defaultStore,
  describeLocation,
  isStorageError,
  joinPath,
  normalizePath,
  openStorage,
  parseStorageUri,
  StorageUriError,
} from '../../src/storage/index.js';

describe('parseStorageUri', () => {
  it('splits a webhdfs URI into the NameNode root and a directory', () => {
    assert.deepEqual(parseStorageUri('webhdfs://127.0.0.1:9870/apps/metron/pcap/input'), {
      root: 'webhdfs://127.0.0.1:9870',
      path: '/apps/metron/pcap/input',
    });
    assert.deepEqual(parseStorageUri('webhdfs://127.0.0.1:9870'), { root: 'webhdfs://127.0.0.1:9870', path: '/' });
    assert.deepEqual(parseStorageUri('webhdfs://127.0.0.1:9870/'), { root: 'webhdfs://127.0.0.1:9870', path: '/' });
  });

  it('defaults the port to 9870, keeps ?user= on the root, normalises the path', () => {
    assert.deepEqual(parseStorageUri('webhdfs://nn.example/a/b/'), { root: 'webhdfs://nn.example:9870', path: '/a/b' });
    assert.deepEqual(parseStorageUri('webhdfs://127.0.0.1:9870/a//b/../c?user=metron'), {
      root: 'webhdfs://127.0.0.1:9870?user=metron',
      path: '/a/c',
    });
    assert.deepEqual(parseStorageUri('WEBHDFS://127.0.0.1:9870/x'), { root: 'webhdfs://127.0.0.1:9870', path: '/x' });
  });

  it('decodes percent-encoded paths', () => {
    assert.equal(parseStorageUri('webhdfs://h:1/pcap%20data/%C3%BC').path, '/pcap data/ü');
    assert.equal(parseStorageUri('file:///tmp/pcap%20data').path, '/tmp/pcap data');
  });

  it('file URIs and plain paths are local', () => {
    assert.deepEqual(parseStorageUri('file:///tmp/pcap/out'), { root: 'file:///', path: '/tmp/pcap/out' });
    assert.deepEqual(parseStorageUri('file://localhost/tmp/x/'), { root: 'file:///', path: '/tmp/x' });
    assert.deepEqual(parseStorageUri('/var/pcap'), { root: 'file:///', path: '/var/pcap' });
    assert.deepEqual(parseStorageUri('data/out', '/srv/app'), { root: 'file:///', path: '/srv/app/data/out' });
    assert.deepEqual(parseStorageUri('../out', '/srv/app'), { root: 'file:///', path: '/srv/out' });
  });

  it('rejects other schemes with a hint', () => {
    for (const uri of ['hdfs://127.0.0.1:8020/apps', 's3://bucket/x', 'http://127.0.0.1:9870/webhdfs/v1/x']) {
      assert.throws(
        () => parseStorageUri(uri),
        (err: unknown) => isStorageError(err, 'IllegalArgumentException') && err.message.includes('webhdfs://'),
      );
    }
    assert.throws(() => parseStorageUri('hdfs://nn:8020/x'), /WebHDFS: write webhdfs:\/\/<namenode>:9870/);
    assert.throws(() => parseStorageUri('file://otherhost/x'));
  });
});

describe('store paths', () => {
  it('joinPath joins and normalises POSIX paths', () => {
    assert.equal(joinPath('/apps/pcap', 'input', 'pcap_t_1_0_x'), '/apps/pcap/input/pcap_t_1_0_x');
    assert.equal(joinPath('/a/', '/b/', 'c/'), '/a/b/c');
    assert.equal(joinPath('/a', '../b'), '/b');
    assert.equal(joinPath('/', '_tmp'), '/_tmp');
  });

  it('normalizePath keeps paths inside the root and rejects relative ones', () => {
    assert.equal(normalizePath('/'), '/');
    assert.equal(normalizePath('/a/b/'), '/a/b');
    assert.equal(normalizePath('/../../etc'), '/etc');
    assert.throws(
      () => normalizePath('a/b'),
      (err: unknown) => isStorageError(err, 'IllegalArgumentException'),
    );
    assert.throws(
      () => normalizePath('/a\0b'),
      (err: unknown) => isStorageError(err, 'IllegalArgumentException'),
    );
  });

  it('normalizePath and joinPath agree with posix.normalize on paths their fast path takes or refuses', () => {
    const paths = [
      '/',
      '/a',
      '/a/b.c',
      '/a/.b',
      '/a/..b',
      '/a/b..',
      '/.x/y',
      '/a//b',
      '/a/./b',
      '/a/../b',
      '/a/.',
      '/a/..',
      '/a/b/',
      '//',
      '/./',
      '/a/\n/',
      '/_index/2024010100/pcap_t_1_0_x.idx',
      '/a/.../b',
    ];
    for (const p of paths) {
      const n = posix.normalize(p);
      assert.equal(normalizePath(p), n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n, p);
    }
    for (const [a, b] of [
      ['/', 'x'],
      ['/a', 'b'],
      ['/a', '.'],
      ['/a', '..'],
      ['/a', 'b/'],
      ['/a', './b'],
      ['/a/', 'b'],
      ['/a', ''],
    ]) {
      const n = posix.join(a, b);
      assert.equal(joinPath(a, b), n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n, `${a} + ${b}`);
    }
  });

  it('compareNames orders like HDFS: signed UTF-8 bytes', () => {
    assert.deepEqual(['b', 'ü', 'a', '_tmp', 'A', 'ab'].sort(compareNames), ['ü', 'A', '_tmp', 'a', 'ab', 'b']);
    assert.ok(compareNames('pcap_t_10', 'pcap_t_9') < 0);
    assert.equal(compareNames('x', 'x'), 0);
  });
});

describe('openStorage', () => {
  it('chooses the back end by scheme', async () => {
    const hdfs = openStorage('webhdfs://127.0.0.1:9870/apps/pcap');
    assert.ok(hdfs instanceof WebHdfsStorage);
    await hdfs.close();
    const local = openStorage('file:///tmp/pcapline-x/');
    assert.ok(local instanceof LocalStorage);
    assert.equal(local.base, '/tmp/pcapline-x');
    assert.equal(local.uri, 'file:///tmp/pcapline-x');
    const plain = openStorage('/tmp/pcapline-y');
    assert.ok(plain instanceof LocalStorage);
    assert.equal(plain.base, '/tmp/pcapline-y');
  });

  it('unknown schemes throw a clear error', () => {
    assert.throws(() => openStorage('ftp://127.0.0.1/x'), /unsupported storage URI 'ftp:\/\/127.0.0.1\/x'/);
    assert.throws(() => openStorage('hdfs://127.0.0.1:8020/x'), /webhdfs:\/\/<namenode>:9870/);
  });

  it('the HDFS user comes from ?user=, then HADOOP_USER_NAME, then pcapline', async () => {
    const saved = process.env.HADOOP_USER_NAME;
    try {
      delete process.env.HADOOP_USER_NAME;
      const users = [new WebHdfsStorage('webhdfs://127.0.0.1:9870')];
      process.env.HADOOP_USER_NAME = 'hdfs-env';
      users.push(
        new WebHdfsStorage('webhdfs://127.0.0.1:9870'),
        new WebHdfsStorage('webhdfs://127.0.0.1:9870/x?user=metron'),
      );
      assert.deepEqual(
        users.map((u) => u.user),
        ['pcapline', 'hdfs-env', 'metron'],
      );
      await Promise.all(users.map((u) => u.close()));
    } finally {
      if (saved === undefined) delete process.env.HADOOP_USER_NAME;
      else process.env.HADOOP_USER_NAME = saved;
    }
  });
});

describe('one rule for plain paths, and bad URIs as input errors (issue 10)', () => {
  it('a plain path is on the store given (PCAPLINE_STORE), else local', () => {
    assert.deepEqual(parseStorageUri('/apps/pcap', '/srv', 'file:///'), { root: 'file:///', path: '/apps/pcap' });
    assert.deepEqual(parseStorageUri('/apps/pcap', '/srv', 'webhdfs://nn:9870'), {
      root: 'webhdfs://nn:9870',
      path: '/apps/pcap',
    });
    assert.deepEqual(parseStorageUri('pcap/in', '/srv', 'webhdfs://nn:9870/base?user=bob'), {
      root: 'webhdfs://nn:9870?user=bob',
      path: '/base/pcap/in',
    });
    assert.deepEqual(parseStorageUri('pcap/in', '/srv', 'file:///'), { root: 'file:///', path: '/srv/pcap/in' });
    assert.equal(defaultStore({}), 'file:///');
    assert.equal(defaultStore({ PCAPLINE_STORE: ' ' }), 'file:///');
    assert.equal(defaultStore({ PCAPLINE_STORE: 'webhdfs://nn:9870' }), 'webhdfs://nn:9870');
    assert.throws(() => parseStorageUri('/x', '/', 'nn:9870'), /PCAPLINE_STORE='nn:9870' names no usable store/);
    assert.throws(() => parseStorageUri('/x', '/', 'data/pcap'), /PCAPLINE_STORE='data\/pcap' is not a storage URI/);
  });

  it('names the resolved store the way summaries print it', () => {
    assert.equal(describeLocation(parseStorageUri('/data/pcap', '/', 'file:///')), 'local:/data/pcap');
    assert.equal(
      describeLocation(parseStorageUri('webhdfs://nn/apps/pcap?user=alice')),
      'webhdfs://nn:9870/apps/pcap?user=alice',
    );
  });

  it('keeps ?user= for the store, which opens as that user', async () => {
    const loc = parseStorageUri('webhdfs://127.0.0.1:9870/apps?user=alice');
    const store = openStorage(loc.root);
    assert.equal((store as WebHdfsStorage).user, 'alice');
    await store.close();
  });

  it('malformed percent-encoding, hdfs:// and swebhdfs:// are StorageUriErrors with exit status 2', () => {
    for (const [uri, re] of [
      ['file:///tmp/%zz', /% is not followed by two hex digits/],
      ['webhdfs://nn/%E0%A4%A', /% is not followed by two hex digits/],
      ['webhdfs://[::1/x', /not a valid URL/],
      ['hdfs://nn:8020/x', /write webhdfs:\/\/<namenode>:9870\/path/],
      ['swebhdfs://nn:9871/x', /swebhdfs:\/\/ \(WebHDFS over TLS\) is not supported/],
      ['', /it is empty/],
    ] as const) {
      assert.throws(
        () => parseStorageUri(uri),
        (err: unknown) => err instanceof StorageUriError && err.exitCode === 2 && re.test(err.message),
        uri,
      );
    }
    assert.throws(
      () => openStorage('swebhdfs://nn:9871'),
      (err: unknown) => err instanceof StorageUriError,
    );
  });
});
