import { type Agent, type ClientRequest, request } from 'node:http';
import type { StorageError } from './errors.js';
import { connectionError, type HttpResponse } from './http.js';
import type { FileWriter } from './types.js';

/** The server answered an upload before its body was complete (a refusal, usually): the upload is over. */
export class AnsweredEarly extends Error {
  constructor(readonly response: HttpResponse) {
    super(`the server answered HTTP ${response.status} before the upload ended`);
  }
}

/**
 * One HTTP request whose body the caller writes over time (a WebHDFS CREATE that stays open while a
 * file fills), with node:http for the reasons given at httpRequest. The body goes chunked.
 * The idle timeout runs only while we wait on the server (a write being flushed, the final answer),
 * never while the caller has nothing to send.
 */
export class HttpUpload {
  private readonly req: ClientRequest;
  private readonly answer: Promise<HttpResponse>;
  private early: HttpResponse | null = null;
  private failure: Error | null = null;
  /** Writes not yet taken by the socket: the idle timer runs while there are any. */
  private pending = 0;

  constructor(
    url: string,
    private readonly options: { method: string; agent: Agent; timeoutMs: number },
  ) {
    let settle!: { resolve: (r: HttpResponse) => void; reject: (e: Error) => void };
    this.answer = new Promise<HttpResponse>((resolve, reject) => (settle = { resolve, reject }));
    this.answer.catch(() => {}); // surfaced by write() or finish()
    this.req = request(url, { method: options.method, agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => this.fail(err, settle.reject));
      res.on('end', () => {
        const response = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
        this.early = response;
        settle.resolve(response);
      });
    });
    this.req.on('error', (err) => this.fail(err, settle.reject));
    this.req.on('timeout', () =>
      this.req.destroy(Object.assign(new Error(`no answer for ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    // Headers now: the server creates the file (and refuses an existing one) before any data is ready.
    this.req.flushHeaders();
  }

  private fail(err: Error, reject: (e: Error) => void): void {
    this.failure ??= err;
    reject(err);
  }

  /**
   * Sends a chunk; resolves once the socket has taken it, so the caller may reuse the buffer.
   * Rejects with the network error, or AnsweredEarly when the server has already answered.
   */
  write(chunk: Buffer): Promise<void> {
    if (this.early) return Promise.reject(new AnsweredEarly(this.early));
    if (this.failure) return Promise.reject(this.failure);
    if (chunk.length === 0) return Promise.resolve(); // an empty chunk would end a chunked body
    if (this.pending++ === 0) this.req.setTimeout(this.options.timeoutMs);
    return new Promise<void>((resolve, reject) => {
      this.req.write(chunk, (err) => {
        if (--this.pending === 0 && !this.req.writableEnded) this.req.setTimeout(0);
        if (this.early) reject(new AnsweredEarly(this.early));
        else if (err || this.failure) reject(this.failure ?? err);
        else resolve();
      });
    });
  }

  /** Ends the body and waits for the server's answer (any status resolves). */
  finish(): Promise<HttpResponse> {
    if (!this.early && !this.failure) {
      this.req.setTimeout(this.options.timeoutMs);
      this.req.end();
    }
    return this.answer;
  }

  /** Drops the request and its connection. */
  abort(): void {
    this.req.destroy();
  }
}

/** An HttpUpload as a FileWriter: a 2xx answer to the finished body means the DataNode closed the file. */
export function uploadFileWriter(
  op: string,
  path: string,
  upload: HttpUpload,
  refused: (res: HttpResponse) => StorageError,
): FileWriter {
  const failed = (err: unknown): StorageError =>
    err instanceof AnsweredEarly ? refused(err.response) : connectionError(op, path, err);
  let over = false;
  return {
    write: async (chunk) => {
      try {
        await upload.write(chunk);
      } catch (err) {
        throw failed(err);
      }
    },
    close: async () => {
      over = true;
      let res: HttpResponse;
      try {
        res = await upload.finish();
      } catch (err) {
        throw failed(err);
      }
      if (res.status < 200 || res.status > 299) throw refused(res);
    },
    abort: async () => {
      if (over) return;
      over = true;
      upload.abort();
    },
  };
}
