import { PcaplineError } from '../lib/errors.js';

/** A dead-letter copy that could not be delivered after every retry: the process must stop (exit 1). */
export class DeadLetterError extends PcaplineError {
  constructor(topic: string, source: string, cause: unknown) {
    super(
      'PCAPLINE_DEAD_LETTER',
      `cannot write the dead-letter copy of ${source} to topic ${topic}: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
  }
}

export interface DeadLetter {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface DeadLetterOptions {
  topic: string;
  /** Sends one record with acks=all; rejects on failure. */
  send: (topic: string, letter: DeadLetter) => Promise<void>;
  /** Attempts per record (default 6: ~15 s of backoff from 500 ms, doubling up to 5 s). */
  attempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  onRetry?: (source: string, attempt: number, err: unknown) => void;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Dead-letter copies of one partition's malformed records. Each copy is retried with backoff; a
 * copy that still fails makes `flush` reject with a DeadLetterError, which is fatal: the range
 * holding the record is then never claimed or committed (so the record is re-read after the
 * restart), and the same bad record is not counted again and again in a silent loop.
 */
export class DeadLetterQueue {
  private pending: Promise<void>[] = [];
  private failure: DeadLetterError | null = null;

  constructor(private readonly options: DeadLetterOptions) {}

  /**
   * Starts sending one copy; its outcome is awaited by the next `flush`. The key and value are
   * copied: a record's bytes are reused once its batch is handled (src/spout/batch-transfer.ts).
   */
  add(source: string, letter: DeadLetter): void {
    const sent = this.deliver(source, {
      ...letter,
      key: letter.key && Buffer.from(letter.key),
      value: letter.value && Buffer.from(letter.value),
    });
    sent.catch((err: DeadLetterError) => {
      this.failure ??= err;
    });
    this.pending.push(sent);
  }

  private async deliver(source: string, letter: DeadLetter): Promise<void> {
    const { attempts = 6, initialDelayMs = 500, maxDelayMs = 5000, sleep = defaultSleep } = this.options;
    let delay = initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.send(this.options.topic, letter);
        return;
      } catch (err) {
        if (attempt >= attempts) throw new DeadLetterError(this.options.topic, source, err);
        this.options.onRetry?.(source, attempt, err);
        await sleep(delay);
        delay = Math.min(delay * 2, maxDelayMs);
      }
    }
  }

  /** Waits for every copy started so far; rejects (for good) once any copy could not be delivered. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending);
  }

  /** Copies not yet confirmed are dropped with the records they copy (those are re-read after a reconcile). */
  clear(): void {
    this.pending = [];
    this.failure = null;
  }
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
