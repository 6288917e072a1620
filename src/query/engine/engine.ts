/**
 * The query engine: plan (catalog or listing) → per-file matching (index v2 postings, v1 entries, or
 * a scan) → global time-ordered merge. Memory stays bounded: files are opened only when the merge
 * reaches their first packet time, and every file's window comes from one byte budget.
 */
import { IndexFormatError, parseContainerHeader } from '../../formats/index/avro-binary.js';
import type { DecodedIndex } from '../../formats/index/packet-index-format.js';
import { readIndexColumns } from '../../formats/index/packet-index-reader.js';
import { type ByteSource, IndexV2 } from '../../formats/index/v2/reader.js';
import { openRangedReader } from '../../storage/util.js';
import { isStorageError } from '../../storage/errors.js';
import type { RangedReader, Storage } from '../../storage/types.js';
import { MemoryBudget } from './budget.js';
import {
  type MatchedPacket,
  type StreamContext,
  streamByIndexV1,
  streamByIndexV2,
  streamByScan,
} from './file-streams.js';
import { inconsistentEntry } from './index-check.js';
import { MinHeap } from './min-heap.js';
import { planFiles, type PlannedFile } from './planner.js';
import { newStats, type QuerySpec } from './query-types.js';

export type { MatchedPacket } from './file-streams.js';
export { newStats, type QuerySpec, type QueryStats } from './query-types.js';
export { inconsistentEntry } from './index-check.js';
export { listDataFiles } from './listing.js';

/** A per-file stream of matches in time order. */
interface FileStream {
  file: PlannedFile;
  /** Lower bound of the file's packet times (for opening files just in time). */
  startTs: bigint;
  next(): Promise<MatchedPacket | null>;
  /** Ends the stream early (releases its open files). */
  close(): Promise<void>;
}

/** Holds a v2 header whole up to ~1,400 column chunks (180,000-packet files); longer ones take a second read. */
const FIRST_INDEX_READ = 32 * 1024;

export class QueryEngine {
  readonly stats = newStats();
  private readonly budget: MemoryBudget;
  private readonly ctx: StreamContext;

  constructor(
    private readonly storage: Storage,
    private readonly spec: QuerySpec,
  ) {
    this.budget = new MemoryBudget(spec.memoryBytes);
    this.ctx = {
      storage,
      startNs: spec.startNs,
      endNs: spec.endNs,
      filter: spec.filter,
      windowBytes: () => this.budget.windowBytes(),
      stats: this.stats,
      problem: (text) => this.problem(text),
    };
  }

  /** Files that can hold packets in the window. */
  async plan(): Promise<PlannedFile[]> {
    const planned = await planFiles(this.storage, this.spec, this.stats);
    // Files in the window, including those the catalog's sketches ruled out (considered, not read).
    this.stats.filesConsidered = planned.length + this.stats.filesSkipped;
    return planned;
  }

