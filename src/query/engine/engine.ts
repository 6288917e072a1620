/**
 * The query engine: list → prune → per-file matching (index-driven ranged reads, or a scan) →
 * global time-ordered merge. Memory stays bounded: each file contributes at most one window of
 * packets at a time, and files are opened only when the merge reaches their first packet time.
 */
import type { Storage } from '../../storage/types.js';
import type { DecodedIndex } from '../../formats/index/packet-index-format.js';
import { decodeIndex } from '../../formats/index/packet-index-reader.js';
import { SequenceFileReader } from '../../formats/sequencefile/index.js';
import { decodePcapValue } from '../../packet/decode.js';
import { createPacketFields, type PacketFields } from '../../packet/packet-fields.js';
import { parsePcapValue, isPcapValueProblem } from '../../formats/pcap/pcap-record.js';
import type { IndexedFlow, PacketFilter } from '../filter/filter.js';
import { type SelectedFile, selectFiles } from './prune.js';
import { MinHeap } from './min-heap.js';
import { inconsistentEntry } from './index-check.js';
import { listDataFiles } from './listing.js';
import { fetchRecords } from './ranged-read.js';

export { inconsistentEntry } from './index-check.js';
export { listDataFiles } from './listing.js';

export interface QuerySpec {
  basePath: string;
  startNs: bigint;
  endNs: bigint;
  filter: PacketFilter;
  /** False: ignore indexes and scan every selected file. */
  useIndex: boolean;
  /** Files read ahead in parallel. */
  concurrency: number;
}

/** One matching packet, as stored: `value` is the one-packet pcap of the SequenceFile record. */
export interface MatchedPacket {
  tsNs: bigint;
  value: Buffer;
  /** Captured frame inside `value`, its original length and link type. */
  frameOffset: number;
  frameLength: number;
  origLength: number;
  linkType: number;
  file: string;
}

export interface QueryStats {
  filesListed: number;
  filesConsidered: number;
  filesRead: number;
  filesByIndex: number;
  filesScanned: number;
  bytesRead: number;
  packetsMatched: number;
  /** Records found damaged (corrupt file tails, undecodable values): counted, skipped. */
  malformed: number;
  problems: string[];
}

export const newStats = (): QueryStats => ({
  filesListed: 0,
  filesConsidered: 0,
  filesRead: 0,
  filesByIndex: 0,
  filesScanned: 0,
  bytesRead: 0,
  packetsMatched: 0,
  malformed: 0,
  problems: [],
});

const WINDOW = 2048;
/** Scanned files (no index) may hold packets slightly out of time order; this many are reordered. */
const SCAN_REORDER = 10_000;

/** A per-file stream of matches in time order, pulled window by window. */
interface FileStream {
  file: SelectedFile;
  /** Lower bound of the file's packet times (for opening files just in time). */
  startTs: bigint;
  next(): Promise<MatchedPacket | null>;
}

/** An index entry presented to filters without copying its time (read only if a filter asks). */
class EntryView implements IndexedFlow {
  i = 0;
  protocol = 0;
  src = 0;
  dst = 0;
  srcPort = 0;
  dstPort = 0;
  vlan = 0;
  constructor(private readonly ts: BigInt64Array) {}
  get tsNs(): bigint {
    return this.ts[this.i];
  }
}

export class QueryEngine {
  readonly stats = newStats();
  private readonly fields: PacketFields = createPacketFields();

  constructor(
    private readonly storage: Storage,
    private readonly spec: QuerySpec,
  ) {}

  /** Files that can hold packets in the window, and how many were pruned. */
  async plan(): Promise<{ selected: SelectedFile[]; indexes: Map<string, string> }> {
    const { files, indexes } = await listDataFiles(this.storage, this.spec.basePath, this.spec.useIndex);
    this.stats.filesListed = files.length;
    const result = selectFiles(
      files,
      { startNs: this.spec.startNs, endNs: this.spec.endNs },
      { basePath: this.spec.basePath },
    );
    this.stats.filesConsidered = result.selected.length;
    return { selected: result.selected, indexes };
  }

