import { PcaplineError } from '../lib/errors.js';
import { isStorageError, type StorageError } from './errors.js';
import type { Storage } from './types.js';

const EMPTY = Buffer.alloc(0);

/** A record whose body is in a file attribute the store now refuses to read: never guessed at. */
export class UnreadableRecordError extends PcaplineError {
  constructor(path: string, cause: StorageError) {
    super(
      'PCAPLINE_RECORD_ATTRIBUTE_REFUSED',
      `${path}: its body is kept in an extended attribute, which the store refuses to read (${cause.message}); enable extended attributes again (dfs.namenode.xattrs.enabled)`,
      { cause, retriable: true },
    );
  }
}

/**
 * A store's refusal of the attribute operations themselves (attributes disabled, a value over the
 * cluster's limit, a name it does not accept): the server answered, and trying again will not help.
 * Missing files and transient failures are not refusals: they are the caller's to handle.
 */
function refused(err: unknown): err is StorageError {
  return (
    isStorageError(err) &&
    !err.retriable &&
    err.status !== undefined &&
    err.status >= 400 &&
    err.status < 500 &&
    err.exception !== 'FileNotFoundException'
  );
}

/**
 * Small records (a few hundred bytes of JSON: the sink's seal markers) written and read the cheapest
 * way the store allows. On a store with file attributes (HDFS) a record's body is in attribute
 * `attribute` of an EMPTY entry: a directory where directories are cheaper than files
 * (Storage.cheapDirectories: on HDFS a MKDIRS is one NameNode call, where an empty file is a
 * NameNode redirect and a DataNode write), else an empty file (whose creation closes no block). The
 * attribute is one NameNode call; a file with content would cost a block close (~0.4 s on HDFS 3.4
 * with default settings, and a DataNode thread meanwhile). Elsewhere (the local back end, or a cluster
 * that refuses attributes) the body is the file's content.
 *
 * Readers accept every form: a file with content is read as its content (records of older versions,
 * or written after a refusal); an empty file or a directory by its attribute. A record is meant to be
 * written under a hidden name and renamed into place: the attribute moves with it, so a record at its
 * final name always carries its body. It is deleted like a file (an empty directory needs no
 * recursive delete).
 */
export class SmallRecords {
  /** False once the store refused an attribute operation: the body goes into content from then on. */
  private attributes: boolean;

  constructor(
    private readonly storage: Storage,
    /** The attribute holding the body, e.g. `user.pcapline.claim` (HDFS wants a `user.` name). */
    private readonly attribute: string,
    /** Told once, when the store refuses attributes and records fall back to content. */
    private readonly onWarning: (message: string) => void = () => {},
  ) {
    this.attributes = storage.setAttribute !== undefined && storage.getAttribute !== undefined;
  }

  /** True while records are written as empty files carrying an attribute. */
  get usesAttributes(): boolean {
    return this.attributes;
  }

  /**
   * Writes `body` at `path`, a name only this writer chooses and has not used (a retry of the same
   * write may find what the first attempt made, and replaces its body). Durable when it resolves, as
   * `Storage.create`.
   */
  async write(path: string, body: Buffer): Promise<void> {
    if (this.attributes) {
      const directory = this.storage.cheapDirectories === true;
      if (directory) await this.storage.mkdirs(path);
      else await this.storage.create(path, EMPTY, { overwrite: true });
      try {
        await this.storage.setAttribute!(path, this.attribute, body);
        return;
      } catch (err) {
        if (!refused(err)) throw err;
        this.refusedBy(err);
        if (directory) await this.storage.delete(path); // the content goes into a file of this name
      }
    }
    await this.storage.create(path, body, { overwrite: true });
  }

  /**
   * The body of the record at `path`: its content, or for an empty file or a directory its attribute
   * (an empty buffer when it has neither: a torn record). `length` is the file's length when a
   * listing already gave it (saves a request; pass 0 for a directory). FileNotFoundException when the
   * record is missing; UnreadableRecordError when its body is an attribute the store now refuses to read.
   */
  async read(path: string, length?: number): Promise<Buffer> {
    if (length !== undefined && length > 0) return this.storage.readBuffer(path);
    if (this.storage.getAttribute) {
      let value: Buffer | null;
      try {
        value = await this.storage.getAttribute(path, this.attribute);
      } catch (err) {
        if (!refused(err)) throw err;
        this.refusedBy(err);
        const content = length === 0 ? EMPTY : await this.content(path);
        if (content.length > 0) return content;
        throw new UnreadableRecordError(path, err);
      }
      if (value !== null) return value;
    }
    return length === 0 ? EMPTY : this.content(path);
  }

  /** A record's content: none for a directory (found out only when reading fails, which is rare). */
  private async content(path: string): Promise<Buffer> {
    try {
      return await this.storage.readBuffer(path);
    } catch (err) {
      // HDFS answers FileNotFoundException ("Path is not a file") for a directory, locally EISDIR.
      if ((await this.storage.stat(path))?.type === 'directory') return EMPTY;
      throw err;
    }
  }

  private refusedBy(err: StorageError): void {
    if (!this.attributes) return;
    this.attributes = false;
    this.onWarning(
      `the store refuses extended attributes (${err.message}): small records (seal markers) are written as file contents from now on, each closing a block`,
    );
  }
}
