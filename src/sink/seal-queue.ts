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
 * closes (two at once on HDFS), the same for 1,000 packets as for 100,000: a
 * partition of small files needs more in flight to keep up, and they hold little memory (index
 * columns of ~40 bytes a record; the chunk goes back to the pool once sent).
 */
export const DEFAULT_SEAL_LIMITS: SealLimits = { seals: 4, maxSeals: 16, records: 65_536 };

/**
 * A seal's place in its partition's order. Its claim waits for the previous seal's publish, and its
 * Kafka commit for the previous seal's commit; both reject if that seal failed, so nothing is
 * claimed or committed after a failure.
 */
export interface SealTurn {
  /** Settles when the previous seal has published its file (or ended): await before claiming. */
  previousPublished: Promise<void>;
  /** Settles when the previous seal has committed (or ended): await before committing. */
  previousCommitted: Promise<void>;
  /** This seal has published: the next one may claim (its commit still waits for ours). */
  published(): void;
  /** This seal has committed: the next one may commit. */
  committed(): void;
}

/** A promise settled from outside, never reported as unhandled (it is awaited by the next seal, if any). */
function milestone(): { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * The seals of one partition running in the background while its next file fills
 * (docs/exactly-once.md §4). Each seal's first part (completing the data, writing the index and the
 * temporary claim) may run beside the others. Its ordered part is two chains: claim, fence and
 * publish only after the previous seal published; the Kafka commit only after the previous seal
 * committed. So claims, publishes and commits keep offset order and nothing is claimed after a
 * failure, while one seal's commit and trim overlap the next seal's claim (on a busy cluster the
 * ordered NameNode round trips, not block closes, bound how many small files a partition seals per
 * second).
 */
export class SealQueue {
  /** One promise per seal in flight, oldest first, settling (never rejecting) when it ends. */
  private readonly inFlight: Promise<void>[] = [];
  /** The newest seal's milestones: the next seal waits for them. */
  private lastPublished: Promise<void> = Promise.resolve();
  private lastCommitted: Promise<void> = Promise.resolve();
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

  /**
   * Starts a seal of `records` records. `seal` must await `turn.previousPublished` before it claims
   * and `turn.previousCommitted` before it commits (each rejects if that seal failed), and call
   * `turn.published()` / `turn.committed()` as it gets there. A seal that ends without calling them
   * releases the next one when it ends: on success as if it had, on failure with its error.
   */
  start(seal: (turn: SealTurn) => Promise<unknown>, records = 0): void {
    this.records += records;
    const published = milestone();
    const committed = milestone();
    const run = seal({
      previousPublished: this.lastPublished,
      previousCommitted: this.lastCommitted,
      published: published.resolve,
      committed: committed.resolve,
    }).finally(() => {
      this.records -= records;
    });
    run.then(
      () => {
        published.resolve();
        committed.resolve();
      },
      (err) => {
        published.reject(err);
        committed.reject(err);
      },
    );
    this.lastPublished = published.promise;
    this.lastCommitted = committed.promise;
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
    this.lastPublished = Promise.resolve();
    this.lastCommitted = Promise.resolve();
    this.failure = null;
  }
}