  /** All matching packets in global time order. `onFileDone` reports progress. */
  async *run(onFileDone?: (done: number, total: number) => void): AsyncGenerator<MatchedPacket> {
    const { selected, indexes } = await this.plan();
    const pending = selected
      .map((file) => ({ file, startTs: file.minTsNs ?? file.nameTsNs }))
      .sort((a, b) => (a.startTs < b.startTs ? -1 : a.startTs > b.startTs ? 1 : 0));
    const heap = new MinHeap<{ packet: MatchedPacket; stream: FileStream }>((a, b) =>
      a.packet.tsNs < b.packet.tsNs ? -1 : a.packet.tsNs > b.packet.tsNs ? 1 : a.packet.file < b.packet.file ? -1 : 1,
    );
    let nextFile = 0;
    let done = 0;
    // Streams opened ahead (their first window prefetching) so I/O overlaps the merge.
    const opened: { stream: FileStream; first: Promise<MatchedPacket | null> }[] = [];
    const openAhead = () => {
      while (nextFile < pending.length && opened.length < this.spec.concurrency) {
        const { file, startTs } = pending[nextFile++];
        const stream = this.openFile(file, indexes.get(file.path), startTs);
        const first = stream.next();
        first.catch(() => {});
        opened.push({ stream, first });
      }
    };
    const admit = async (upTo: bigint | null) => {
      openAhead();
      if (!opened.length) return;
      // With nothing to compare against (empty heap), admit the earliest file and its equals only:
      // an open bound here once admitted every file at once (all their first windows in memory).
      const bound = upTo ?? opened[0].stream.startTs;
      while (opened.length && opened[0].stream.startTs <= bound) {
        const { stream, first } = opened.shift()!;
        const packet = await first;
        if (packet) heap.push({ packet, stream });
        else onFileDone?.(++done, pending.length);
        openAhead();
      }
    };
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
  }

  private openFile(file: SelectedFile, indexPath: string | undefined, startTs: bigint): FileStream {
    let iterator: AsyncGenerator<MatchedPacket> | null = null;
    const make = async function* (this: QueryEngine): AsyncGenerator<MatchedPacket> {
      this.stats.filesRead++;
      const index = indexPath ? await this.loadIndex(file, indexPath) : null;
      if (index) {
        this.stats.filesByIndex++;
        yield* this.byIndex(file, index);
      } else {
        this.stats.filesScanned++;
        yield* this.scan(file);
      }
    }.bind(this);
    return {
      file,
      startTs,
      next: async () => {
        iterator ??= make();
        const r = await iterator.next();
        return r.done ? null : r.value;
      },
    };
  }

  /** The file's index, or null (then the file is scanned) when it is missing or does not describe this file. */
  private async loadIndex(file: SelectedFile, indexPath: string): Promise<DecodedIndex | null> {
    try {
      const buf = await this.storage.readBuffer(indexPath);
      this.stats.bytesRead += buf.length;
      const index = await decodeIndex(buf);
      if (index.summary.dataFile !== file.name || index.summary.dataLength !== file.length) {
        this.problem(
          `${file.path}: its index describes another file (${index.summary.dataFile}, ${index.summary.dataLength} bytes); scanning`,
        );
        return null;
      }
      const bad = inconsistentEntry(index, file.length);
      if (bad !== null) {
        this.problem(`${file.path}: its index is inconsistent (${bad}); scanning`);
        return null;
      }
      return index;
    } catch (err) {
      this.problem(`${file.path}: unreadable index ${indexPath} (${(err as Error).message}); scanning`);
      return null;
    }
  }

  private problem(text: string): void {
    if (this.stats.problems.length < 100) this.stats.problems.push(text);
  }

