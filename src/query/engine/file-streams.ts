/**
 * Per-file streams of matching packets, in time order, window by window: through an index v2
 * (postings, then only the column chunks and records of the candidates), through a v1 index (every
 * entry tested), or by scanning the data file. Every window's bytes come from the query's one
 * budget; matched records are copied out of the range buffers.
 */
import type { DecodedIndex } from '../../formats/index/packet-index-format.js';
import { chunkFirstTs } from '../../formats/index/v2/format.js';
import type { ColumnSpan, IndexV2 } from '../../formats/index/v2/reader.js';
import { SequenceFileReader } from '../../formats/sequencefile/index.js';
import { createPacketFields } from '../../packet/packet-fields.js';
import { openRangedReader } from '../../storage/util.js';
import type { RangedReader, Storage } from '../../storage/types.js';
import type { IndexedFlow, PacketFilter } from '../filter/filter.js';
import { MinHeap } from './min-heap.js';
import { createPcapHeader, decodeWithHeader, readPcapHeader } from './packet-view.js';
import { evaluateTermPlan } from './postings.js';
import { fetchRecords } from './ranged-read.js';

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

export interface StreamStats {
  bytesRead: number;
  malformed: number;
}

export interface StreamContext {
  storage: Storage;
  startNs: bigint;
  endNs: bigint;
  filter: PacketFilter;
  /** Bytes one window (or reorder buffer) of this file may hold now (its share of the query's budget). */
  windowBytes(): number;
  stats: StreamStats;
  problem(text: string): void;
}

/** At most this many records per window (besides the byte share). */
const WINDOW = 2048;
/** Scanned files may hold packets slightly out of time order; at most this many are reordered. */
const SCAN_REORDER = 10_000;
/** Column chunks decoded at once (128 packets each). */
const CHUNKS_PER_READ = 64;

/** Turns stored values into matched packets: headers parsed once, frames decoded only to test. */
class PacketMaker {
  private readonly fields = createPacketFields();
  private readonly header = createPcapHeader();
  constructor(private readonly ctx: StreamContext) {}

  make(tsNs: bigint, value: Buffer, file: string, test: boolean): MatchedPacket | null {
    const h = this.header;
    if (!readPcapHeader(value, h)) {
      this.ctx.stats.malformed++;
      return null;
    }
    if (test) {
      decodeWithHeader(value, h, tsNs, this.fields);
      if (!this.ctx.filter.test(this.fields, value, h.frameOffset, h.frameOffset + h.inclLen)) return null;
    }
    return {
      tsNs,
      value,
      frameOffset: h.frameOffset,
      frameLength: h.inclLen,
      origLength: h.origLen,
      linkType: h.linkType,
      file,
    };
  }
}

/** Records to fetch: times, positions, lengths (parallel arrays), in time order. */
interface HitWindow {
  ts: bigint[];
  pos: number[];
  len: number[];
}

/** Fetches windows of records (the next one while the current one is merged) and yields matches. */
async function* fetchWindows(
  ctx: StreamContext,
  path: string,
  windows: AsyncGenerator<HitWindow>,
  test: boolean,
  keyType: 'long' | 'int' = 'long',
): AsyncGenerator<MatchedPacket> {
  const maker = new PacketMaker(ctx);
  const data: { reader: Promise<RangedReader> | null } = { reader: null };
  const read = async (offset: number, length: number) => {
    data.reader ??= openRangedReader(ctx.storage, path);
    return (await data.reader).read(offset, length);
  };
  const fetch = (w: HitWindow) => {
    const records = fetchRecords(
      read,
      w.pos,
      w.len,
      {
        onBytes: (n) => {
          ctx.stats.bytesRead += n;
        },
        onDamaged: (position, detail) => {
          ctx.stats.malformed++;
          ctx.problem(`${path}: record at ${position}: ${detail}`);
        },
      },
      ctx.windowBytes(),
      keyType,
    );
    records.catch(() => {}); // surfaced by the await below
    return { w, records };
  };
  try {
    let next = await windows.next();
    if (next.done) return;
    let ahead = fetch(next.value);
    for (;;) {
      const { w, records } = ahead;
      const values = await records;
      next = await windows.next();
      if (!next.done) ahead = fetch(next.value);
      for (let k = 0; k < values.length; k++) {
        const value = values[k];
        if (!value) continue;
        const packet = maker.make(w.ts[k], value, path, test);
        if (packet) yield packet;
      }
      if (next.done) return;
    }
  } finally {
    if (data.reader !== null) await data.reader.then((r) => r.close()).catch(() => {});
  }
}

