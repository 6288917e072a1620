import { Agent } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type webhdfs from 'webhdfs';
import { StorageError, isStorageError } from './errors.js';
import { connectionError, httpRequest, remoteError, type HttpResponse } from './http.js';
import { HttpUpload, uploadFileWriter } from './http-upload.js';
import { baseName, compareNames, joinPath, normalizePath } from './paths.js';
import type { CreateOptions, FileStatus, FileWriter, ListPage, Storage, WriteBody } from './types.js';
import { DEFAULT_WEBHDFS_PORT, urlPath } from './uri.js';
import { checkRange, collect, emptyStream, listAll, unwrapBodyFailure } from './util.js';

export interface WebHdfsOptions {
  /** HDFS user (`user.name`); default: `?user=` in the URI, then HADOOP_USER_NAME, then `pcapline`. */
  user?: string;
  /** Socket idle timeout per request, ms (default 60 000). */
  timeoutMs?: number;
}

/** Percent-encodes each segment: the webhdfs package puts paths into URLs raw ('%', '?', '#', UTF-8 break). */
const encodePath = (path: string): string => path.split('/').map(encodeURIComponent).join('/');

// biome-ignore lint/suspicious/noExplicitAny: WebHDFS JSON bodies, read field by field by each caller
const parseJson = (body: Buffer): any => (body.length ? JSON.parse(body.toString()) : null);

/**
 * rename2's refusal when the target exists but is not of the source's kind, a directory onto a file
 * or the reverse ("Source … and destination … must both be directories", HDFS
 * FSDirRenameOp.validateOverwrite): checked before the "exists" rule, so it comes as an IOException.
 */
const RENAME_KIND_MISMATCH = /must both be directories/;

/** A connection reset before any answer: the usual cause is a kept-alive socket the server just closed. */
const staleSocket = (err: unknown): boolean =>
  isStorageError(err) &&
  err.status === undefined &&
  ['ECONNRESET', 'EPIPE'].includes((err.cause as NodeJS.ErrnoException)?.code ?? '');

/** Runs an idempotent request, once more if the first died on a stale kept-alive socket. */
async function idempotent<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!staleSocket(err)) throw err;
    return run();
  }
}

/**
 * HDFS through WebHDFS: `webhdfs://host:port[/base][?user=name]`. The `webhdfs` package serves
 * ranged OPEN, which it gets right; everything it gets wrong (CREATE
 * defaults to overwrite, RENAME/DELETE ignore `{"boolean":false}`, no paging, no exception class,
 * 5xx counted as success) goes through node:http here, with every answer checked.
 */
export class WebHdfsStorage implements Storage {
  readonly uri: string;
  readonly user: string;
  /** HDFS directory every store path lives under ('' for the root). */
  private readonly base: string;
  private readonly rest: string;
  private readonly timeoutMs: number;
  private readonly agent = new Agent({ keepAlive: true });
  /** The webhdfs package, loaded on first use: it pulls in `request` (~0.5 s), which a local store never needs. */
  private client: Promise<webhdfs.Client> | null = null;
  private readonly host: string;
  private readonly port: number;
  private batchListing = true;
  /** MKDIRS is NameNode-only; a CREATE, even of an empty file, also costs a DataNode write. */
  readonly cheapDirectories = true;

  constructor(uri: string, options: WebHdfsOptions = {}) {
    const u = new URL(uri);
    if (u.protocol !== 'webhdfs:' || !u.hostname) {
      throw new StorageError(`not a webhdfs://host:port URI: '${uri}'`, 'IllegalArgumentException', uri);
    }
    const port = Number(u.port || DEFAULT_WEBHDFS_PORT);
    this.uri = uri;
    this.user = options.user ?? u.searchParams.get('user') ?? process.env.HADOOP_USER_NAME ?? 'pcapline';
    const base = urlPath(uri, u);
    this.base = base === '/' ? '' : base;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.rest = `http://${u.hostname}:${port}/webhdfs/v1`;
    this.host = u.hostname;
    this.port = port;
  }

  private lazyClient(): Promise<webhdfs.Client> {
    this.client ??= import('webhdfs').then(({ default: lib }) =>
      lib.createClient(
        { host: this.host, port: this.port, path: '/webhdfs/v1', user: this.user },
        { agent: this.agent, timeout: this.timeoutMs },
      ),
    );
    return this.client;
  }

  private full(path: string): string {
    const p = normalizePath(path);
    return this.base + (this.base && p === '/' ? '' : p);
  }

  private url(path: string, op: string, params: Record<string, string | number | boolean | undefined> = {}): string {
    const q = new URLSearchParams({ op, 'user.name': this.user });
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
    return `${this.rest}${encodePath(this.full(path))}?${q}`;
  }

