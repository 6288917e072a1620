/** Where the catalog and the index buckets of a store are (docs/design.md §3). */
import { INDEX_DIR } from '../formats/index/packet-index-format.js';
import { CATALOG_DIR, STORE_FILE, type StoreLayout } from './catalog-format.js';

const trim = (p: string): string => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p);

export const catalogDir = (root: string): string => `${trim(root)}/${CATALOG_DIR}`;
export const storeFile = (root: string): string => `${catalogDir(root)}/${STORE_FILE}`;
export const bucketDir = (root: string, bucket: string): string => `${catalogDir(root)}/${bucket}`;

/** `path` relative to `root` (both absolute store paths), or null when it is not under it. */
export function relativeTo(root: string, path: string): string | null {
  const base = `${trim(root)}/`;
  return path.startsWith(base) ? path.slice(base.length) : null;
}

/** The layout a data file's place reveals: directly under the root, or under YYYY/MM/DD[/HH]. */
export function layoutOf(relativeDataPath: string): StoreLayout | null {
  const dirs = relativeDataPath.split('/').slice(0, -1);
  if (dirs.length === 0) return 'flat';
  if (dirs.length === 3 && /^\d{4}$/.test(dirs[0])) return 'daily';
  if (dirs.length === 4 && /^\d{4}$/.test(dirs[0])) return 'hourly';
  return null;
}

/**
 * The directories that can hold index bucket `bucket` (yyyyMMddHH or 'long') in a store of this
 * layout. Dated layouts put a file in the directory of its first packet's hour, which may be the hour
 * after its earliest packet's: both are listed.
 */
export function indexBucketDirs(root: string, layout: StoreLayout, bucket: string): string[] {
  const r = trim(root);
  if (layout === 'flat' || bucket === 'long') return [`${r}/${INDEX_DIR}/${bucket}`];
  const hourDir = (b: string) =>
    layout === 'daily'
      ? `${r}/${b.slice(0, 4)}/${b.slice(4, 6)}/${b.slice(6, 8)}`
      : `${r}/${b.slice(0, 4)}/${b.slice(4, 6)}/${b.slice(6, 8)}/${b.slice(8, 10)}`;
  const start = Date.UTC(+bucket.slice(0, 4), +bucket.slice(4, 6) - 1, +bucket.slice(6, 8), +bucket.slice(8, 10));
  const next = new Date(start + 3_600_000);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const nb = `${next.getUTCFullYear()}${p2(next.getUTCMonth() + 1)}${p2(next.getUTCDate())}${p2(next.getUTCHours())}`;
  return [...new Set([hourDir(bucket), hourDir(nb)])].map((d) => `${d}/${INDEX_DIR}/${bucket}`);
}