/** Cuts hits into windows of at most WINDOW records and the budget's bytes (at least one record). */
class WindowCutter {
  private w: HitWindow = { ts: [], pos: [], len: [] };
  private bytes = 0;
  constructor(private readonly windowBytes: () => number) {}
  /** Adds a hit; returns a full window to emit, if this hit completed one. */
  add(ts: bigint, pos: number, len: number): HitWindow | null {
    let full: HitWindow | null = null;
    if (this.w.ts.length && (this.w.ts.length >= WINDOW || this.bytes + len > this.windowBytes())) {
      full = this.w;
      this.w = { ts: [], pos: [], len: [] };
      this.bytes = 0;
    }
    this.w.ts.push(ts);
    this.w.pos.push(pos);
    this.w.len.push(len);
    this.bytes += len;
    return full;
  }
  rest(): HitWindow | null {
    return this.w.ts.length ? this.w : null;
  }
}

/** Index v2: postings decide the candidates; only their column chunks and records are read. */
export async function* streamByIndexV2(
  ctx: StreamContext,
  path: string,
  index: IndexV2,
): AsyncGenerator<MatchedPacket> {
  const { startNs, endNs, filter } = ctx;
  const plan = filter.matchesAll ? null : filter.termPlan;
  const { ordinals, exact } = await evaluateTermPlan(index, plan);
  const test = !filter.matchesAll && !(exact && plan !== null);
  const count = index.count;
  const per = index.directory.chunkPackets;
  const chunks = index.chunks;
  const inside = index.minTsNs >= startNs && index.maxTsNs <= endNs;
  const ordered = index.summary.timeOrdered === true;
  // Time-ordered files partly in the window: only the chunks that can hold window times.
  let lo = 0;
  let hi = count;
  if (!inside && ordered && chunks.length) {
    const s = startNs - index.minTsNs;
    const e = endNs - index.minTsNs;
    let c0 = 0;
    while (c0 + 1 < chunks.length && chunkFirstTs(chunks, c0 + 1) <= s) c0++;
    let c1 = c0;
    while (c1 < chunks.length && chunkFirstTs(chunks, c1) <= e) c1++;
    lo = c0 * per;
    hi = Math.min(count, c1 * per);
  }
  const nHits = ordinals === null ? Math.max(0, hi - lo) : ordinals.length;
  if (nHits === 0) return;
  const ordinalAt = (k: number) => (ordinals === null ? lo + k : ordinals[k]);
  const keep = (ts: bigint) => inside || (ts >= startNs && ts <= endNs);

  // Column chunks of the next candidates (up to CHUNKS_PER_READ distinct chunks, read together).
  let k = 0;
  const spans = new Map<number, ColumnSpan>();
  const nextHit = async (): Promise<{ ts: bigint; pos: number; len: number; o: number } | null> => {
    for (; k < nHits; ) {
      const o = ordinalAt(k++);
      if (o < lo || o >= hi) continue;
      const c = Math.floor(o / per);
      let span = spans.get(c);
      if (!span || o - span.first >= span.count) {
        spans.clear();
        // The chunks of the next candidates, each decoded only as far as its last candidate.
        const ids: number[] = [c];
        const need: number[] = [o - c * per + 1];
        const slot = new Map<number, number>([[c, 0]]);
        for (let j = k; j < nHits; j++) {
          const oj = ordinalAt(j);
          const cj = Math.floor(oj / per);
          if (cj >= chunks.length) continue;
          const at = slot.get(cj);
          if (at !== undefined) need[at] = Math.max(need[at], oj - cj * per + 1);
          else if (ids.length < CHUNKS_PER_READ) {
            slot.set(cj, ids.length);
            ids.push(cj);
            need.push(oj - cj * per + 1);
          } else break;
        }
        const read = await index.readChunks(ids, need);
        for (let x = 0; x < ids.length; x++) spans.set(ids[x], read[x]);
        span = spans.get(c)!;
      }
      const j = o - span.first;
      const ts = index.minTsNs + BigInt(span.tsOffset[j]);
      if (keep(ts)) return { ts, pos: span.pos[j], len: span.len[j], o };
    }
    return null;
  };

  async function* windows(): AsyncGenerator<HitWindow> {
    const cut = new WindowCutter(() => ctx.windowBytes());
    if (ordered) {
      for (let h = await nextHit(); h; h = await nextHit()) {
        const full = cut.add(h.ts, h.pos, h.len);
        if (full) yield full;
      }
    } else {
      // The sensor's clock stepped back inside this file: order the candidates by time first.
      const hits: { ts: bigint; pos: number; len: number; o: number }[] = [];
      for (let h = await nextHit(); h; h = await nextHit()) hits.push(h);
      hits.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.o - b.o));
      for (const h of hits) {
        const full = cut.add(h.ts, h.pos, h.len);
        if (full) yield full;
      }
    }
    const rest = cut.rest();
    if (rest) yield rest;
  }
  yield* fetchWindows(ctx, path, windows(), test, index.summary.keyType === 'int' ? 'int' : 'long');
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

