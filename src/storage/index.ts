export type { CreateOptions, FileStatus, FileWriter, ListPage, Storage, WriteBody } from './types.js';
export { StorageError, isStorageError } from './errors.js';
export { openStorage, type StorageOptions } from './open.js';
export {
  parseStorageUri,
  storageScheme,
  defaultStore,
  describeLocation,
  StorageUriError,
  DEFAULT_WEBHDFS_PORT,
  LOCAL_STORE,
  type StorageLocation,
} from './uri.js';
export { joinPath, normalizePath, baseName, compareNames } from './paths.js';
export { LocalStorage, type LocalStorageOptions } from './local.js';
export { WebHdfsStorage, type WebHdfsOptions } from './webhdfs.js';