  /** All matching packets in global time order. `onFileDone` reports progress. */
  async *run(onFileDone?: (done: number, total: number) => void): AsyncGenerator<MatchedPacket> {
    const selected = await this.plan();
    const pending = selected
      .map((file) => ({ file, startTs: file.minTsNs ?? file.nameTsNs }))
      .sort((a, b) => (a.startTs < b.startTs ? -1 : a.startTs > b.startTs ? 1 : 0));
    const overlaps = overlapCounts(pending);
    const heap = new MinHeap<{ packet: MatchedPacket; stream: FileStream }>((a, b) =>
      a.packet.tsNs < b.packet.tsNs ? -1 : a.packet.tsNs > b.packet.tsNs ? 1 : a.packet.file < b.packet.file ? -1 : 1,
    );
    let nextFile = 0;
    let done = 0;
    // Streams opened ahead (their first window prefetching) so I/O overlaps the merge.
    const opened: { stream: FileStream; first: Promise<MatchedPacket | null> }[] = [];
    const openAhead = () => {
      while (nextFile < pending.length && opened.length < this.spec.concurrency) {
        const overlapping = overlaps[nextFile];
        const { file, startTs } = pending[nextFile++];
        const stream = this.openFile(file, startTs, overlapping);
        const first = stream.next();
        first.catch(() => {});
        opened.push({ stream, first });
      }
    };
    const admit = async (upTo: bigint | null) => {
      openAhead();
      if (!opened.length) return;
      // With nothing to compare against (empty heap), admit the earliest file and its equals only.
      const bound = upTo ?? opened[0].stream.startTs;
      while (opened.length && opened[0].stream.startTs <= bound) {
        const { stream, first } = opened.shift()!;
        const packet = await first;
        if (packet) heap.push({ packet, stream });
        else onFileDone?.(++done, pending.length);
        openAhead();
      }
    };
    try {
      for (;;) {
        // A file may hold packets earlier than the heap's minimum: admit every file starting before it.
        const top = heap.peek();
        if (!top) {
          if (!opened.length && nextFile >= pending.length) break;
          await admit(opened.length ? opened[0].stream.startTs : null);
          continue;
        }
        if (opened.length && opened[0].stream.startTs <= top.packet.tsNs) {
          await admit(top.packet.tsNs);
          continue;
        }
        heap.pop();
        this.stats.packetsMatched++;
        yield top.packet;
        const following = await top.stream.next();
        if (following) heap.push({ packet: following, stream: top.stream });
        else onFileDone?.(++done, pending.length);
      }
    } finally {
      // Stopped early (a limit, or the reader went away): release every file still open.
      await Promise.all([...opened.map((o) => o.stream.close()), ...heap.drain().map((h) => h.stream.close())]);
    }
  }

  private openFile(file: PlannedFile, startTs: bigint, overlapping: number): FileStream {
    let iterator: AsyncGenerator<MatchedPacket> | null = null;
    let finished = false;
    const ctx: StreamContext = { ...this.ctx, windowBytes: () => this.budget.windowBytes(overlapping) };
    const make = async function* (this: QueryEngine): AsyncGenerator<MatchedPacket> {
      this.stats.filesRead++;
      // The index file stays open while the stream reads its pieces.
      const opened: { reader: Promise<RangedReader> | null } = { reader: null };
      const source = {
        read: async (offset: number, length: number) => {
          opened.reader ??= openRangedReader(this.storage, file.indexPath!);
          const b = await (await opened.reader).read(offset, length);
          this.stats.bytesRead += b.length;
          return b;
        },
      };
      try {
        const index = file.indexPath ? await this.loadIndex(file, file.indexPath, source) : null;
        if (index === 'gone') return;
        if (index) this.stats.filesByIndex++;
        else this.stats.filesScanned++;
        if (index instanceof IndexV2) yield* this.byIndexV2(ctx, file, index);
        else if (index) yield* streamByIndexV1(ctx, file.path, index);
        else yield* streamByScan(ctx, file.path);
      } finally {
        if (opened.reader !== null) await opened.reader.then((r) => r.close()).catch(() => {});
      }
    }.bind(this);
    return {
      file,
      startTs,
      close: async () => {
        if (iterator && !finished) {
          finished = true;
          this.budget.close();
          await iterator.return(undefined).catch(() => {});
        }
      },
      next: async () => {
        if (finished) return null;
        if (!iterator) {
          iterator = make();
          this.budget.open();
        }
        const r = await iterator.next().catch((err: unknown) => {
          this.budget.close();
          finished = true;
          throw err;
        });
        if (r.done) {
          finished = true;
          this.budget.close();
          return null;
        }
        return r.value;
      },
    };
  }

