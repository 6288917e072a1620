/**
 * Where pcap-tail starts reading each partition: the beginning, the end, an offset (for every
 * partition, or per partition), N records before the end, a group's committed offsets, or a time.
 * Parsing is pure (exit 2 on bad text); resolving needs the topic's offsets from the broker.
 */
import { DateTime } from 'luxon';
import { UsageError } from '../../lib/errors.js';

export type StartSpec =
  | { kind: 'beginning' }
  | { kind: 'end' }
  | { kind: 'stored' }
  /** The same offset in every partition. */
  | { kind: 'offset'; offset: bigint }
  /** `count` records before the end of every partition. */
  | { kind: 'before-end'; count: bigint }
  /** Only these partitions, each from its offset. */
  | { kind: 'per-partition'; offsets: Map<number, bigint> }
  /** The first record whose Kafka timestamp is at or after `ms` (ListOffsets by time). */
  | { kind: 'time'; ms: number };

/**
 * `--offset`: beginning | end | stored | N | -N | P:N[,P:N...]. (pycapa's begin is accepted too.)
 * `--since` (a time) and `--offset` are exclusive.
 */
export function parseStartSpec(offset: string | undefined, since: string | undefined, nowMs: number): StartSpec | null {
  if (offset !== undefined && since !== undefined) throw new UsageError('--offset and --since are exclusive');
  if (since !== undefined) return { kind: 'time', ms: parseTime(since, nowMs, '--since') };
  if (offset === undefined) return null;
  const t = offset.trim().toLowerCase();
  if (t === 'beginning' || t === 'begin' || t === 'earliest' || t === 'start') return { kind: 'beginning' };
  if (t === 'end' || t === 'latest') return { kind: 'end' };
  if (t === 'stored' || t === 'committed') return { kind: 'stored' };
  if (/^\d+$/.test(t)) return { kind: 'offset', offset: BigInt(t) };
  if (/^-\d+$/.test(t)) return { kind: 'before-end', count: BigInt(t.slice(1)) };
  if (/^\d+:\d+(,\d+:\d+)*$/.test(t)) {
    const offsets = new Map<number, bigint>();
    for (const pair of t.split(',')) {
      const [p, o] = pair.split(':');
      if (offsets.has(Number(p))) throw new UsageError(`--offset ${offset}: partition ${p} given twice`);
      offsets.set(Number(p), BigInt(o));
    }
    return { kind: 'per-partition', offsets };
  }
  throw new UsageError(
    `--offset ${offset}: expected beginning, end, stored, N, -N (N before the end) or partition:offset[,partition:offset...]`,
  );
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time: epoch milliseconds, an ISO 8601 date-time (UTC unless it names a zone or offset), or a
 * duration back from now (`10m`, `-10m`, `90s`, `2h`, `1d`).
 */
export function parseTime(text: string, nowMs: number, option: string): number {
  const t = text.trim();
  if (/^\d{10,}$/.test(t)) return Number(t);
  const rel = /^-?(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(t);
  if (rel) return nowMs - Number(rel[1]) * UNIT_MS[rel[2]];
  const iso = DateTime.fromISO(t, { zone: 'utc', setZone: true });
  if (iso.isValid) return iso.toMillis();
  throw new UsageError(
    `${option} ${text}: expected epoch milliseconds, an ISO 8601 time (2026-11-17T14:00:00Z) or a duration back from now (10m, 2h)`,
  );
}

export interface PartitionRange {
  partition: number;
  /** Log start offset. */
  low: bigint;
  /** High watermark (the next offset to be written). */
  high: bigint;
}

export interface StartLookups {
  /** Per partition, the first offset at or after `ms` by Kafka timestamp (high when none). */
  byTime(ms: number): Promise<Map<number, bigint>>;
  /** The group's committed offsets (partitions without one are missing or negative). */
  committed(): Promise<Map<number, bigint>>;
}

export interface ResolvedStart {
  /** Partition → first offset to read. Partitions not in the map are not read. */
  offsets: Map<number, bigint>;
  /** Notes for the user (an offset out of range and where it was moved). */
  notes: string[];
}

export async function resolveStart(
  spec: StartSpec,
  partitions: readonly PartitionRange[],
  lookups: StartLookups,
): Promise<ResolvedStart> {
  const offsets = new Map<number, bigint>();
  const notes: string[] = [];
  const clamp = (r: PartitionRange, o: bigint): bigint => {
    if (o < r.low) {
      notes.push(`partition ${r.partition}: offset ${o} is before the log start; starting at ${r.low}`);
      return r.low;
    }
    if (o > r.high) {
      notes.push(`partition ${r.partition}: offset ${o} is past the end; starting at the end (${r.high})`);
      return r.high;
    }
    return o;
  };
  switch (spec.kind) {
    case 'beginning':
      for (const r of partitions) offsets.set(r.partition, r.low);
      break;
    case 'end':
      for (const r of partitions) offsets.set(r.partition, r.high);
      break;
    case 'offset':
      for (const r of partitions) offsets.set(r.partition, clamp(r, spec.offset));
      break;
    case 'before-end':
      for (const r of partitions) offsets.set(r.partition, laterOf(r.low, r.high - spec.count));
      break;
    case 'per-partition':
      for (const [p, o] of spec.offsets) {
        const r = partitions.find((x) => x.partition === p);
        if (!r) throw new UsageError(`--offset: the topic has no partition ${p} (it has ${partitions.length})`);
        offsets.set(p, clamp(r, o));
      }
      break;
    case 'time': {
      const found = await lookups.byTime(spec.ms);
      for (const r of partitions) offsets.set(r.partition, clamp(r, found.get(r.partition) ?? r.high));
      break;
    }
    case 'stored': {
      const committed = await lookups.committed();
      for (const r of partitions) {
        const c = committed.get(r.partition);
        if (c === undefined || c < 0n) {
          notes.push(`partition ${r.partition}: no committed offset; starting at the beginning`);
          offsets.set(r.partition, r.low);
        } else offsets.set(r.partition, clamp(r, c));
      }
      break;
    }
  }
  return { offsets, notes };
}

/** The larger of two offsets (Math.max does not take bigints). */
const laterOf = (a: bigint, b: bigint): bigint => (a > b ? a : b);
