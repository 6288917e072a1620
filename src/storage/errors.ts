import { PcaplineError } from '../lib/errors.js';

/**
 * A storage failure. `exception` keeps the remote exception's simple name as HDFS reports it
 * (FileNotFoundException, FileAlreadyExistsException, AlreadyBeingCreatedException,
 * RecoveryInProgressException, SafeModeException, ...), so callers branch on it, never on text.
 * The local back end maps errno codes onto the same names.
 */
export class StorageError extends PcaplineError {
  constructor(
    message: string,
    readonly exception: string,
    readonly path: string,
    readonly status?: number,
    /** True when retrying later can succeed (DataNode down, safe mode, lease recovery, connection reset). */
    retriable = false,
    options?: { cause?: unknown },
  ) {
    super('PCAPLINE_STORAGE', message, { retriable, cause: options?.cause });
  }
}

export const isStorageError = (err: unknown, exception?: string): err is StorageError =>
  err instanceof StorageError && (exception === undefined || err.exception === exception);
