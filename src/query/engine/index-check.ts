import type { DecodedIndex } from '../../formats/index/packet-index-format.js';

/**
 * Why an index cannot be trusted, or null. Entries are written in record order, so positions must
 * grow strictly and every record must lie inside the data file, with times inside the summary's
 * bounds. A damaged index (e.g. entries repeated in place of others, which indexes written by
 * IndexBuilder.encode before its fix contain) would otherwise make the index path silently miss
 * packets; the file is scanned instead. O(entries), no I/O.
 */
export function inconsistentEntry(index: DecodedIndex, dataLength: number): string | null {
  const c = index.columns;
  const min = BigInt(index.summary.minTsNs);
  const max = BigInt(index.summary.maxTsNs);
  let lastEnd = 0;
  for (let i = 0; i < c.count; i++) {
    const pos = c.pos[i];
    const end = pos + c.len[i];
    if (pos < lastEnd) return `entry ${i} at byte ${pos} overlaps or precedes entry ${i - 1}`;
    if (end > dataLength) return `entry ${i} ends at byte ${end}, past the end of the data file (${dataLength})`;
    const ts = c.ts[i];
    if (ts < min || ts > max) return `entry ${i} has a time outside the index's bounds`;
    lastEnd = end;
  }
  return null;
}