  private async http(op: string, path: string, method: string, url: string, body?: WriteBody): Promise<HttpResponse> {
    try {
      return await httpRequest(url, { method, agent: this.agent, timeoutMs: this.timeoutMs, body });
    } catch (err) {
      return unwrapBodyFailure(err, (e) => connectionError(op, path, e));
    }
  }

  /** A NameNode call that must answer 2xx; returns its JSON (null for an empty body). */
  // biome-ignore lint/suspicious/noExplicitAny: the parsed JSON body (see parseJson)
  private async nn(op: string, path: string, method: string, url: string): Promise<any> {
    const res = await this.http(op, path, method, url);
    if (res.status < 200 || res.status > 299) throw remoteError(op, path, res.status, res.body);
    return parseJson(res.body);
  }

  // MKDIRS and GETFILESTATUS go through node:http like the other NameNode calls: the webhdfs
  // package (through `request`) cost ~0.2 s of start-up before the first mkdirs, and more CPU per
  // call than our own request on the seal path (a stat per seal).
  async mkdirs(path: string): Promise<void> {
    const json = await idempotent(() => this.nn('mkdirs', path, 'PUT', this.url(path, 'MKDIRS')));
    if (json?.boolean === false)
      throw new StorageError(`mkdirs ${path}: IOException: MKDIRS returned false`, 'IOException', path);
  }

  async stat(path: string): Promise<FileStatus | null> {
    try {
      const json = await idempotent(() => this.nn('stat', path, 'GET', this.url(path, 'GETFILESTATUS')));
      const status = json?.FileStatus as webhdfs.HdfsFileStatus | undefined;
      if (!status)
        throw new StorageError(
          `stat ${path}: IOException: GETFILESTATUS answered without a FileStatus`,
          'IOException',
          path,
        );
      return toStatus(normalizePath(path), status);
    } catch (err) {
      if (isStorageError(err, 'FileNotFoundException')) return null;
      // A path below a file: the NameNode's traverse check answers AccessControlException
      // "<parent> (is not a directory)" rather than FileNotFoundException.
      if (isStorageError(err, 'AccessControlException') && err.message.endsWith('(is not a directory)')) return null;
      throw err;
    }
  }

  /** NameNode step of CREATE/APPEND: it answers 307 with the DataNode URL, which is used exactly as given. */
  private async redirect(op: string, path: string, method: string, url: string): Promise<string> {
    const res = await idempotent(() => this.http(op, path, method, url)); // no side effect on the NameNode
    const location = res.headers.location;
    if (res.status === 307 && location) return location;
    if (res.status >= 300 && res.status !== 307) throw remoteError(op, path, res.status, res.body);
    throw new StorageError(
      `${op} ${path}: IOException: expected a 307 redirect to a DataNode, got HTTP ${res.status}`,
      'IOException',
      path,
      res.status,
      res.status >= 500,
    );
  }

  async create(path: string, body: WriteBody, options: CreateOptions = {}): Promise<void> {
    const { dn, overwrite } = await this.createAt(path, options);
    const res = await this.http('create', path, 'PUT', dn, body);
    if (res.status < 200 || res.status > 299) throw this.createRefused(path, res, overwrite);
    // 201: the DataNode closed the file
  }

  /**
   * One CREATE whose body stays open while the caller writes (HttpUpload), so a file filled over
   * minutes costs one block close, at `close()`, instead of one per append.
   */
  async createWriter(path: string, options: CreateOptions = {}): Promise<FileWriter> {
    const { dn, overwrite } = await this.createAt(path, options);
    const upload = new HttpUpload(dn, { method: 'PUT', agent: this.agent, timeoutMs: this.timeoutMs });
    return uploadFileWriter('create', path, upload, (res) => this.createRefused(path, res, overwrite));
  }

  async appendWriter(path: string): Promise<FileWriter> {
    const dn = await this.redirect('append', path, 'POST', this.url(path, 'APPEND'));
    const upload = new HttpUpload(dn, { method: 'POST', agent: this.agent, timeoutMs: this.timeoutMs });
    return uploadFileWriter('append', path, upload, (res) => remoteError('append', path, res.status, res.body));
  }

  /** The checks and NameNode step of CREATE: the DataNode URL to send the data to. */
  private async createAt(path: string, options: CreateOptions): Promise<{ dn: string; overwrite: boolean }> {
    const overwrite = options.overwrite === true; // the webhdfs package would send overwrite=true
    const replication = options.replication && options.replication > 0 ? options.replication : undefined;
    // The exclusive check happens on the DataNode, which answers 403 and closes the socket after
    // reading a few MB of the body; the RST that follows can beat the 403 to us (EPIPE, verified).
    // A GETFILESTATUS first (~2 ms, against ~400 ms for a CREATE) makes the common case exact;
    // the DataNode's check still settles real races.
    if (!overwrite && (await this.stat(path))) {
      throw new StorageError(
        `create ${path}: FileAlreadyExistsException: ${path} already exists`,
        'FileAlreadyExistsException',
        path,
      );
    }
    const dn = await this.redirect('create', path, 'PUT', this.url(path, 'CREATE', { overwrite, replication }));
    return { dn, overwrite };
  }

