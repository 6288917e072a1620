/**
 * Holds the first batch of a newly assigned partition until the ingest thread seeks it (its owner
 * recovers first, then seeks to where the store ends), so that batch is not thrown away.
 *
 * Without it, kafkajs starts fetching a partition as soon as it is assigned, from the committed
 * offset (or the start mode's); the batch reaches the ingest thread while the partition still
 * recovers, and the owner's seek then makes it stale: dropped, and fetched again. On a fresh start
 * that was a window of batches (4 MiB) decoded, packed and transferred for nothing, beside the
 * recovery, and the partition's first records arrived one more fetch later (~0.1–0.3 s here).
 *
 * With the gate, the consumer thread keeps that first batch (kafkajs's handler waits, as it does
 * for the hand-over window). When the seek comes and names the batch's first offset, the batch is
 * exactly what a fetch from there returns: it goes to the ingest thread under the new seek, and
 * kafkajs is not told to seek (it fetches on after the batch). Any other offset is a real seek: the
 * batch is dropped and kafkajs seeks. The wait is bounded: a recovery that fails makes no seek (the
 * owner recovers again on its next batch), so after `holdMs` the batch goes on as before; a batch
 * that stops being current meanwhile (a rebalance) is dropped, and a stop lets it go on. While it
 * waits, kafkajs fetches nothing more from that broker (it finishes a fetch's batches before the
 * next): a bound of a second keeps a slow recovery on a rebalance from holding the other partitions
 * longer than that. kafkajs hands a partition's batches over one at a time, so a held batch is
 * never overtaken by the next one of its partition.
 */
export type HoldOutcome =
  /** The seek named this batch's first offset: hand it over (under the new seek), do not seek kafkajs. */
  | 'released'
  /** The seek went elsewhere (kafkajs seeks), or the batch went stale while it waited: drop it. */
  | 'dropped'
  /** Not held: the partition was not waiting for its first seek, or the wait timed out. Hand it over. */
  | 'passed';

interface Held {
  firstOffset: string;
  settle: (outcome: HoldOutcome) => void;
}

export class FirstSeekGate {
  /** Partitions assigned by the last joins whose first seek has not come yet. */
  private readonly awaiting = new Set<number>();
  private readonly held = new Map<number, Held>();

  constructor(
    /** How long a first batch waits for its seek at most. */
    private readonly holdMs = 1000,
    /** How often a held batch asks whether it is still current. */
    private readonly pollMs = 50,
  ) {}

  /** Newly assigned partitions: their first batch waits for the ingest thread's seek. */
  assigned(partitions: readonly number[]): void {
    for (const p of partitions) this.awaiting.add(p);
  }

  /** Partitions this member no longer holds: nothing waits for them any more. */
  revoked(partitions: readonly number[]): void {
    for (const p of partitions) {
      this.awaiting.delete(p);
      this.held.get(p)?.settle('dropped');
    }
  }

  /**
   * The ingest thread sought `partition` to `offset`. True when a held batch starts there and takes
   * the seek (the caller must not seek kafkajs); false when kafkajs must seek as usual.
   */
  sought(partition: number, offset: bigint): boolean {
    this.awaiting.delete(partition);
    const held = this.held.get(partition);
    if (!held) return false;
    const same = held.firstOffset === offset.toString();
    held.settle(same ? 'released' : 'dropped');
    return same;
  }

  /** Ends every wait (the consumer is stopping): held batches go on as before. */
  close(): void {
    this.awaiting.clear();
    for (const held of [...this.held.values()]) held.settle('passed');
  }

  /** Whether a batch of `partition` fetched now is to be held (`hold`): its first seek has not come. */
  waitsFor(partition: number): boolean {
    return this.awaiting.has(partition) && !this.held.has(partition);
  }

  /**
   * Called with each fetched batch before it is handed over: resolves at once unless the partition
   * waits for its first seek, else when the seek comes, the batch stops being current
   * (`current()` false: dropped), or `holdMs` passes (passed).
   */
  async hold(partition: number, firstOffset: string, current: () => boolean): Promise<HoldOutcome> {
    if (!this.waitsFor(partition)) return 'passed';
    return new Promise<HoldOutcome>((resolve) => {
      const giveUpAt = Date.now() + this.holdMs;
      let timer: NodeJS.Timeout | undefined;
      const settle = (outcome: HoldOutcome) => {
        if (this.held.get(partition) !== held) return;
        this.held.delete(partition);
        clearTimeout(timer);
        // Released or passed: the partition's next batches go straight on. Dropped for a seek elsewhere:
        // the seek already ended the wait. Dropped as stale (a rebalance): the next batch still waits
        // for the first seek.
        if (outcome !== 'dropped') this.awaiting.delete(partition);
        resolve(outcome);
      };
      const held: Held = { firstOffset, settle };
      this.held.set(partition, held);
      const check = () => {
        if (!current()) settle('dropped');
        else if (Date.now() >= giveUpAt) settle('passed');
        else timer = setTimeout(check, this.pollMs);
      };
      check();
    });
  }
}
