import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExitStatus } from '../lib/errors.js';
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

/** The store a plain path means when PCAPLINE_STORE is unset: the local filesystem, as Hadoop's fs.defaultFS. */
export const LOCAL_STORE = 'file:///';

/**
 * A storage URI or path that cannot name a store: the input is wrong (exit status 2), whichever
 * tool or configuration key it came from. Keeps the IllegalArgumentException name callers match on.
 */
export class StorageUriError extends StorageError {
  override readonly exitCode: ExitStatus = 2;
  constructor(message: string, uri: string) {
    super(message, 'IllegalArgumentException', uri);
  }
}

/** The scheme of a storage URI, lower case; `file` for a plain path. */
export function storageScheme(uri: string): string {
  const m = SCHEME.exec(uri);
  return m ? m[1].toLowerCase() : 'file';
}

export function unsupportedScheme(uri: string): StorageError {
  const scheme = storageScheme(uri);
  if (scheme === 'swebhdfs') {
    return new StorageUriError(
      `unsupported storage URI '${uri}': swebhdfs:// (WebHDFS over TLS) is not supported yet; use webhdfs://<namenode>:${DEFAULT_WEBHDFS_PORT}/path on a trusted network, or a TLS-terminating proxy in front of the NameNode`,
      uri,
    );
  }
  const hint =
    scheme === 'hdfs' || scheme === 'http' || scheme === 'https'
      ? ` (HDFS is reached over WebHDFS: write webhdfs://<namenode>:${DEFAULT_WEBHDFS_PORT}/path)`
      : '';
  return new StorageUriError(
    `unsupported storage URI '${uri}': expected webhdfs://host:port/path, file:///path or a plain path${hint}`,
    uri,
  );
}

const badUri = (uri: string, why: string) => new StorageUriError(`bad storage URI '${uri}': ${why}`, uri);

/** Absolute local directory of a `file:` URI or plain path. */
export function localPath(uri: string, cwd: string = process.cwd()): string {
  if (!SCHEME.test(uri)) return posix.resolve(cwd, uri);
  try {
    return fileURLToPath(uri);
  } catch (err) {
    throw badUri(uri, malformed(err));
  }
}

/** The decoded path of a webhdfs URL, normalised. */
export function urlPath(uri: string, url: URL): string {
  try {
    return normalizePath(decodeURIComponent(url.pathname) || '/');
  } catch (err) {
    throw badUri(uri, malformed(err));
  }
}

/** decodeURIComponent says only "URI malformed": say what is malformed. */
const malformed = (err: unknown): string =>
  err instanceof URIError ? 'a % is not followed by two hex digits of valid UTF-8' : (err as Error).message;

/**
 * The store a plain path (no scheme) is on, for every tool and for kafka.pcap.out alike:
 * `$PCAPLINE_STORE` when set (a storage URI, like Hadoop's fs.defaultFS), else the local filesystem.
 */
export function defaultStore(env: NodeJS.ProcessEnv = process.env): string {
  const store = env.PCAPLINE_STORE?.trim();
  return store ? store : LOCAL_STORE;
}

/**
 * Splits a location such as `kafka.pcap.out=webhdfs://127.0.0.1:9870/apps/metron/pcap/input` or
 * `-bp /apps/metron/pcap/input` into a store root and a path, so one store (one connection pool)
 * serves every directory of a cluster. A plain path is on `store` (defaultStore(): PCAPLINE_STORE,
 * else local): a relative one is taken from `cwd` on the local filesystem, from the store URI's
 * path on WebHDFS. Throws StorageUriError (exit status 2) for anything that names no store.
 */
export function parseStorageUri(
  uri: string,
  cwd: string = process.cwd(),
  store: string = defaultStore(),
): StorageLocation {
  if (uri.trim() === '') throw badUri(uri, 'it is empty');
  if (SCHEME.test(uri)) return parseUri(uri, cwd);
  if (!SCHEME.test(store)) {
    throw new StorageUriError(
      `PCAPLINE_STORE='${store}' is not a storage URI: write webhdfs://host:port or file:///`,
      store,
    );
  }
  let base: StorageLocation;
  try {
    base = parseUri(store, cwd);
  } catch (err) {
    if (!(err instanceof StorageUriError)) throw err;
    throw new StorageUriError(`PCAPLINE_STORE='${store}' names no usable store: ${err.message}`, store);
  }
  if (base.root === LOCAL_STORE) {
    return { root: LOCAL_STORE, path: normalizePath(posix.resolve(cwd, uri)) };
  }
  return { root: base.root, path: normalizePath(posix.resolve(base.path, uri)) };
}

function parseUri(uri: string, cwd: string): StorageLocation {
  const scheme = storageScheme(uri);
  if (scheme === 'webhdfs') {
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      throw badUri(uri, 'not a valid URL (webhdfs://host:port/path)');
    }
    if (!u.hostname) throw badUri(uri, 'no NameNode host');
    const root = `webhdfs://${u.port ? u.host : `${u.host}:${DEFAULT_WEBHDFS_PORT}`}${u.search}`;
    return { root, path: urlPath(uri, u) };
  }
  if (scheme !== 'file') throw unsupportedScheme(uri);
  return { root: LOCAL_STORE, path: normalizePath(localPath(uri, cwd)) };
}

/**
 * How summaries name a location: `local:/data/pcap`, or `webhdfs://nn:9870/apps/pcap` (with
 * `?user=alice` when the URI names a user), so nobody has to guess which store a plain path meant.
 */
export function describeLocation(loc: StorageLocation): string {
  if (loc.root === LOCAL_STORE) return `local:${loc.path}`;
  const u = new URL(loc.root);
  const user = u.searchParams.get('user');
  return `webhdfs://${u.host}${loc.path}${user === null ? '' : `?user=${encodeURIComponent(user)}`}`;
}
