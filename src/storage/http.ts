import { request, type Agent, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { StorageError } from './errors.js';
import type { WriteBody } from './types.js';
import { chunksOf } from './util.js';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpOptions {
  method: string;
  agent: Agent;
  /** Socket idle timeout: a stalled peer fails the request, a long but moving upload does not. */
  timeoutMs: number;
  body?: WriteBody;
}

/** Network failure codes after which the same request can succeed later. */
const RETRIABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/** Remote exceptions that mean "not now": safe mode, leases still held or recovering, a standby NameNode. */
const RETRIABLE_EXCEPTIONS = new Set([
  'SafeModeException',
  'RetriableException',
  'StandbyException',
  'ObserverRetryOnActiveException',
  'AlreadyBeingCreatedException',
  'RecoveryInProgressException',
  'LeaseExpiredException',
  'NotReplicatedYetException',
  'ConnectException',
  'NoRouteToHostException',
  'SocketTimeoutException',
  'SocketException',
  'EOFException',
]);

/**
 * WebHDFS maps every IOException to 403, and "no DataNode can take this block" arrives as a plain
 * IOException; only the message tells it apart from a permanent error.
 */
const TRANSIENT_IO_MESSAGE =
  /could only be (written|replicated) to 0|failed to find datanode|all datanodes .* are bad|failed to replace a bad datanode|no datanode|there are 0 datanode/i;

export function isRetriableRemote(exception: string, status: number, message: string): boolean {
  return (
    RETRIABLE_EXCEPTIONS.has(exception) ||
    status >= 500 ||
    (exception === 'IOException' && TRANSIENT_IO_MESSAGE.test(message))
  );
}

/** A non-2xx WebHDFS answer as a StorageError carrying RemoteException.exception. */
export function remoteError(op: string, path: string, status: number, body: Buffer | string): StorageError {
  let exception = 'IOException';
  let message = `HTTP ${status}`;
  try {
    const remote = JSON.parse(body.toString()).RemoteException;
    if (typeof remote?.exception === 'string') {
      exception = remote.exception;
      // Keep the first line: DataNode errors carry the whole Java stack trace in `message`.
      message = String(remote.message ?? '').split('\n')[0];
    }
  } catch {
    if (status === 404)
      message = 'HTTP 404 without a RemoteException: is this a WebHDFS endpoint (dfs.webhdfs.enabled)?';
  }
  return new StorageError(
    `${op} ${path}: ${exception}: ${message}`,
    exception,
    path,
    status,
    isRetriableRemote(exception, status, message),
  );
}

/** A request that got no HTTP answer at all. */
export function connectionError(op: string, path: string, err: unknown): StorageError {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const exception =
    code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
      ? 'ConnectException'
      : code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT'
        ? 'SocketTimeoutException'
        : 'IOException';
  const message = (err as Error)?.message ?? String(err);
  return new StorageError(
    `${op} ${path}: ${exception}: ${message}`,
    exception,
    path,
    undefined,
    RETRIABLE_CODES.has(code),
    { cause: err },
  );
}

/**
 * One HTTP exchange with node:http, not fetch: the DataNode sends an unsolicited `100 Continue`
 * before its final answer to a write, which undici rejects as a bad response.
 * A stream body is written chunk by chunk with backpressure, never buffered. When the server answers
 * before the body is finished (a DataNode refusing a CREATE reads a few MB, answers 403, then
 * closes), that answer wins, the caller's body is released and later socket errors are ignored.
 * Rejects only on network failures and on a failing body (BodyFailure); any status resolves.
 */
export function httpRequest(url: string, options: HttpOptions): Promise<HttpResponse> {
  const { body, timeoutMs } = options;
  const whole = body === undefined || Buffer.isBuffer(body);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const req = request(
      url,
      {
        method: options.method,
        agent: options.agent,
        headers: whole ? { 'content-length': body?.length ?? 0 } : {}, // streams go chunked
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(Object.assign(new Error(`no answer for ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', fail);
    if (whole) req.end(body);
    else pump(req, chunksOf(body), timeoutMs, () => settled).catch((err: Error) => req.destroy(err));
  });
}

/**
 * Writes a stream body. The idle timeout is for a stalled server: it is off while waiting on the
 * caller's generator, so a body produced slowly (packets as they arrive) does not time out.
 */
async function pump(
  req: ClientRequest,
  chunks: AsyncGenerator<Buffer>,
  timeoutMs: number,
  settled: () => boolean,
): Promise<void> {
  try {
    for (;;) {
      req.setTimeout(0);
      const next = await chunks.next();
      if (settled() || req.destroyed) return;
      req.setTimeout(timeoutMs);
      if (next.done) break;
      if (!req.write(next.value)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            req.off('drain', done).off('close', done);
            resolve();
          };
          req.on('drain', done).on('close', done);
        });
      }
    }
    req.end();
  } finally {
    await chunks.return(undefined); // stops the caller's stream when the server answered early
  }
}