  /** The DataNode's refusal of a CREATE as a StorageError. */
  private createRefused(path: string, res: HttpResponse, overwrite: boolean): StorageError {
    const err = remoteError('create', path, res.status, res.body);
    // Losers of a create race see AlreadyBeingCreatedException while the winner is still writing.
    // Without overwrite the path is taken either way; retrying cannot help.
    if (!overwrite && err.exception === 'AlreadyBeingCreatedException') {
      return new StorageError(
        err.message.replace(
          ': AlreadyBeingCreatedException:',
          ': FileAlreadyExistsException (AlreadyBeingCreatedException):',
        ),
        'FileAlreadyExistsException',
        path,
        err.status,
        false,
        { cause: err },
      );
    }
    return err;
  }

  async append(path: string, body: WriteBody): Promise<void> {
    const dn = await this.redirect('append', path, 'POST', this.url(path, 'APPEND'));
    const res = await this.http('append', path, 'POST', dn, body);
    if (res.status < 200 || res.status > 299) throw remoteError('append', path, res.status, res.body);
  }

  async read(path: string, offset?: number, length?: number): Promise<Readable> {
    const range = checkRange(path, offset, length);
    const query: Record<string, number> = {};
    if (range.offset > 0) query.offset = range.offset;
    if (range.length !== undefined) query.length = range.length;
    try {
      return await idempotent(() => this.open(path, query));
    } catch (err) {
      // HDFS refuses offset >= file length (403 IOException "Offset=.. out of the range"); POSIX
      // pread returns nothing. Confirm with a stat, paid only on this rare path.
      if (isStorageError(err, 'IOException') && err.status === 403 && range.offset > 0) {
        const st = await this.stat(path);
        if (st?.type === 'file' && range.offset >= st.length) return emptyStream();
      }
      throw err;
    }
  }

  /** OPEN through the package (it follows the 307 itself), re-streamed with backpressure and a length check. */
  private async open(path: string, query: Record<string, number>): Promise<Readable> {
    const client = await this.lazyClient();
    return new Promise((resolve, reject) => {
      const req = client.createReadStream(encodePath(this.full(path)), query);
      let status = 0;
      let out: PassThrough | undefined;
      req.on('error', (err) => {
        if (status === 0) reject(connectionError('read', path, err));
        else if (out) out.destroy(connectionError('read', path, err));
        // else: the package's own parse of an error body; ours is built on 'end'
      });
      req.on('response', (res) => {
        status = res.statusCode ?? 0;
        // Listeners are added here: on error statuses the package drops all 'data' listeners first.
        if (status !== 200) {
          const chunks: Buffer[] = [];
          req.on('data', (c) => chunks.push(c));
          req.on('end', () => reject(remoteError('read', path, status, Buffer.concat(chunks))));
          return;
        }
        const expected = Number(res.headers['content-length'] ?? NaN);
        const stream = new PassThrough();
        out = stream;
        let received = 0;
        let ended = false;
        // `request` fails a socket idle for `timeout` ms, and a paused download is idle: stop the
        // timer while the reader holds back (a time-ordered merge can leave one file paused a long time).
        const idleTimer = (ms: number) => req.req?.setTimeout(ms);
        req.on('data', (c) => {
          received += c.length;
          if (!stream.write(c)) {
            req.pause();
            idleTimer(0);
          }
        });
        stream.on('drain', () => {
          idleTimer(this.timeoutMs);
          req.resume();
        });
        // `request` turns a dropped connection into a normal 'end': compare with Content-Length.
        req.on('end', () => {
          ended = true;
          if (Number.isFinite(expected) && received !== expected) {
            stream.destroy(
              new StorageError(
                `read ${path}: IOException: connection closed after ${received} of ${expected} bytes`,
                'IOException',
                path,
                status,
                true,
              ),
            );
          } else stream.end();
        });
        stream.on('close', () => {
          if (!ended) req.abort(); // the reader gave up early: free the socket
        });
        resolve(stream);
      });
    });
  }

  async readBuffer(path: string, offset?: number, length?: number): Promise<Buffer> {
    return collect(await this.read(path, offset, length));
  }

