/**
 * pcap-analyze's ends: the capture (a file or stdin) and the NDJSON sink (a file or stdout),
 * written in batches with backpressure so a slow consumer of stdout never makes events pile up.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { PcaplineError } from '../lib/errors.js';

/** The capture cannot be opened (missing, a directory, unreadable): exit 2. */
export class AnalyzeInputError extends PcaplineError {
  constructor(message: string) {
    super('PCAPLINE_ANALYZE_INPUT', message, { exitCode: 2 });
  }
}

export async function openInput(path: string): Promise<Readable> {
  if (path === '-') return process.stdin;
  try {
    const st = await stat(path);
    if (!st.isFile() && !st.isFIFO()) throw new AnalyzeInputError(`${path}: not a file`);
  } catch (err) {
    if (err instanceof AnalyzeInputError) throw err;
    throw new AnalyzeInputError(
      `${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  return createReadStream(path, { highWaterMark: 1 << 20 });
}

export interface EventSink {
  write(event: unknown): void;
  /** Hands what is batched to the stream and waits while the stream is full. */
  drain(): Promise<void>;
  end(): Promise<void>;
}

export function openOutput(path: string): EventSink {
  const out: Writable = path === '-' ? process.stdout : createWriteStream(path);
  let batch: string[] = [];
  let size = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const text = batch.join('');
    batch = [];
    size = 0;
    if (!out.write(text)) await once(out, 'drain');
  };
  return {
    write(event) {
      const line = `${JSON.stringify(event)}\n`;
      batch.push(line);
      size += line.length;
    },
    async drain() {
      if (size > 0) await flush();
    },
    async end() {
      await flush();
      if (out === process.stdout) return;
      const finished = once(out, 'finish');
      out.end();
      await finished;
    },
  };
}
