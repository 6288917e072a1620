/**
 * One family for pcapline's errors, as undici's `UndiciError`: every error we throw on purpose
 * carries a stable `code` (match on it, never on the message), the exit status a CLI ends with
 * when it reaches the top, and whether retrying later can succeed (kafkajs's `retriable`).
 *
 * Exit statuses are part of the interface: 2 = the input is wrong (an argument, a configuration
 * key, a file that is not what it claims); retrying will not help and nothing was changed.
 * 1 = a runtime failure (the store or the broker failed); a supervisor may retry.
 */
export type ExitStatus = 1 | 2;

export interface PcaplineErrorOptions {
  exitCode?: ExitStatus;
  retriable?: boolean;
  cause?: unknown;
}

export class PcaplineError extends Error {
  readonly code: string;
  readonly exitCode: ExitStatus;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: PcaplineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
    this.retriable = options.retriable ?? false;
  }

  /** The text of the one line a CLI prints for this error (without the program name). */
  describe(): string {
    return oneLine(this.message);
  }
}

/** A bad command-line argument: one line, exit 2. */
export class UsageError extends PcaplineError {
  constructor(message: string) {
    super('PCAPLINE_USAGE', message, { exitCode: 2 });
  }
}

export const isPcaplineError = (err: unknown): err is PcaplineError => err instanceof PcaplineError;

/** Messages may quote a user's value, which may hold newlines: a CLI's message stays on one line. */
export const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ');
