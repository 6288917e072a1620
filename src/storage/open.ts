import { LocalStorage, type LocalStorageOptions } from './local.js';
import type { Storage } from './types.js';
import { storageScheme, unsupportedScheme } from './uri.js';
import { WebHdfsStorage, type WebHdfsOptions } from './webhdfs.js';

export type StorageOptions = LocalStorageOptions & WebHdfsOptions;

/**
 * Opens the store a URI names: `webhdfs://host:port[/base][?user=name]` for HDFS, `file:///base` or a
 * plain path for the local filesystem. Store paths are rooted at the base directory. Other schemes
 * throw a StorageError (IllegalArgumentException) saying what is accepted.
 */
export function openStorage(uri: string, options: StorageOptions = {}): Storage {
  switch (storageScheme(uri)) {
    case 'webhdfs':
      return new WebHdfsStorage(uri, options);
    case 'file':
      return new LocalStorage(uri, options);
    default:
      throw unsupportedScheme(uri);
  }
}
