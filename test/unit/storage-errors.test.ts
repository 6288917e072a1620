import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectionError, isRetriableRemote, remoteError } from '../../src/storage/http.js';
import { WebHdfsStorage, isStorageError } from '../../src/storage/index.js';

// Bodies recorded from the real NameNode/DataNode (Hadoop 3.4.2) of the local stack.
const recorded = {
  exists:
    '{"RemoteException":{"exception":"FileAlreadyExistsException","javaClassName":"org.apache.hadoop.fs.FileAlreadyExistsException","message":"/tmp/p/a for client 127.0.0.1 already exists\\n\\tat org.apache.hadoop.hdfs.server.namenode.FSDirWriteFileOp.startFile(FSDirWriteFileOp.java:388)\\n"}}',
  missing:
    '{"RemoteException":{"exception":"FileNotFoundException","javaClassName":"java.io.FileNotFoundException","message":"File /tmp/p/zz not found."}}',
  notEmpty:
    '{"RemoteException":{"exception":"PathIsNotEmptyDirectoryException","javaClassName":"org.apache.hadoop.fs.PathIsNotEmptyDirectoryException","message":"`/tmp/p is non empty\': Directory is not empty"}}',
  beingCreated:
    '{"RemoteException":{"exception":"AlreadyBeingCreatedException","javaClassName":"org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException","message":"Failed to CREATE_FILE /tmp/p/race for DFSClient_NONMAPREDUCE_1 on 127.0.0.1 because this file lease is currently owned by DFSClient_NONMAPREDUCE_2"}}',
};

describe('WebHDFS error mapping', () => {
  it('keeps RemoteException.exception and the first line of the message', () => {
    const err = remoteError('create', '/a', 403, Buffer.from(recorded.exists));
    assert.deepEqual(
      [err.exception, err.status, err.retriable, err.path],
      ['FileAlreadyExistsException', 403, false, '/a'],
    );
    assert.equal(err.message, 'create /a: FileAlreadyExistsException: /tmp/p/a for client 127.0.0.1 already exists');
    assert.equal(remoteError('read', '/zz', 404, recorded.missing).exception, 'FileNotFoundException');
    assert.equal(remoteError('delete', '/', 403, recorded.notEmpty).exception, 'PathIsNotEmptyDirectoryException');
  });

  it('branches on the exception name, not the status: leases, safe mode, DataNodes down are retriable', () => {
    assert.equal(remoteError('create', '/r', 403, recorded.beingCreated).retriable, true);
    for (const ex of ['SafeModeException', 'RetriableException', 'RecoveryInProgressException', 'StandbyException']) {
      assert.equal(isRetriableRemote(ex, 403, 'x'), true, ex);
    }
    assert.equal(
      isRetriableRemote(
        'IOException',
        403,
        'File /x could only be written to 0 of the 1 minReplication nodes. There are 0 datanode(s) running',
      ),
      true,
    );
    assert.equal(
      isRetriableRemote('IOException', 403, 'Failed to find datanode, suggest to check cluster health.'),
      true,
    );
    assert.equal(isRetriableRemote('IOException', 403, 'Offset=100 out of the range [0, 11)'), false);
    assert.equal(isRetriableRemote('AccessControlException', 403, 'Permission denied'), false);
    assert.equal(isRetriableRemote('IOException', 503, ''), true);
  });

  it('a non-JSON error body still becomes a StorageError', () => {
    const err = remoteError('stat', '/x', 404, '<html>Not Found</html>');
    assert.equal(err.exception, 'IOException');
    assert.match(err.message, /dfs\.webhdfs\.enabled/);
    assert.equal(remoteError('stat', '/x', 502, 'Bad Gateway').retriable, true);
  });

  it('connection failures are retriable with Java-like names', () => {
    const refused = connectionError(
      'stat',
      '/x',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    );
    assert.deepEqual([refused.exception, refused.retriable, refused.status], ['ConnectException', true, undefined]);
    const reset = connectionError('read', '/x', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    assert.deepEqual([reset.exception, reset.retriable], ['IOException', true]);
    const dns = connectionError(
      'read',
      '/x',
      Object.assign(new Error('getaddrinfo ENOTFOUND dn1'), { code: 'ENOTFOUND' }),
    );
    assert.equal(dns.retriable, false);
  });
});

describe('WebHDFS connection faults (real sockets on 127.0.0.1)', () => {
  let silent: Server;
  let port = 0;
  const sockets: Socket[] = [];
  before(async () => {
    // Accepts connections and never answers: a hung NameNode.
    silent = createServer((socket) => sockets.push(socket.on('error', () => {})));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('a silent server times out as a retriable SocketTimeoutException, on both request paths', async () => {
    const store = new WebHdfsStorage(`webhdfs://127.0.0.1:${port}`, { timeoutMs: 300 });
    try {
      for (const call of [
        () => store.stat('/a'),
        () => store.delete('/a'),
        () => store.read('/a'),
        () => store.create('/a', Buffer.from('x'), { overwrite: true }),
      ]) {
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(isStorageError(err, 'SocketTimeoutException'), String(err));
          assert.equal(err.retriable, true, err.message);
          return true;
        });
      }
    } finally {
      await store.close();
    }
  });

  it('a refused connection is a retriable ConnectException', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const store = new WebHdfsStorage(`webhdfs://127.0.0.1:${deadPort}`);
    try {
      for (const call of [
        () => store.stat('/a'),
        () => store.mkdirs('/a'),
        () => store.listPage('/'),
        () => store.rename('/a', '/b'),
      ]) {
        await assert.rejects(call(), (err: unknown) => isStorageError(err, 'ConnectException') && err.retriable);
      }
    } finally {
      await store.close();
    }
  });
});