  /** Index-driven: pick entries by time and 5-tuple, then fetch only their byte ranges. */
  private async *byIndex(file: SelectedFile, index: DecodedIndex): AsyncGenerator<MatchedPacket> {
    const { startNs, endNs, filter } = this.spec;
    const c = index.columns;
    const pre = filter.matchesAll ? null : (filter.forAddressTable?.(index.addresses) ?? null);
    const entry = new EntryView(c.ts);
    const hits: number[] = [];
    // A file wholly inside the window (the usual case) needs no per-entry time test; reading a
    // BigInt64Array element allocates a bigint, so entries' times are only read when needed.
    const inside = BigInt(index.summary.minTsNs) >= startNs && BigInt(index.summary.maxTsNs) <= endNs;
    for (let i = 0; i < c.count; i++) {
      if (!inside) {
        const ts = c.ts[i];
        if (ts < startNs || ts > endNs) continue;
      }
      if (pre) {
        entry.i = i;
        entry.protocol = c.protocol[i];
        entry.src = c.src[i];
        entry.dst = c.dst[i];
        entry.srcPort = c.srcPort[i];
        entry.dstPort = c.dstPort[i];
        entry.vlan = c.vlan[i];
        if (!pre(entry)) continue;
      }
      hits.push(i);
    }
    if (!hits.length) return;
    // Stable time order (file order breaks ties), then windows fetched by byte position. Entries are
    // in record order, which is time order unless the sensor's clock stepped back: sort only then.
    let sorted = true;
    for (let k = 1, prev = c.ts[hits[0]]; k < hits.length && sorted; k++) {
      const t = c.ts[hits[k]];
      if (t < prev) sorted = false;
      prev = t;
    }
    if (!sorted) hits.sort((a, b) => (c.ts[a] < c.ts[b] ? -1 : c.ts[a] > c.ts[b] ? 1 : a - b));
    const needsPacketTest = !filter.matchesAll && !(filter.indexExact && pre);
    // The next window is fetched while this one is merged (two windows per file at most).
    const fetchWindow = (w: number) => {
      const window = hits.slice(w, w + WINDOW);
      const records = this.fetchRecords(
        file,
        window.map((i) => c.pos[i]),
        window.map((i) => c.len[i]),
      );
      records.catch(() => {}); // surfaced by the await below
      return { window, records };
    };
    let ahead = fetchWindow(0);
    for (let w = 0; w < hits.length; w += WINDOW) {
      const { window } = ahead;
      const records = await ahead.records;
      if (w + WINDOW < hits.length) ahead = fetchWindow(w + WINDOW);
      for (let k = 0; k < window.length; k++) {
        const value = records[k];
        if (!value) continue;
        const packet = this.toPacket(c.ts[window[k]], value, file.path, needsPacketTest);
        if (packet) yield packet;
      }
    }
  }

  /** Reads records at the given positions with as few ranged reads as the gaps allow. */
  private fetchRecords(file: SelectedFile, positions: number[], lengths: number[]): Promise<(Buffer | null)[]> {
    return fetchRecords(this.storage, file.path, positions, lengths, {
      onBytes: (n) => {
        this.stats.bytesRead += n;
      },
      onDamaged: (position, detail) => {
        this.stats.malformed++;
        this.problem(`${file.path}: record at ${position}: ${detail}`);
      },
    });
  }

  /** Scan: stream the whole file, test every record in the window. */
  private async *scan(file: SelectedFile): AsyncGenerator<MatchedPacket> {
    const { startNs, endNs } = this.spec;
    const reader = new SequenceFileReader(await this.storage.read(file.path));
    // Ties keep file order (as the index path does): the heap alone is not stable.
    const reorder = new MinHeap<{ packet: MatchedPacket; seq: number }>((a, b) =>
      a.packet.tsNs < b.packet.tsNs ? -1 : a.packet.tsNs > b.packet.tsNs ? 1 : a.seq - b.seq,
    );
    let seq = 0;
    try {
      for await (const rec of reader) {
        const ts = rec.tsNs;
        if (ts === null) {
          this.stats.malformed++;
          continue;
        }
        if (ts < startNs || ts > endNs) continue;
        // The reader's value is a view into its chunk: keep a copy only for packets that match.
        const packet = this.toPacket(ts, rec.value, file.path, !this.spec.filter.matchesAll, true);
        if (!packet) continue;
        reorder.push({ packet, seq: seq++ });
        if (reorder.size > SCAN_REORDER) yield reorder.pop()!.packet;
      }
      if (reader.summary.torn)
        this.problem(`${file.path}: ends inside a record (${reader.summary.tornBytes} bytes ignored)`);
    } catch (err) {
      this.stats.malformed++;
      this.problem(`${file.path}: ${(err as Error).message}; the rest of the file is skipped`);
    } finally {
      this.stats.bytesRead += reader.summary.validEnd + reader.summary.tornBytes;
    }
    while (reorder.size) yield reorder.pop()!.packet;
  }

  private toPacket(tsNs: bigint, value: Buffer, file: string, test: boolean, copy = false): MatchedPacket | null {
    const info = parsePcapValue(value);
    if (isPcapValueProblem(info)) {
      this.stats.malformed++;
      return null;
    }
    const frameLength = info.inclLen;
    if (test) {
      const f = this.fields;
      decodePcapValue(value, f);
      f.tsNs = tsNs;
      if (!this.spec.filter.test(f, value, info.frameOffset, info.frameOffset + frameLength)) return null;
    }
    const bytes = copy ? Buffer.from(value) : value;
    return {
      tsNs,
      value: bytes,
      frameOffset: info.frameOffset,
      frameLength,
      origLength: info.origLen,
      linkType: info.linkType,
      file,
    };
  }
}
