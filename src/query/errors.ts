import { oneLine, PcaplineError } from '../lib/errors.js';

/**
 * Errors in query input (options, times, patterns, expressions). The CLI turns one into a single
 * stderr line and exit status 2; library callers can branch on `option` and `position`.
 */
export class QueryError extends PcaplineError {
  /** The option the problem belongs to, as the user knows it (e.g. '-sa', '-q'); undefined when global. */
  readonly option: string | undefined;
  /** 1-based column inside the option's value where the problem is, when it can be pinned down. */
  readonly position: number | undefined;
  /** 1-based line inside the option's value; only set for multi-line values (expressions). */
  readonly line: number | undefined;
  /**
   * A two-line "source + caret" excerpt for multi-character values (expressions, patterns), for
   * callers that can afford more than one line (a REPL, --verbose). The one-line message never needs it.
   */
  readonly excerpt: string | undefined;

  constructor(
    message: string,
    details: { option?: string; position?: number; line?: number; excerpt?: string; cause?: unknown } = {},
  ) {
    super('PCAPLINE_QUERY_INPUT', message, { exitCode: 2, cause: details.cause });
    this.option = details.option;
    this.position = details.position;
    this.line = details.line;
    this.excerpt = details.excerpt;
  }

  /** `<option>: <problem> (at column N)`, on one line whatever the message holds. */
  override describe(): string {
    let where = '';
    if (this.position !== undefined) {
      where =
        this.line !== undefined && this.line > 1
          ? ` (at line ${this.line}, column ${this.position})`
          : ` (at column ${this.position})`;
    }
    const opt = this.option === undefined ? '' : `${this.option}: `;
    return `${opt}${oneLine(this.message)}${where}`;
  }
}

export const isQueryError = (err: unknown): err is QueryError => err instanceof QueryError;

/** The one line the CLI prints: `pcap-query: <option>: <problem> (at column N)`. */
export function formatQueryError(err: QueryError, program = 'pcap-query'): string {
  return `${program}: ${err.describe()}`;
}

/** `text` with a caret under 1-based `column` of 1-based `line`; long lines are clipped around it. */
export function caretExcerpt(text: string, column: number, line = 1): string {
  const lines = text.split('\n');
  const src = lines[Math.min(Math.max(line, 1), lines.length) - 1] ?? '';
  const width = 100;
  let start = 0;
  if (src.length > width && column > width / 2) start = Math.min(column - Math.floor(width / 2), src.length - width);
  const shown = src.slice(start, start + width);
  const pad = ' '.repeat(Math.max(0, column - 1 - start));
  return `${start > 0 ? '…' : ''}${shown}\n${start > 0 ? ' ' : ''}${pad}^`;
}
