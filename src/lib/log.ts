import pino from 'pino';

export type Logger = pino.Logger;

/** Structured JSON logs on stderr (stdout is kept for results). LOG_LEVEL overrides the level. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

/** Allows at most `perInterval` calls of `fn` per interval; the rest are counted and summarised. */
export class RateLimiter {
  private windowStart = 0;
  private used = 0;
  suppressed = 0;
  constructor(
    private readonly perInterval: number,
    private readonly intervalMs: number,
  ) {}

  allow(now = Date.now()): boolean {
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used < this.perInterval) {
      this.used++;
      return true;
    }
    this.suppressed++;
    return false;
  }
}