/** Index v1: every entry tested against the window and the pre-filter, then matching records read. */
export async function* streamByIndexV1(
  ctx: StreamContext,
  path: string,
  index: DecodedIndex,
): AsyncGenerator<MatchedPacket> {
  const { startNs, endNs, filter } = ctx;
  const c = index.columns;
  const pre = filter.matchesAll ? null : (filter.forAddressTable?.(index.addresses) ?? null);
  const entry = new EntryView(c.ts);
  const hits: number[] = [];
  // A file wholly inside the window needs no per-entry time test (reading a BigInt64Array element
  // allocates a bigint).
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
  // Entries are in record order, which is time order unless the sensor's clock stepped back.
  let sorted = true;
  for (let k = 1, prev = c.ts[hits[0]]; k < hits.length && sorted; k++) {
    const t = c.ts[hits[k]];
    if (t < prev) sorted = false;
    prev = t;
  }
  if (!sorted) hits.sort((a, b) => (c.ts[a] < c.ts[b] ? -1 : c.ts[a] > c.ts[b] ? 1 : a - b));
  const test = !filter.matchesAll && !(filter.indexExact && pre);
  async function* windows(): AsyncGenerator<HitWindow> {
    const cut = new WindowCutter(() => ctx.windowBytes());
    for (const i of hits) {
      const full = cut.add(c.ts[i], c.pos[i], c.len[i]);
      if (full) yield full;
    }
    const rest = cut.rest();
    if (rest) yield rest;
  }
  yield* fetchWindows(ctx, path, windows(), test);
}

/** Scan: stream the whole file, test every record in the window, reorder within the budget. */
export async function* streamByScan(ctx: StreamContext, path: string): AsyncGenerator<MatchedPacket> {
  const { startNs, endNs, filter } = ctx;
  const maker = new PacketMaker(ctx);
  const reader = new SequenceFileReader(await ctx.storage.read(path));
  // Ties keep file order (as the index path does): the heap alone is not stable.
  const reorder = new MinHeap<{ packet: MatchedPacket; seq: number }>((a, b) =>
    a.packet.tsNs < b.packet.tsNs ? -1 : a.packet.tsNs > b.packet.tsNs ? 1 : a.seq - b.seq,
  );
  let seq = 0;
  let held = 0;
  try {
    for await (const rec of reader) {
      const ts = rec.tsNs;
      if (ts === null) {
        ctx.stats.malformed++;
        continue;
      }
      if (ts < startNs || ts > endNs) continue;
      // The reader's value is a view into its chunk: test first, then copy only what matched.
      const packet = maker.make(ts, rec.value, path, !filter.matchesAll);
      if (!packet) continue;
      packet.value = Buffer.from(packet.value);
      reorder.push({ packet, seq: seq++ });
      held += packet.value.length;
      while (reorder.size > SCAN_REORDER || (reorder.size > 1 && held > ctx.windowBytes())) {
        const out = reorder.pop()!.packet;
        held -= out.value.length;
        yield out;
      }
    }
    if (reader.summary.torn) ctx.problem(`${path}: ends inside a record (${reader.summary.tornBytes} bytes ignored)`);
  } catch (err) {
    ctx.stats.malformed++;
    ctx.problem(`${path}: ${(err as Error).message}; the rest of the file is skipped`);
  } finally {
    ctx.stats.bytesRead += reader.summary.validEnd + reader.summary.tornBytes;
  }
  while (reorder.size) yield reorder.pop()!.packet;
}
