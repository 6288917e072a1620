import { constants, statSync } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { StorageError } from './errors.js';
import { CachedReadGate, type LocalRangedReader, openLocalRanged } from './local-ranged.js';
import { baseName, compareNames, joinPath, normalizePath } from './paths.js';
import type { CreateOptions, FileStatus, FileWriter, ListPage, RangedReader, Storage, WriteBody } from './types.js';
import { localPath } from './uri.js';
import { checkRange, chunksOf, emptyStream, unwrapBodyFailure } from './util.js';

export interface LocalStorageOptions {
  /** Entries per listPage (default 1000, the same as HDFS's dfs.ls.limit). */
  pageSize?: number;
}

/** errno → the HDFS exception a NameNode would report for the same situation. */
const ERRNO: Record<string, [exception: string, retriable: boolean]> = {
  ENOENT: ['FileNotFoundException', false],
  EEXIST: ['FileAlreadyExistsException', false],
  ENOTDIR: ['ParentNotDirectoryException', false],
  ENOTEMPTY: ['PathIsNotEmptyDirectoryException', false],
  ENAMETOOLONG: ['PathComponentTooLongException', false],
  EACCES: ['AccessControlException', false],
  EPERM: ['AccessControlException', false],
  EROFS: ['AccessControlException', false],
  EINVAL: ['IllegalArgumentException', false],
  // Space can be freed and descriptors released: an ingest should back off and retry, not drop data.
  ENOSPC: ['DiskOutOfSpaceException', true],
  EDQUOT: ['DSQuotaExceededException', true],
  EMFILE: ['IOException', true],
  ENFILE: ['IOException', true],
  EAGAIN: ['IOException', true],
  EBUSY: ['IOException', true],
  EIO: ['IOException', true],
};

/** Maps a Node fs error; `overrides` fixes codes whose HDFS meaning depends on the operation. */
function fsError(op: string, path: string, err: unknown, overrides: Record<string, string> = {}): StorageError {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const [mapped, retriable] = ERRNO[code] ?? ['IOException', false];
  const exception = overrides[code] ?? mapped;
  return new StorageError(
    `${op} ${path}: ${exception} (${code || String(err)})`,
    exception,
    path,
    undefined,
    retriable,
    { cause: err },
  );
}

async function writeAll(fh: FileHandle, body: WriteBody): Promise<void> {
  for await (const chunk of chunksOf(body)) {
    // FileHandle.write may write less than asked (e.g. at ENOSPC boundaries): loop until done.
    for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
  }
}

/** An open descriptor as a FileWriter: close() fsyncs the data (and `dir`, when the file is new there). */
function fileWriter(op: string, path: string, fh: FileHandle, dir: string | null): FileWriter {
  let closed = false;
  return {
    write: async (chunk) => {
      try {
        await writeAll(fh, chunk);
      } catch (err) {
        throw fsError(op, path, err);
      }
    },
    close: async () => {
      closed = true;
      try {
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        if (dir) await syncDir(dir);
      } catch (err) {
        throw fsError(op, path, err);
      }
    },
    abort: async () => {
      if (closed) return;
      closed = true;
      await fh.close().catch(() => {});
    },
  };
}

/** fsync a directory so a new or renamed entry in it survives a power cut, not just the file's data. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The local filesystem as a Storage. `file:///base/dir` (or a plain path) roots every store path
 * under that directory. Writes complete only after fsync of the data and of the directory entry.
 */
export class LocalStorage implements Storage {
  readonly uri: string;
  /** Absolute directory every store path lives under. */
  readonly base: string;
  private readonly pageSize: number;
  /** Stats and small reads are synchronous while they come from the caches (./local-ranged.ts). */
  private readonly cachedReads = new CachedReadGate();

  constructor(uri: string, options: LocalStorageOptions = {}) {
    this.base = resolve(localPath(uri));
    this.uri = pathToFileURL(this.base).href;
    this.pageSize = options.pageSize ?? 1000;
  }

  private real(path: string): string {
    // `base` is absolute and normalised, the store path canonical: concatenation is the join.
    const p = normalizePath(path);
    return p === '/' ? this.base : this.base === '/' ? p : this.base + p;
  }

