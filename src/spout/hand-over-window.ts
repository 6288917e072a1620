/**
 * Bytes handed to another thread and not yet acknowledged: `room` waits while they exceed the
 * window. One batch past the window is allowed (it is already taken when `room` is asked), so a
 * batch larger than the window still goes through, alone.
 */
export class HandOverWindow {
  private held = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    readonly limit: number,
    /** How often a waiter asks whether it should still wait (its batch may have gone stale). */
    private readonly pollMs = 100,
  ) {}

  get bytes(): number {
    return this.held;
  }

  take(bytes: number): void {
    this.held += bytes;
  }

  give(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
    if (this.held <= this.limit) this.wake();
  }

  /** Ends every wait, now and later (the consumer is stopping). */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /** Resolves once the held bytes are within the window, or `keepWaiting()` turns false. */
  async room(keepWaiting: () => boolean): Promise<void> {
    while (this.held > this.limit && !this.closed && keepWaiting()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
