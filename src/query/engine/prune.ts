/**
 * Which data files a query must read, from a recursive listing of the base path (metron-compat §6.4).
 *
 * - Hidden names (`.x`, `_x`, and anything under such a directory) are never data: in-progress
 *   files, indexes, `_SUCCESS`, `.crc` sidecars. Names that are not `pcap_<topic>_<ts>_<partition>_<id>`
 *   are skipped and counted (Metron threw on some of them and failed the listing).
 * - A file with exact index times is read iff its [min, max] meets the window.
 * - A file without an index is judged by name times within its (topic, partition): its packets lie
 *   between its own name time (the first packet) and its successor's name time, so it is read iff
 *   nameTs ≤ end and (it is the newest file, or successor nameTs ≥ start). This fixes Metron's
 *   defect where a window inside the newest (or one long) file found nothing, and never drops a
 *   file Metron would read in its own test vectors (metron-compat §8.6).
 *
 * Name-time pruning assumes packet time grows within a partition. Metron's writer rolled on a
 * backwards timestamp, which keeps that true for its files; ours keep an index instead.
 */
import { parsePcapFileName } from '../../formats/file-name.js';

export interface ListedFile {
  /** Full path inside the store. */
  path: string;
  /** Last path component. */
  name: string;
  length: number;
  /** Listing entries may include directories; those are skipped. */
  type?: 'file' | 'directory';
  /** Exact packet-time bounds from the file's index, when it has one. */
  minTsNs?: bigint;
  maxTsNs?: bigint;
}

export interface SelectedFile extends ListedFile {
  topic: string;
  partition: number;
  /** Time in the file name: its first packet. */
  nameTsNs: bigint;
  /** True when chosen by index bounds, false when by file-name times. */
  byIndex: boolean;
}

export interface PruneResult {
  /** Files to read, ordered by topic, partition, name time. */
  selected: SelectedFile[];
  /** Data files that cannot hold packets in the window. */
  excluded: number;
  /** Hidden entries (names starting with '.' or '_', or under such directories). */
  hidden: number;
  /** Visible files whose names are not data file names (listed for diagnostics). */
  unrecognized: string[];
}

export interface TimeWindow {
  startNs: bigint;
  endNs: bigint;
}

/** True when a path component below `basePath` starts with '.' or '_' (the Hadoop convention). */
export function isHiddenPath(path: string, basePath?: string): boolean {
  let rel = path;
  if (basePath !== undefined) {
    const base = basePath.endsWith('/') ? basePath : `${basePath}/`;
    if (path.startsWith(base)) rel = path.slice(base.length);
  }
  for (const part of rel.split('/')) {
    if (part.length > 0 && (part[0] === '.' || part[0] === '_')) return true;
  }
  return false;
}

interface Candidate {
  file: ListedFile;
  topic: string;
  partition: number;
  ts: bigint;
}

const cmp = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/** Choose the files a query over `window` (inclusive) must read. */
export function selectFiles(
  files: Iterable<ListedFile>,
  window: TimeWindow,
  opts: { basePath?: string } = {},
): PruneResult {
  const { startNs, endNs } = window;
  const groups = new Map<string, Candidate[]>();
  let hidden = 0;
  const unrecognized: string[] = [];
  for (const file of files) {
    if (file.type === 'directory') continue;
    if (isHiddenPath(file.path, opts.basePath) || file.name.startsWith('.') || file.name.startsWith('_')) {
      hidden++;
      continue;
    }
    const parsed = parsePcapFileName(file.name);
    if (
      parsed === null ||
      parsed.tsNs === null ||
      parsed.partition === null ||
      parsed.topic === '' ||
      parsed.id === ''
    ) {
      unrecognized.push(file.path);
      continue;
    }
    const key = `${parsed.topic}\u0000${parsed.partition}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = [];
      groups.set(key, g);
    }
    g.push({ file, topic: parsed.topic, partition: parsed.partition, ts: parsed.tsNs });
  }

  const selected: SelectedFile[] = [];
  let excluded = 0;
  const keys = [...groups.values()].sort((a, b) =>
    a[0].topic === b[0].topic ? a[0].partition - b[0].partition : a[0].topic < b[0].topic ? -1 : 1,
  );
  for (const g of keys) {
    g.sort((a, b) => cmp(a.ts, b.ts) || (a.file.path < b.file.path ? -1 : a.file.path > b.file.path ? 1 : 0));
    for (let i = 0; i < g.length; i++) {
      const c = g[i];
      const { minTsNs, maxTsNs } = c.file;
      let take: boolean;
      let byIndex = false;
      if (minTsNs !== undefined && maxTsNs !== undefined) {
        byIndex = true;
        take = minTsNs <= endNs && maxTsNs >= startNs;
      } else {
        const next = g[i + 1];
        // The successor's first packet bounds this file's last one (equal times are possible).
        take = c.ts <= endNs && (next === undefined || next.ts >= startNs);
      }
      if (take) selected.push({ ...c.file, topic: c.topic, partition: c.partition, nameTsNs: c.ts, byIndex });
      else excluded++;
    }
  }
  return { selected, excluded, hidden, unrecognized };
}
