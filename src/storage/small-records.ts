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
 * way the store allows. On a store with file attributes (HDFS) a record is an EMPTY file carrying its
 * body in attribute `attribute`: creating an empty file closes no block (the DataNode's completeFile
 * has nothing to wait for) and the attribute is one NameNode call, where a file with content costs
 * a block close (~0.4 s on HDFS 3.4 with default settings, and a DataNode thread meanwhile). Elsewhere
 * (the local back end, or a cluster that refuses attributes) the body is the file's content.
 *
 * Readers accept both forms: a file with content is read as its content (records of older versions,
 * or written after a refusal); an empty one by its attribute. A record is meant to be written under
 * a hidden name and renamed into place: the attribute moves with the file, so a record at its final
 * name always carries its body.
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
   * Writes `body` at `path`, replacing what is there (for names only this writer chooses).
   * Durable when it resolves, as `Storage.create`.
   */
  async write(path: string, body: Buffer): Promise<void> {
    if (this.attributes) {
      await this.storage.create(path, EMPTY, { overwrite: true });
      try {
        await this.storage.setAttribute!(path, this.attribute, body);
        return;
      } catch (err) {
        if (!refused(err)) throw err;
        this.refusedBy(err);
      }
    }
    await this.storage.create(path, body, { overwrite: true });
  }

  /**
   * The body of the record at `path`: its content, or for an empty file its attribute (an empty
   * buffer when it has neither: a torn record of an older version). `length` is the file's length
   * when a listing already gave it (saves a request). FileNotFoundException when the file is missing;
   * UnreadableRecordError when its body is an attribute the store now refuses to read.
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
        const content = length === 0 ? EMPTY : await this.storage.readBuffer(path);
        if (content.length > 0) return content;
        throw new UnreadableRecordError(path, err);
      }
      if (value !== null) return value;
    }
    return length === 0 ? EMPTY : this.storage.readBuffer(path);
  }

  private refusedBy(err: StorageError): void {
    if (!this.attributes) return;
    this.attributes = false;
    this.onWarning(
      `the store refuses extended attributes (${err.message}): small records (seal markers) are written as file contents from now on, each closing a block`,
    );
  }
}