  async rename(from: string, to: string): Promise<void> {
    const op = 'rename';
    const what = `${from} -> ${to}`;
    // renameoptions=NONE selects rename2: failures are RemoteExceptions (FileAlreadyExistsException,
    // FileNotFoundException for a missing source or target parent) instead of {"boolean": false}.
    let json: { boolean?: boolean } | null;
    try {
      json = await this.nn(
        op,
        what,
        'PUT',
        this.url(from, 'RENAME', { destination: this.full(to), renameoptions: 'NONE' }),
      );
    } catch (err) {
      // The target exists all the same: report it as the contract says.
      if (isStorageError(err, 'IOException') && RENAME_KIND_MISMATCH.test(err.message))
        throw new StorageError(
          `${op} ${what}: FileAlreadyExistsException: target exists (${err.message.replace(/^[^:]*: IOException: /, '')})`,
          'FileAlreadyExistsException',
          to,
          err.status,
          false,
          { cause: err },
        );
      throw err;
    }
    if (json?.boolean !== false) return; // rename2 answers 200 with an empty body
    // A server that ignored renameoptions: work out why the plain rename said false.
    if (!(await this.stat(from)))
      throw new StorageError(
        `${op} ${what}: FileNotFoundException: source missing`,
        'FileNotFoundException',
        from,
        200,
      );
    if (await this.stat(to))
      throw new StorageError(
        `${op} ${what}: FileAlreadyExistsException: target exists`,
        'FileAlreadyExistsException',
        to,
        200,
      );
    throw new StorageError(`${op} ${what}: IOException: RENAME returned false`, 'IOException', from, 200);
  }

  async setAttribute(path: string, name: string, value: Buffer): Promise<void> {
    // CREATE,REPLACE: set whether or not it exists, so a retry after a lost answer is harmless.
    const url = this.url(path, 'SETXATTR', {
      'xattr.name': name,
      'xattr.value': `0s${value.toString('base64')}`,
      flag: 'CREATE,REPLACE',
    });
    await idempotent(() => this.nn('setxattr', path, 'PUT', url));
  }

  async getAttribute(path: string, name: string): Promise<Buffer | null> {
    // All of the file's attributes rather than the one named: a missing name is an error whose class
    // differs between Hadoop versions (XAttrNotFoundException from 3.1, a plain IOException before).
    const json = await idempotent(() =>
      this.nn('getxattrs', path, 'GET', this.url(path, 'GETXATTRS', { encoding: 'base64' })),
    );
    const found = (json?.XAttrs as { name: string; value: string | null }[] | undefined)?.find((x) => x.name === name);
    if (!found) return null;
    // An empty value comes back as null; base64 values as "0s<base64>".
    return found.value ? Buffer.from(found.value.replace(/^0s/, ''), 'base64') : Buffer.alloc(0);
  }

  async listPage(dir: string, cursor?: string): Promise<ListPage> {
    const storeDir = normalizePath(dir);
    if (this.batchListing) {
      try {
        const json = await idempotent(() =>
          this.nn('list', dir, 'GET', this.url(dir, 'LISTSTATUS_BATCH', { startAfter: cursor })),
        );
        const listing = json.DirectoryListing;
        const entries = this.entries(storeDir, listing.partialListing.FileStatuses.FileStatus);
        return {
          entries,
          next: listing.remainingEntries > 0 && entries.length ? entries[entries.length - 1].name : undefined,
        };
      } catch (err) {
        if (!(isStorageError(err) && err.status === 400)) throw err;
        this.batchListing = false; // Hadoop before 2.8: no LISTSTATUS_BATCH
      }
    }
    const json = await idempotent(() => this.nn('list', dir, 'GET', this.url(dir, 'LISTSTATUS')));
    const entries = this.entries(storeDir, json.FileStatuses.FileStatus);
    return { entries: cursor === undefined ? entries : entries.filter((e) => compareNames(e.name, cursor) > 0) };
  }

  /** Listing a file answers with the file itself (pathSuffix ''): not a directory. */
  private entries(dir: string, statuses: webhdfs.HdfsFileStatus[]): FileStatus[] {
    if (statuses.length === 1 && statuses[0].pathSuffix === '') {
      throw new StorageError(
        `list ${dir}: PathIsNotDirectoryException: not a directory`,
        'PathIsNotDirectoryException',
        dir,
      );
    }
    return statuses.map((s) => toStatus(joinPath(dir, s.pathSuffix), s));
  }

  list(dir: string): AsyncIterable<FileStatus> {
    return listAll((d, c) => this.listPage(d, c), dir);
  }

  async delete(path: string, recursive = false): Promise<boolean> {
    // Not through the package: it ignores {"boolean": false}, which is how a missing path answers.
    const json = await this.nn('delete', path, 'DELETE', this.url(path, 'DELETE', { recursive }));
    return json?.boolean === true;
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

function toStatus(path: string, s: webhdfs.HdfsFileStatus): FileStatus {
  return {
    path,
    name: baseName(path),
    type: s.type === 'DIRECTORY' ? 'directory' : 'file',
    length: s.length,
    modificationTime: s.modificationTime,
  };
}
