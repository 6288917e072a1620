import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StorageError } from './errors.js';
import { normalizePath } from './paths.js';

/** A storage URI split into the store to open and a directory inside it. */
export interface StorageLocation {
  /** What to pass to openStorage: `webhdfs://host:port[?user=..]` or `file:///`. */
  root: string;
  /** Absolute path inside that store, e.g. `/apps/metron/pcap/input`. */
  path: string;
}

export const DEFAULT_WEBHDFS_PORT = 9870;
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/** The scheme of a storage URI, lower case; `file` for a plain path. */
export function storageScheme(uri: string): string {
  const m = SCHEME.exec(uri);
  return m ? m[1].toLowerCase() : 'file';
}

export function unsupportedScheme(uri: string): StorageError {
  const scheme = storageScheme(uri);
  const hint =
    scheme === 'hdfs' || scheme === 'http' || scheme === 'https'
      ? ` (HDFS is reached over WebHDFS: write webhdfs://<namenode>:${DEFAULT_WEBHDFS_PORT}/path)`
      : '';
  return new StorageError(
    `unsupported storage URI '${uri}': expected webhdfs://host:port/path, file:///path or a plain path${hint}`,
    'IllegalArgumentException',
    uri,
  );
}

const badUri = (uri: string, why: string) =>
  new StorageError(`bad storage URI '${uri}': ${why}`, 'IllegalArgumentException', uri);

/** Absolute local directory of a `file:` URI or plain path. */
export function localPath(uri: string, cwd: string = process.cwd()): string {
  if (!SCHEME.test(uri)) return posix.resolve(cwd, uri);
  try {
    return fileURLToPath(uri);
  } catch (err) {
    throw badUri(uri, (err as Error).message);
  }
}

/** The decoded path of a webhdfs URL, normalised. */
export function urlPath(uri: string, url: URL): string {
  try {
    return normalizePath(decodeURIComponent(url.pathname) || '/');
  } catch (err) {
    throw badUri(uri, (err as Error).message);
  }
}

/**
 * Splits a configured location such as `kafka.pcap.out=webhdfs://127.0.0.1:9870/apps/metron/pcap/input`
 * into a store root and a path, so one store (one connection pool) serves every directory of a
 * cluster. Plain paths are local and resolved against `cwd`.
 */
export function parseStorageUri(uri: string, cwd: string = process.cwd()): StorageLocation {
  const scheme = storageScheme(uri);
  if (scheme === 'webhdfs') {
    const u = new URL(uri);
    if (!u.hostname) throw badUri(uri, 'no NameNode host');
    const root = `webhdfs://${u.port ? u.host : `${u.host}:${DEFAULT_WEBHDFS_PORT}`}${u.search}`;
    return { root, path: urlPath(uri, u) };
  }
  if (scheme !== 'file') throw unsupportedScheme(uri);
  return { root: 'file:///', path: normalizePath(localPath(uri, cwd)) };
}
