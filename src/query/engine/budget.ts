/**
 * One byte budget for every file a query has open: each file's window of packets (and a scanned
 * file's reorder buffer) gets a share, recomputed as files open and finish, so 4 or 400
 * time-overlapping files hold the same memory between them. A file always gets at least one record,
 * so the merge can always move.
 */
export const DEFAULT_QUERY_MEMORY = 32 * 1024 * 1024;
const MIN_SHARE = 16 * 1024;

export class MemoryBudget {
  private active = 0;

  constructor(readonly bytes: number = DEFAULT_QUERY_MEMORY) {}

  /** A file starts (or stops) holding packets. */
  open(): void {
    this.active++;
  }
  close(): void {
    this.active = Math.max(0, this.active - 1);
  }

  /** Files holding packets now. */
  get files(): number {
    return this.active;
  }

  /**
   * Bytes one window (or reorder buffer) may hold now: half a file's share, the other half being the
   * window fetched ahead. `overlapping` is how many planned files overlap this file's time range
   * (known from the plan): a file opened first among 64 overlapping ones must not take the whole
   * budget just because the others are not open yet.
   */
  windowBytes(overlapping = 1): number {
    return Math.max(MIN_SHARE, Math.floor(this.bytes / (2 * Math.max(1, this.active, overlapping))));
  }
}
