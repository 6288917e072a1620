import type { CreateOptions, FileWriter, Storage } from '../storage/types.js';

/**
 * How long one upload of an in-progress file stays open. While a file is open on HDFS its writer
 * holds a lease, renewed by the DataNode's client every 30 s; a NameNode whose lease hard limit is
 * shorter than that (our local stack sets 20 s, so fault tests recover quickly) takes the file back
 * and the upload dies. Closing it in the background every few seconds and continuing with an append
 * keeps every lease short on any cluster, at the cost of one block close per interval per
 * partition, which the next chunk rarely waits for.
 */
export const UPLOAD_MAX_AGE_MS = 10_000;

/**
 * The bytes of one in-progress file on their way to storage: a streaming create
 * (Storage.createWriter) opened at once, closed after `maxAgeMs` or when idle that long, and
 * continued by a streaming append when more bytes come. Operations run one at a time, in call order.
 * After any failure every later call fails too: the file is lost (discard it and re-read its records).
 */
export class RollingUpload {
  /** The open upload, null once closed by age (the next write reopens it with an append). */
  private current: FileWriter | null = null;
  /** The chain every operation runs on, in order. */
  private tail: Promise<void>;
  private failure: unknown = null;
  private timer: NodeJS.Timeout | null = null;
  private ended = false;

  constructor(
    private readonly storage: Storage,
    readonly path: string,
    options: CreateOptions,
    private readonly maxAgeMs = UPLOAD_MAX_AGE_MS,
  ) {
    this.tail = Promise.resolve();
    void this.run(async () => {
      this.opened(await storage.createWriter(path, options));
    }).catch(() => {}); // reported by the next write or complete
  }

  /** Sends a chunk; resolves when the store has taken it (the buffer may be reused), not when durable. */
  write(chunk: Buffer): Promise<void> {
    return this.run(async () => {
      this.current ??= this.opened(await this.storage.appendWriter(this.path));
      await this.current.write(chunk);
    });
  }

  /** Closes the file: resolves when every byte written is durable. */
  complete(): Promise<void> {
    return this.run(async () => {
      this.ended = true;
      this.stopTimer();
      const upload = this.current;
      this.current = null;
      await upload?.close();
    });
  }

  /**
   * Drops the upload without closing it, and waits for operations under way to stop, so the file
   * can be deleted after this resolves (what was sent may remain until then).
   */
  async abort(): Promise<void> {
    this.ended = true;
    this.stopTimer();
    this.failure ??= new Error(`upload of ${this.path} aborted`);
    const upload = this.current;
    this.current = null;
    await upload?.abort().catch(() => {});
    await this.tail;
  }

  private opened(upload: FileWriter): FileWriter {
    if (this.ended && this.failure) {
      // Aborted while this upload was being opened: nobody will close it.
      void upload.abort();
      throw this.failure;
    }
    this.current = upload;
    this.stopTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run(async () => {
        const old = this.current;
        this.current = null;
        await old?.close();
      }).catch(() => {});
    }, this.maxAgeMs);
    this.timer.unref();
    return upload;
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Runs `op` after every earlier operation; a failure is sticky. */
  private run(op: () => Promise<void>): Promise<void> {
    const next = this.tail.then(async () => {
      if (this.failure) throw this.failure;
      try {
        await op();
      } catch (err) {
        this.failure = err;
        this.stopTimer();
        throw err;
      }
    });
    this.tail = next.catch(() => {});
    return next;
  }
}
