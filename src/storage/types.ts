import type { Readable } from 'node:stream';

/** What a file or directory looks like to the storage layer, whatever the back end. */
export interface FileStatus {
  /** Absolute path inside the store, always starting with '/'. */
  path: string;
  /** Last path component. */
  name: string;
  type: 'file' | 'directory';
  length: number;
  modificationTime: number;
}

/** Body accepted by create/append: a whole buffer, or a stream for data that must not sit in memory. */
export type WriteBody = Buffer | Readable | AsyncIterable<Buffer>;

export interface CreateOptions {
  /** Default false: creating over an existing file fails with FileAlreadyExistsException. */
  overwrite?: boolean;
  /** HDFS replication factor; ignored by the local back end. <= 0 means the cluster default. */
  replication?: number;
}

export interface ListPage {
  entries: FileStatus[];
  /** Opaque cursor for the next page; undefined on the last page. */
  next?: string;
}

/**
 * One storage interface, two back ends (WebHDFS and the local filesystem), chosen by URI.
 * Paths are absolute POSIX paths inside the store. Every failure is a StorageError carrying the
 * remote exception name (FileNotFoundException, FileAlreadyExistsException, ...).
 */
export interface Storage {
  /** The URI this store was opened with, e.g. webhdfs://127.0.0.1:9870/ or file:///. */
  readonly uri: string;
  mkdirs(path: string): Promise<void>;
  /** Create a file with the given content. Completes only when the data is durable (HDFS: stream closed). */
  create(path: string, body: WriteBody, options?: CreateOptions): Promise<void>;
  /** Append to an existing file; FileNotFoundException when it does not exist. Completes when durable. */
  append(path: string, body: WriteBody): Promise<void>;
  /** Read `length` bytes from `offset` (whole file when both are omitted), as a stream. */
  read(path: string, offset?: number, length?: number): Promise<Readable>;
  /** Convenience: a ranged read collected into one buffer. */
  readBuffer(path: string, offset?: number, length?: number): Promise<Buffer>;
  /** Atomic rename; fails with FileAlreadyExistsException if the target exists, FileNotFoundException if the source is missing. */
  rename(from: string, to: string): Promise<void>;
  /** One page of a directory listing, sorted by name. FileNotFoundException if the directory is missing. */
  listPage(dir: string, cursor?: string): Promise<ListPage>;
  /** All entries of a directory, page by page (never one giant request). */
  list(dir: string): AsyncIterable<FileStatus>;
  /** Status of a path, or null when it does not exist. */
  stat(path: string): Promise<FileStatus | null>;
  /** Delete a file or (with recursive) a directory. Returns false when nothing was there. */
  delete(path: string, recursive?: boolean): Promise<boolean>;
  /** Release sockets and agents. */
  close(): Promise<void>;
}
