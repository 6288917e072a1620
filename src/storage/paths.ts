import { posix } from 'node:path';
import { StorageError } from './errors.js';

/**
 * Canonical form of a path inside a store: absolute, normalised, no trailing slash (except '/').
 * Relative paths are rejected rather than guessed at: they are always a caller bug here, and
 * normalising before joining onto a base directory means '..' can never climb out of the store.
 */
export function normalizePath(path: string): string {
  if (!path.startsWith('/') || path.includes('\0')) {
    throw new StorageError(`not an absolute store path: '${path}'`, 'IllegalArgumentException', path);
  }
  if (isCanonical(path)) return path;
  const p = posix.normalize(path);
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/**
 * Something posix.normalize would change: an empty, '.' or '..' segment, or a trailing slash. Most
 * paths are already canonical, and a query makes thousands of storage calls (a few per file), each
 * normalising a long path: posix.normalize walks it character by character in JavaScript, which cost
 * a cold query more than its reads. The regular expression runs natively.
 */
const NOT_CANONICAL = /\/\/|\/\.\.?(?:\/|$)/;
const isCanonical = (path: string): boolean => !(path.length > 1 && path.endsWith('/')) && !NOT_CANONICAL.test(path);

/** POSIX join of store path segments, normalised ('/a' + 'b/../c' = '/a/c'). */
export const joinPath = (...parts: string[]): string => {
  if (parts.length === 2 && parts[0].startsWith('/') && parts[1] !== '' && !parts[1].startsWith('/')) {
    const joined = parts[0] === '/' ? `/${parts[1]}` : `${parts[0]}/${parts[1]}`;
    if (isCanonical(joined)) return joined;
  }
  const p = posix.join(...parts);
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
};

/** Last component of a store path ('' for the root). */
export const baseName = (path: string): string => posix.basename(path);

/**
 * The order HDFS lists a directory in, and the order of LISTSTATUS_BATCH's startAfter: UTF-8 bytes
 * compared as Java's *signed* bytes (DFSUtilClient.compareBytes), so 'ü' (0xC3..) sorts before 'a'.
 * The same as plain string order for ASCII names.
 */
export function compareNames(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    if (x[i] !== y[i]) return ((x[i] << 24) >> 24) - ((y[i] << 24) >> 24);
  }
  return x.length - y.length;
}
