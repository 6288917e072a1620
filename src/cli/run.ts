import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isPcaplineError, oneLine } from '../lib/errors.js';

/**
 * What every bin does around its `main`: run it, turn its result or error into one stderr line and
 * an exit status, and exit. `main` resolves to the status it wants (0 on success); anything thrown
 * ends in `<name>: <message>` with the error's exit status: 2 for a PcaplineError that says the
 * input is wrong, 1 otherwise. PCAPLINE_DEBUG=1 adds the stack trace.
 *
 * The process exits explicitly (after stdout drains) because clients such as kafkajs keep timers
 * alive; the exit codes are documented in each command's --help.
 */
export function runCli(name: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (status) => exitAfterFlush(status),
    (err: unknown) => {
      process.stderr.write(`${name}: ${describeError(err)}\n`);
      if (process.env.PCAPLINE_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
      exitAfterFlush(isPcaplineError(err) ? err.exitCode : 1);
    },
  );
}

/** The one line for any thrown value. */
export function describeError(err: unknown): string {
  if (isPcaplineError(err)) return printable(err.describe());
  return printable(oneLine(err instanceof Error ? err.message : String(err)));
}

/**
 * Messages quote what the user typed; control characters (a NUL, an escape sequence) and
 * bidirectional or invisible format characters would garble or disguise the line on a terminal,
 * so they are shown as \u escapes.
 */
export const printable = (text: string): string =>
  text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** True when the module at `moduleUrl` is the script node was started with (`node src/cli/x.ts`). */
export function isMainModule(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

function exitAfterFlush(status: number): void {
  // A write callback runs once everything queued before it has been handed to the OS.
  process.stdout.write('', () => process.exit(status));
}
