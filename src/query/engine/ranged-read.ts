/**
 * Fetching a set of records from one data file with few ranged reads: records closer than
 * RANGE_GAP share one read (a WebHDFS OPEN with offset and length costs a round trip, a few KiB of
 * gap cost nothing), no read exceeds the window's byte share (so memory stays within the query's
 * budget), and matched values are copied out of range buffers that also hold gap bytes, so no gap
 * outlives its read.
 */
import { isRecordProblem, parseRecordAt } from '../../formats/sequencefile/index.js';

/** Two matching records closer than this are fetched in one ranged read. */
export const RANGE_GAP = 64 * 1024;
/** No single ranged read is longer than this. */
export const MAX_RANGE = 8 * 1024 * 1024;
/** Ranged reads in flight per file. */
const READS_IN_FLIGHT = 4;

export interface ByteRange {
  start: number;
  end: number;
  /** Indexes (into the caller's arrays) of the records inside this range. */
  members: number[];
}

/** Groups records (by position and length) into ranges, in file order. Pure: no I/O. */
export function coalesceRanges(
  positions: readonly number[],
  lengths: readonly number[],
  maxRange: number = MAX_RANGE,
): ByteRange[] {
  const order = positions.map((_, k) => k).sort((a, b) => positions[a] - positions[b]);
  const ranges: ByteRange[] = [];
  for (const k of order) {
    const start = positions[k];
    const end = start + lengths[k];
    const last = ranges[ranges.length - 1];
    if (last && start - last.end <= RANGE_GAP && end - last.start <= maxRange) {
      last.end = Math.max(last.end, end);
      last.members.push(k);
    } else ranges.push({ start, end, members: [k] });
  }
  return ranges;
}

export interface FetchObserver {
  onBytes(n: number): void;
  /** A record that does not parse where the index says it is. */
  onDamaged(position: number, detail: string): void;
}

/**
 * The values of the records at `positions` (SequenceFile record starts) in the caller's order, each
 * a view into one buffer owned by this window; null for a record that is damaged.
 */
export async function fetchRecords(
  read: (offset: number, length: number) => Promise<Buffer>,
  positions: readonly number[],
  lengths: readonly number[],
  observer: FetchObserver,
  maxRange: number = MAX_RANGE,
  keyType: 'long' | 'int' = 'long',
): Promise<(Buffer | null)[]> {
  const ranges = coalesceRanges(positions, lengths, Math.max(1, Math.min(MAX_RANGE, maxRange)));
  const out: (Buffer | null)[] = new Array(positions.length).fill(null);
  // Matched values are copied into one buffer per window when their range read also brought gap
  // bytes (which must not stay alive with them); a range of back-to-back records is kept as read.
  let total = 0;
  for (const l of lengths) total += l;
  let window: Buffer | null = null;
  let used = 0;
  let cursor = 0;
  const worker = async () => {
    while (cursor < ranges.length) {
      const range = ranges[cursor++];
      const buf = await read(range.start, range.end - range.start);
      observer.onBytes(buf.length);
      let wanted = 0;
      for (const k of range.members) wanted += lengths[k];
      const dense = wanted === buf.length;
      for (const k of range.members) {
        const parsed = parseRecordAt(buf, positions[k] - range.start, keyType, { filePosition: range.start });
        if (isRecordProblem(parsed)) {
          observer.onDamaged(positions[k], parsed.detail);
          continue;
        }
        const v = parsed.record.value;
        if (dense) out[k] = v;
        else if (used + v.length > total) observer.onDamaged(positions[k], 'record longer than its index entry says');
        else {
          window ??= Buffer.allocUnsafe(total);
          v.copy(window, used);
          out[k] = window.subarray(used, used + v.length);
          used += v.length;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT, ranges.length) }, worker));
  return out;
}