  /** mkdir -p, fsyncing every directory it created (and the parent that gained an entry). */
  private async mkdirp(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true });
    if (first === undefined) return;
    for (let d = dir; ; d = dirname(d)) {
      await syncDir(d);
      if (d === first) break;
    }
    await syncDir(dirname(first));
  }

  async mkdirs(path: string): Promise<void> {
    try {
      await this.mkdirp(this.real(path));
    } catch (err) {
      throw fsError('mkdirs', path, err);
    }
  }

  async create(path: string, body: WriteBody, options: CreateOptions = {}): Promise<void> {
    const real = this.real(path);
    try {
      await this.mkdirp(dirname(real)).catch((err: NodeJS.ErrnoException) =>
        // EEXIST here means the parent itself is a file.
        Promise.reject(err.code === 'EEXIST' ? Object.assign(err, { code: 'ENOTDIR' }) : err),
      );
      // 'wx' is O_CREAT|O_EXCL: of concurrent creators exactly one wins, the rest see EEXIST.
      const fh = await open(real, options.overwrite ? 'w' : 'wx');
      try {
        await writeAll(fh, body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await syncDir(dirname(real));
    } catch (err) {
      unwrapBodyFailure(err, (e) => fsError('create', path, e, { EISDIR: 'FileAlreadyExistsException' }));
    }
  }

  async createWriter(path: string, options: CreateOptions = {}): Promise<FileWriter> {
    const real = this.real(path);
    let fh: FileHandle;
    try {
      await this.mkdirp(dirname(real)).catch((err: NodeJS.ErrnoException) =>
        Promise.reject(err.code === 'EEXIST' ? Object.assign(err, { code: 'ENOTDIR' }) : err),
      );
      fh = await open(real, options.overwrite ? 'w' : 'wx');
    } catch (err) {
      throw fsError('create', path, err, { EISDIR: 'FileAlreadyExistsException' });
    }
    return fileWriter('create', path, fh, dirname(real));
  }

  async appendWriter(path: string): Promise<FileWriter> {
    let fh: FileHandle;
    try {
      fh = await open(this.real(path), constants.O_WRONLY | constants.O_APPEND);
    } catch (err) {
      throw fsError('append', path, err, { EISDIR: 'FileNotFoundException' });
    }
    return fileWriter('append', path, fh, null);
  }

  async append(path: string, body: WriteBody): Promise<void> {
    try {
      // No O_CREAT: appending to a missing file is an error, as on HDFS.
      const fh = await open(this.real(path), constants.O_WRONLY | constants.O_APPEND);
      try {
        await writeAll(fh, body);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      unwrapBodyFailure(err, (e) => fsError('append', path, e, { EISDIR: 'FileNotFoundException' }));
    }
  }

  async read(path: string, offset?: number, length?: number): Promise<Readable> {
    const range = checkRange(path, offset, length);
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.real(path), 'r');
      // open(2) succeeds on a directory; HDFS says FileNotFoundException ("Path is not a file").
      if ((await fh.stat()).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'ENOENT' });
    } catch (err) {
      await fh?.close();
      throw fsError('read', path, err);
    }
    if (range.length === 0) {
      await fh.close();
      return emptyStream();
    }
    const end = range.length === undefined ? undefined : range.offset + range.length - 1;
    return fh.createReadStream({ start: range.offset, end, autoClose: true });
  }

  /** A ranged read straight into one buffer: no stream and no extra stat per call. */
  async readBuffer(path: string, offset?: number, length?: number): Promise<Buffer> {
    const range = checkRange(path, offset, length);
    const r = await this.openReader(path);
    try {
      // To the end: the size now (a file still growing is read as it was).
      const want = range.length ?? Math.max(0, (await r.size()) - range.offset);
      return await r.read(range.offset, want);
    } finally {
      await r.close();
    }
  }

  private openReader(path: string): Promise<LocalRangedReader> {
    return openLocalRanged(this.real(path), this.cachedReads, (err, overrides) =>
      fsError('read', path, err, overrides),
    );
  }

  /** One open file for many ranged reads (pread): see ./local-ranged.ts. */
  async openRanged(path: string): Promise<RangedReader> {
    const reader = await this.openReader(path);
    return {
      read: async (offset, length) => {
        const range = checkRange(path, offset, length);
        return reader.read(range.offset, range.length ?? 0);
      },
      close: () => reader.close(),
    };
  }

  /**
   * Files: link(2) then unlink(2), because rename(2) silently replaces an existing target and
   * link fails with EEXIST atomically. A crash between the two leaves both names on one inode
   * (the data is complete under either); recovery should delete the source name when the target
   * exists. Directories cannot be hard-linked: check then rename (not race-free).
   */
  async rename(from: string, to: string): Promise<void> {
    const src = this.real(from);
    const dst = this.real(to);
    try {
      const st = await lstat(src);
      let linked = false;
      if (!st.isDirectory()) {
        try {
          await link(src, dst);
          linked = true;
        } catch (err) {
          // Filesystems without hard links (some FUSE/SMB mounts) fall back to check-then-rename.
          if (
            !['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK'].includes((err as NodeJS.ErrnoException).code ?? '')
          )
            throw err;
        }
      }
      if (linked) {
        await unlink(src);
      } else {
        if (await exists(dst)) throw Object.assign(new Error('target exists'), { code: 'EEXIST' });
        await rename(src, dst);
      }
      await syncDir(dirname(dst));
      if (dirname(src) !== dirname(dst)) await syncDir(dirname(src));
    } catch (err) {
      throw fsError('rename', `${from} -> ${to}`, err);
    }
  }

  async listPage(dir: string, cursor?: string): Promise<ListPage> {
    const real = this.real(dir);
    const storeDir = normalizePath(dir);
    let names: string[];
    try {
      names = (await readdir(real)).sort(compareNames);
    } catch (err) {
      throw fsError('list', dir, err, { ENOTDIR: 'PathIsNotDirectoryException' });
    }
    const start = cursor === undefined ? 0 : names.findIndex((n) => compareNames(n, cursor) > 0);
    const slice = start < 0 ? [] : names.slice(start, start + this.pageSize);
    const stats = await Promise.all(slice.map((n) => this.stat(joinPath(storeDir, n))));
    const more = start >= 0 && start + this.pageSize < names.length;
    return {
      entries: stats.filter((s): s is FileStatus => s !== null), // an entry deleted meanwhile is simply gone
      next: more ? slice[slice.length - 1] : undefined,
    };
  }

  /**
   * Every entry, in the same order and pages as listPage, but the directory is read and sorted once:
   * paging through listPage re-reads it per page (quadratic: 100,000 files took 25 s).
   */
  async *list(dir: string): AsyncIterable<FileStatus> {
    const real = this.real(dir);
    const storeDir = normalizePath(dir);
    let names: string[];
    try {
      names = (await readdir(real)).sort(compareNames);
    } catch (err) {
      throw fsError('list', dir, err, { ENOTDIR: 'PathIsNotDirectoryException' });
    }
    for (let start = 0; start < names.length; start += this.pageSize) {
      const slice = names.slice(start, start + this.pageSize);
      const stats = await Promise.all(slice.map((n) => this.stat(joinPath(storeDir, n))));
      for (const s of stats) if (s !== null) yield s; // an entry deleted meanwhile is simply gone
    }
  }

  async stat(path: string): Promise<FileStatus | null> {
    const p = normalizePath(path);
    try {
      const real = this.real(p);
      // Synchronous while the inode is cached (see ./local-ranged.ts): a query stats every file it plans.
      const st = this.cachedReads.synchronous ? this.cachedReads.timed(() => statSync(real)) : await stat(real);
      const directory = st.isDirectory();
      return {
        path: p,
        name: baseName(p),
        type: directory ? 'directory' : 'file',
        length: directory ? 0 : st.size, // HDFS reports 0 for directories
        modificationTime: Math.floor(st.mtimeMs),
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw fsError('stat', path, err);
    }
  }

  async delete(path: string, recursive = false): Promise<boolean> {
    const real = this.real(path);
    if (real === '/')
      throw new StorageError('refusing to delete the filesystem root', 'IllegalArgumentException', path);
    try {
      const st = await lstat(real);
      if (!st.isDirectory()) await unlink(real);
      else if (recursive) await rm(real, { recursive: true });
      else await rmdir(real);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw fsError('delete', path, err, { EEXIST: 'PathIsNotEmptyDirectoryException' });
    }
  }

  async close(): Promise<void> {}
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