  /** Index v2, falling back to a scan when the index turns out damaged before any packet came from it. */
  private async *byIndexV2(ctx: StreamContext, file: PlannedFile, index: IndexV2): AsyncGenerator<MatchedPacket> {
    let yielded = 0;
    try {
      for await (const p of streamByIndexV2(ctx, file.path, index)) {
        yielded++;
        yield p;
      }
    } catch (err) {
      if (!(err instanceof IndexFormatError)) throw err;
      if (yielded === 0) {
        this.problem(`${file.path}: its index is damaged (${err.message}); scanning`);
        this.stats.filesByIndex--;
        this.stats.filesScanned++;
        yield* streamByScan(ctx, file.path);
      } else {
        this.problem(
          `${file.path}: its index is damaged past packet ${yielded} (${err.message}); the rest of this file was not read (run pcap-reindex, or query with --no-index)`,
        );
      }
    }
  }

  /**
   * The file's index (v2: its header only; v1: decoded whole), null when the file must be scanned
   * (missing, damaged, or describing another file), 'gone' when the data file is not there (an index
   * whose data was never published, or was deleted).
   */
  private async loadIndex(
    file: PlannedFile,
    indexPath: string,
    source: ByteSource,
  ): Promise<IndexV2 | DecodedIndex | null | 'gone'> {
    try {
      // The data file's length comes with the listing; a catalog plan asks for it alongside the header.
      const [first, length] = await Promise.all([
        source.read(0, FIRST_INDEX_READ),
        file.length !== undefined ? file.length : this.storage.stat(file.path).then((s) => s?.length ?? null),
      ]);
      if (length === null) return 'gone';
      file.length = length;
      const header = parseContainerHeader(first);
      let index: IndexV2 | DecodedIndex;
      if (header && IndexV2.isV2(header.meta)) index = IndexV2.fromHeader(header.meta, header.dataStart, source);
      else if (header) {
        let whole = Buffer.from(first.buffer, first.byteOffset, first.length);
        if (first.length >= FIRST_INDEX_READ) {
          whole = await this.storage.readBuffer(indexPath);
          this.stats.bytesRead += whole.length;
        }
        index = readIndexColumns(whole);
      } else index = await IndexV2.open(source, first);
      const summary = index.summary;
      if (summary.dataFile !== file.name || summary.dataLength !== length) {
        this.problem(
          `${file.path}: its index describes another file (${summary.dataFile}, ${summary.dataLength} bytes); scanning`,
        );
        return null;
      }
      if (!(index instanceof IndexV2)) {
        const bad = inconsistentEntry(index, length);
        if (bad !== null) {
          this.problem(`${file.path}: its index is inconsistent (${bad}); scanning`);
          return null;
        }
      }
      return index;
    } catch (err) {
      if (isStorageError(err, 'FileNotFoundException')) return (await this.storage.stat(file.path)) ? null : 'gone';
      if (!(err instanceof IndexFormatError) && !(err instanceof SyntaxError) && !isStorageError(err)) throw err;
      this.problem(`${file.path}: unreadable index ${indexPath} (${(err as Error).message}); scanning`);
      return null;
    }
  }

  private problem(text: string): void {
    if (this.stats.problems.length < 100) this.stats.problems.push(text);
  }
}

/**
 * For each file, how many planned files' time ranges meet its own: the files the merge may hold
 * open together while it reads this one (a file without an index is taken to end where it starts).
 */
function overlapCounts(files: readonly { file: PlannedFile; startTs: bigint }[]): number[] {
  const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
  const starts = files.map((f) => f.startTs).sort(cmp);
  const ends = files.map((f) => f.file.maxTsNs ?? f.startTs).sort(cmp);
  /** Number of values in the sorted `xs` that are below `v` (or at most `v` with `inclusive`). */
  const rank = (xs: bigint[], v: bigint, inclusive: boolean) => {
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < v || (inclusive && xs[mid] === v)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // Files meeting [s, e]: those starting at or before e, minus those ending before s.
  return files.map(({ file, startTs }) => rank(starts, file.maxTsNs ?? startTs, true) - rank(ends, startTs, false));
}
