/**
 * Many ranged reads of one local file (a query's index pieces and records). A one-flow query makes
 * about two small reads per packet it returns, thousands per query, so the cost per read matters
 * more than the bytes: this uses a bare descriptor and fs's callback API (a FileHandle and its
 * promise wrappers cost more than the pread itself on cached data), and answers small reads
 * synchronously while the page cache holds them (see CachedReadGate).
 */
import {
  close as closeFd,
  closeSync,
  fstat,
  fstatSync,
  open as openFd,
  openSync,
  read as readFd,
  readSync,
} from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { RangedReader } from './types.js';

/** Reads up to this many bytes may be answered synchronously; longer ones always overlap. */
const SYNC_READ_MAX = 64 * 1024;
/** A synchronous call slower than this did not come from the page cache (cached preads take µs). */
const SLOW_CALL_MS = 0.2;
/** The gate closes when half of the last HISTORY synchronous calls were slow... */
const HISTORY = 32;
/** ...or at once after one call this slow (a stalled disk or network file system). */
const STALLED_CALL_MS = 50;

/**
 * Whether small reads and opens are still done synchronously. On page-cached data a synchronous
 * pread costs the event loop a few µs and an asynchronous one 13–21 µs (two thread-pool hand-offs and
 * a wake-up), which is most of a one-flow query's time over a large store. But a synchronous call
 * that waits for the disk blocks the event loop and serialises I/O. So the gate watches its calls and
 * closes for good once they go to the disk: half of the last 32 slower than 0.2 ms, or one over
 * 50 ms. A lone slow call is the scheduler, not the disk (a busy machine preempts a thread anywhere),
 * and must not turn a cached store asynchronous. A cold store pays a few blocking reads, then every
 * read overlaps on the thread pool.
 */
export class CachedReadGate {
  private open = true;
  private calls = 0;
  /** One bit per recent call, newest lowest: 1 = slow. */
  private history = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  get synchronous(): boolean {
    return this.open;
  }

  /** Runs a synchronous call and records how long it took. */
  timed<T>(call: () => T): T {
    const t0 = this.now();
    try {
      return call();
    } finally {
      this.record(this.now() - t0);
    }
  }

  private record(ms: number): void {
    this.history = ((this.history << 1) | (ms > SLOW_CALL_MS ? 1 : 0)) >>> 0;
    this.calls++;
    if (ms > STALLED_CALL_MS || (this.calls >= HISTORY && popcount(this.history) * 2 >= HISTORY)) this.open = false;
  }
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x; v !== 0; v &= v - 1) n++;
  return n;
}

/** Ranged reads of one local file, and its current size. */
export interface LocalRangedReader extends RangedReader {
  size(): Promise<number>;
}

/** Opens `file` for ranged reads; `mapError` turns fs errors of reading it into the store's errors. */
export async function openLocalRanged(
  file: string,
  gate: CachedReadGate,
  mapError: (err: unknown, overrides?: Record<string, string>) => Error,
): Promise<LocalRangedReader> {
  let fd: number;
  try {
    fd = gate.synchronous
      ? gate.timed(() => openSync(file, 'r'))
      : await new Promise<number>((res, rej) => openFd(file, 'r', (e, f) => (e ? rej(e) : res(f))));
  } catch (err) {
    throw mapError(err);
  }
  const pread = (out: Buffer, at: number, length: number, position: number) =>
    new Promise<number>((res, rej) => readFd(fd, out, at, length, position, (e, n) => (e ? rej(e) : res(n))));
  // The descriptor closes only after the reads in flight, whole (a read may take several preads, and
  // a query that stops early closes its files while their read-ahead runs): its number is reused by
  // the next open, so a late pread would read another file.
  let reading = 0;
  let idle: (() => void) | null = null;
  let closed: Promise<void> | null = null;
  return {
    size: async () => {
      try {
        const st = gate.synchronous
          ? gate.timed(() => fstatSync(fd))
          : await new Promise<{ size: number }>((res, rej) => fstat(fd, (e, st) => (e ? rej(e) : res(st))));
        return st.size;
      } catch (err) {
        throw mapError(err);
      }
    },
    read: async (offset: number, want: number) => {
      if (closed !== null) throw mapError(Object.assign(new Error('file closed'), { code: 'EBADF' }));
      const out = Buffer.allocUnsafe(want);
      let got = 0;
      reading++;
      try {
        while (got < want) {
          const bytesRead =
            want <= SYNC_READ_MAX && gate.synchronous
              ? gate.timed(() => readSync(fd, out, got, want - got, offset + got))
              : await pread(out, got, want - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
      } catch (err) {
        // pread on a directory fails with EISDIR: HDFS says FileNotFoundException ("Path is not a file").
        throw mapError(err, { EISDIR: 'FileNotFoundException' });
      } finally {
        if (--reading === 0) idle?.();
      }
      return got === want ? out : out.subarray(0, got);
    },
    // Once only: a second close could close whichever file reused the number.
    close: () => {
      closed ??= (async () => {
        if (reading > 0) await new Promise<void>((res) => (idle = res));
        if (gate.synchronous) closeSync(fd);
        else await new Promise<void>((res, rej) => closeFd(fd, (e) => (e ? rej(e) : res())));
      })();
      return closed;
    },
  };
}
