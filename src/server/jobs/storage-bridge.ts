/**
 * A store opened in the server thread, used from a job worker over a MessagePort.
 *
 * Workers normally open the store themselves from its URI. A server built with its own
 * `openStorage` (an embedding application's store, or the tests' store that holds reads) has a
 * Storage object that cannot be sent to a thread, so the worker gets this bridge instead: the
 * reading side of the interface (stat, listings, whole and streamed reads) plus the calls whose
 * arguments are plain data. Streamed reads are pulled chunk by chunk, so a slow reader never has
 * more than one chunk in flight. Writes with a stream body and open-ended writers are refused:
 * jobs only read.
 */
import { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { StorageError } from '../../storage/errors.js';
import type { FileStatus, FileWriter, ListPage, Storage, WriteBody } from '../../storage/types.js';

type Call =
  | { id: number; op: 'call'; method: PlainMethod; args: unknown[] }
  | { id: number; op: 'read'; args: [string, number?, number?] }
  | { id: number; op: 'pull'; stream: number }
  | { id: number; op: 'destroy'; stream: number };

/** A call before it is numbered. */
type Request = Call extends infer C ? (C extends Call ? Omit<C, 'id'> : never) : never;

type Reply = { id: number; value?: unknown; error?: SerializedError };

interface SerializedError {
  message: string;
  exception?: string;
  path?: string;
  status?: number;
  retriable?: boolean;
}

/** Methods whose arguments and results are plain data (Buffers arrive as Uint8Arrays). */
const PLAIN = ['mkdirs', 'create', 'append', 'readBuffer', 'rename', 'listPage', 'stat', 'delete'] as const;
type PlainMethod = (typeof PLAIN)[number];

const toBuffer = (v: unknown): Buffer =>
  Buffer.isBuffer(v)
    ? v
    : Buffer.from((v as Uint8Array).buffer, (v as Uint8Array).byteOffset, (v as Uint8Array).byteLength);

/** Server side: answers one worker's calls on `port` against `storage` until the port closes. */
export function serveStorage(port: MessagePort, storage: Storage): void {
  const streams = new Map<number, AsyncIterator<Buffer>>();
  let nextStream = 1;
  let closed = false;
  const send = (reply: Reply) => {
    try {
      port.postMessage(reply);
    } catch {
      /* the worker is gone */
    }
  };
  const serialize = (err: unknown): SerializedError =>
    err instanceof StorageError
      ? {
          message: err.message,
          exception: err.exception,
          path: err.path,
          status: err.status,
          retriable: err.retriable,
        }
      : { message: (err as Error)?.message ?? String(err) };
  port.on('message', (m: Call) => {
    void (async () => {
      try {
        switch (m.op) {
          case 'call': {
            if (!(PLAIN as readonly string[]).includes(m.method)) throw new Error(`not a storage call: ${m.method}`);
            const fn = storage[m.method] as (...a: unknown[]) => Promise<unknown>;
            return send({ id: m.id, value: await fn.apply(storage, m.args) });
          }
          case 'read': {
            const stream = await storage.read(...m.args);
            // The worker may have been terminated while the store was opening the file.
            if (closed) return void stream.destroy();
            const id = nextStream++;
            streams.set(id, stream[Symbol.asyncIterator]());
            return send({ id: m.id, value: id });
          }
          case 'pull': {
            const it = streams.get(m.stream);
            const next = it ? await it.next() : { done: true as const, value: undefined };
            if (next.done) streams.delete(m.stream);
            return send({ id: m.id, value: next.done ? null : next.value });
          }
          case 'destroy': {
            const it = streams.get(m.stream);
            streams.delete(m.stream);
            await it?.return?.();
            return send({ id: m.id });
          }
        }
      } catch (err) {
        if (m.op === 'pull') streams.delete(m.stream);
        send({ id: m.id, error: serialize(err) });
      }
    })();
  });
  port.on('close', () => {
    closed = true;
    for (const it of streams.values()) void it.return?.();
    streams.clear();
  });
}

/** Worker side: a Storage whose calls go to the server thread. */
export class BridgedStorage implements Storage {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();

  constructor(
    private readonly port: MessagePort,
    readonly uri = 'bridge:',
  ) {
    port.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.error) p.reject(this.revive(r.error));
      else p.resolve(r.value);
    });
  }

  private send<T>(m: Request): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ ...m, id });
    });
  }

  private call<T>(method: PlainMethod, ...args: unknown[]): Promise<T> {
    return this.send<T>({ op: 'call', method, args });
  }

  private revive(e: SerializedError): Error {
    if (e.exception === undefined) return new Error(e.message);
    return new StorageError(e.message, e.exception, e.path ?? '', e.status, e.retriable ?? false);
  }

  mkdirs(path: string): Promise<void> {
    return this.call('mkdirs', path);
  }

  async create(path: string, body: WriteBody, options?: Parameters<Storage['create']>[2]): Promise<void> {
    if (!Buffer.isBuffer(body)) throw unsupported('create with a streamed body', path);
    return this.call('create', path, body, options);
  }

  createWriter(path: string): Promise<FileWriter> {
    return Promise.reject(unsupported('createWriter', path));
  }

  appendWriter(path: string): Promise<FileWriter> {
    return Promise.reject(unsupported('appendWriter', path));
  }

  async append(path: string, body: WriteBody): Promise<void> {
    if (!Buffer.isBuffer(body)) throw unsupported('append with a streamed body', path);
    return this.call('append', path, body);
  }

  async read(path: string, offset?: number, length?: number): Promise<Readable> {
    const stream = await this.send<number>({ op: 'read', args: [path, offset, length] });
    const pull = () => this.send<Uint8Array | null>({ op: 'pull', stream });
    return new Readable({
      read() {
        pull().then(
          (chunk) => this.push(chunk === null ? null : toBuffer(chunk)),
          (err: Error) => this.destroy(err),
        );
      },
      destroy: (err, callback) => {
        this.send({ op: 'destroy', stream }).then(
          () => callback(err),
          () => callback(err),
        );
      },
    });
  }

  async readBuffer(path: string, offset?: number, length?: number): Promise<Buffer> {
    return toBuffer(await this.call<Uint8Array>('readBuffer', path, offset, length));
  }

  rename(from: string, to: string): Promise<void> {
    return this.call('rename', from, to);
  }

  listPage(dir: string, cursor?: string): Promise<ListPage> {
    return this.call('listPage', dir, cursor);
  }

  async *list(dir: string): AsyncIterable<FileStatus> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage(dir, cursor);
      yield* page.entries;
      cursor = page.next;
    } while (cursor !== undefined);
  }

  stat(path: string): Promise<FileStatus | null> {
    return this.call('stat', path);
  }

  delete(path: string, recursive?: boolean): Promise<boolean> {
    return this.call('delete', path, recursive);
  }

  /** The store belongs to the server thread, which closes it. */
  async close(): Promise<void> {}
}

const unsupported = (what: string, path: string) =>
  new StorageError(`${what} is not available to a job worker`, 'UnsupportedOperationException', path);
