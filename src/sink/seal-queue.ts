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

  constructor(
    /** Seals in flight at most: bounds the memory and the uncommitted records held. */
    private readonly max: number,
    /** Told of the first failure (the partition must recover). */
    private readonly onFailed: (err: unknown) => void,
  ) {}

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

  /** Waits until another seal may start. */
  async room(): Promise<void> {
    while (this.inFlight.length >= this.max) await this.inFlight[0];
  }

  /** Waits for every seal in flight to end (never throws: see `failed`). */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight[0];
  }

  /** Starts a seal. `seal` must await `previous` before its ordered part (it rejects if that seal failed). */
  start(seal: (previous: Promise<void>) => Promise<unknown>): void {
    const run = seal(this.tail);
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
