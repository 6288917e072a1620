/** How many files of a partition may be sealing at once. */
export interface SealLimits {
  /** Always allowed. */
  seals: number;
  /** Never more. */
  maxSeals: number;
  /** Between the two, as long as the seals in flight hold at most this many records. */
  records: number;
}

/**
 * Four files sealing at once whatever their size; small files (Metron's numPackets=1000) up to
 * sixteen, as many as hold 64k records together. A seal's latency is mostly round trips and block
 * closes (three at once, ~0.4 s each on HDFS 3.4), the same for 1,000 packets as for 100,000: a
 * partition of small files needs more in flight to keep up, and they hold little memory (index
 * columns of ~40 bytes a record; the chunk goes back to the pool once sent).
 */
export const DEFAULT_SEAL_LIMITS: SealLimits = { seals: 4, maxSeals: 16, records: 65_536 };

/**
 * The seals of one partition running in the background while its next file fills
 * (docs/exactly-once.md §4). Each seal's first part (completing the data, writing the index) may run
 * beside the others; its ordered part (claim, fence, publish, commit, trim) only after the previous
 * seal succeeded, so commits keep offset order and nothing is claimed after a failure.
 */
export class SealQueue {
  /** One promise per seal in flight, oldest first, settling (never rejecting) when it ends. */
  private readonly inFlight: Promise<void>[] = [];
  /** The newest seal: the next one's ordered part waits for it, and fails if it failed. */
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  /** Records of the seals in flight. */
  private records = 0;

  constructor(
    /** Told of the first failure (the partition must recover). */
    private readonly onFailed: (err: unknown) => void,
    private readonly limits: SealLimits = DEFAULT_SEAL_LIMITS,
  ) {}

  /** Records of the files being sealed (not yet committed). */
  get recordsInFlight(): number {
    return this.records;
  }

  get size(): number {
    return this.inFlight.length;
  }

  /** The first failure since the last reset, or null. */
  get failed(): unknown {
    return this.failure;
  }

  throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }

  /**
   * Waits until a seal of `records` records may start: below `limits.seals` seals, any; up to
   * `limits.maxSeals`, as long as the records in flight stay within `limits.records`.
   */
  async room(records = 0): Promise<void> {
    const { seals, maxSeals, records: budget } = this.limits;
    while (this.inFlight.length >= maxSeals || (this.inFlight.length >= seals && this.records + records > budget))
      await this.inFlight[0];
  }

  /** Waits for every seal in flight to end (never throws: see `failed`). */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight[0];
  }

  /** Starts a seal of `records` records. `seal` must await `previous` before its ordered part (it rejects if that seal failed). */
  start(seal: (previous: Promise<void>) => Promise<unknown>, records = 0): void {
    this.records += records;
    const run = seal(this.tail).finally(() => {
      this.records -= records;
    });
    const done = run.then(() => {});
    done.catch(() => {}); // awaited by the next seal, if any
    this.tail = done;
    const settled = run.then(
      () => {},
      (err) => {
        if (this.failure !== null) return; // a later seal failing because an earlier one did
        this.failure = err;
        this.onFailed(err);
      },
    );
    this.inFlight.push(settled);
    void settled.then(() => this.inFlight.splice(this.inFlight.indexOf(settled), 1));
  }

  /** Forgets the failure and the ordering (after `drain`, when the partition recovers). */
  reset(): void {
    this.tail = Promise.resolve();
    this.failure = null;
  }
}
