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

/** Ranged reads of one file (see Storage.openRanged). */
export interface RangedReader {
  /** Up to `length` bytes from `offset` (fewer at the end of the file). */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Body accepted by create/append: a whole buffer, or a stream for data that must not sit in memory. */
export type WriteBody = Buffer | Readable | AsyncIterable<Buffer>;

export interface CreateOptions {
  /** Default false: creating over an existing file fails with FileAlreadyExistsException. */
  overwrite?: boolean;
  /** HDFS replication factor; ignored by the local back end. <= 0 means the cluster default. */
  replication?: number;
}

/** A file being written as one stream (Storage.createWriter): bytes go out as they are written. */
export interface FileWriter {
  /**
   * Sends bytes. Resolves once the store has taken them and `chunk` may be reused (they are not
   * durable yet). A rejection (StorageError) ends the upload: abort it and start again.
   */
  write(chunk: Buffer): Promise<void>;
  /**
   * Ends the file. Resolves when the data is durable, exactly as `create` does (HDFS: the DataNode
   * closed the file; local: file and directory fsync'd). Rejects as `create` does.
   */
  close(): Promise<void>;
  /**
   * Gives up without closing: releases the connection or descriptor. What was sent may remain as a
   * partial file; on HDFS the DataNode may even create or close it after this resolves, so never
   * reuse the name (ingest's in-progress names are unique, and recovery deletes leftovers).
   */
  abort(): Promise<void>;
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
  /**
   * Create a file with the given content, creating missing parent directories. Completes only when
   * the data is durable (HDFS: the DataNode closed the file; local: file and directory fsync'd).
   * Without overwrite, exactly one of concurrent creators wins; the others get
   * FileAlreadyExistsException. On HDFS a loser sending more than a few MB may instead get a
   * retriable IOException (the DataNode's 403 is lost to the connection reset after it); a retry
   * then reports FileAlreadyExistsException. A create that fails midway can leave a partial file
   * (HDFS keeps what the DataNode received): write under a hidden name, then rename.
   * A failure of the caller's own body stream is rethrown unchanged (not a StorageError).
   * ParentNotDirectoryException when a parent is a file.
   */
  create(path: string, body: WriteBody, options?: CreateOptions): Promise<void>;
  /**
   * `create` with a body written over time: the file is created (FileAlreadyExistsException as for
   * `create`, reported here or by the first write) and stays open, one upload for the whole file,
   * until `close()` makes it durable. For files that fill slowly (ingest's in-progress files):
   * on HDFS each create or append costs a block close, a streaming create pays it once.
   */
  createWriter(path: string, options?: CreateOptions): Promise<FileWriter>;
  /** `append` with a body written over time, as `createWriter`; FileNotFoundException when the file does not exist. */
  appendWriter(path: string): Promise<FileWriter>;
  /** Append to an existing file; FileNotFoundException when it does not exist. Completes when durable. */
  append(path: string, body: WriteBody): Promise<void>;
  /**
   * Read `length` bytes from `offset` (to the end when `length` is omitted), as a stream. Rejects
   * before streaming when the file is missing or a directory (FileNotFoundException). An offset at or
   * past the end gives an empty stream. Destroy a stream you stop reading early: it holds a socket.
   */
  read(path: string, offset?: number, length?: number): Promise<Readable>;
  /** Convenience: a ranged read collected into one buffer. */
  readBuffer(path: string, offset?: number, length?: number): Promise<Buffer>;
  /**
   * Many ranged reads of one file (a query reading index pieces and records): the local back end
   * opens the file once; others may simply issue ranged reads. Close it when done.
   */
  openRanged?(path: string): Promise<RangedReader>;
  /**
   * Atomic rename, never replacing: FileAlreadyExistsException if the target exists,
   * FileNotFoundException if the source or the target's parent directory is missing.
   */
  rename(from: string, to: string): Promise<void>;
  /**
   * Optional: sets a small named value on a file, kept in its metadata (HDFS extended attributes,
   * WebHDFS SETXATTR; a `user.` name, at most 16 KiB with the name by default). On HDFS this is one
   * NameNode call, where a file's content costs a DataNode write and a block close: a small record
   * can be an empty file carrying its body here (src/storage/small-records.ts). The value travels
   * with the file through renames. Creates or replaces. FileNotFoundException for a missing file;
   * a cluster that refuses (dfs.namenode.xattrs.enabled=false, a value over
   * dfs.namenode.fs-limits.max-xattr-size) answers a non-retriable StorageError.
   */
  setAttribute?(path: string, name: string, value: Buffer): Promise<void>;
  /**
   * Optional, with setAttribute: the value of attribute `name` of a file, or null when it has none
   * of that name. FileNotFoundException for a missing file.
   */
  getAttribute?(path: string, name: string): Promise<Buffer | null>;
  /**
   * True when an empty directory is cheaper to make than an empty file, carries attributes as a file
   * does, and renames like one (atomically, never replacing). On HDFS MKDIRS is one NameNode call,
   * where even an empty file's CREATE is a NameNode redirect and a DataNode write (which itself calls
   * the NameNode to create and complete the file): ~0.6 ms of NameNode and client CPU against ~3.5 ms
   * of NameNode, DataNode and client CPU, measured on our local stack. Small records are then empty
   * directories carrying their body in an attribute (src/storage/small-records.ts).
   */
  readonly cheapDirectories?: boolean;
  /**
   * One page of a directory listing (up to 1000 entries, HDFS's dfs.ls.limit), sorted by name in
   * HDFS order (UTF-8 bytes compared as signed bytes: ASCII order for ASCII names).
   * FileNotFoundException if the directory is missing, PathIsNotDirectoryException for a file.
   */
  listPage(dir: string, cursor?: string): Promise<ListPage>;
  /** All entries of a directory, page by page (never one giant request). */
  list(dir: string): AsyncIterable<FileStatus>;
  /** Status of a path, or null when it does not exist (also when a parent is a file). */
  stat(path: string): Promise<FileStatus | null>;
  /**
   * Delete a file or (with recursive) a directory. Returns false when nothing was there;
   * PathIsNotEmptyDirectoryException for a non-empty directory without recursive.
   */
  delete(path: string, recursive?: boolean): Promise<boolean>;
  /** Release sockets and agents. */
  close(): Promise<void>;
}
