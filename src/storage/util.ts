import { Readable } from 'node:stream';
import { StorageError } from './errors.js';
import type { FileStatus, ListPage, RangedReader, Storage, WriteBody } from './types.js';
import { PcaplineError } from '../lib/errors.js';

/**
 * A failure of the caller's own body stream. Back ends rethrow `original` unchanged instead of
 * mapping it to a StorageError: it says nothing about the store.
 */
export class BodyFailure extends PcaplineError {
  constructor(readonly original: unknown) {
    super('PCAPLINE_WRITE_BODY', `write body failed: ${(original as Error)?.message ?? String(original)}`, {
      cause: original,
    });
  }
}

/** A write body as Buffers, one chunk at a time: streams are never gathered into memory. */
export async function* chunksOf(body: WriteBody): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(body)) {
    if (body.length > 0) yield body;
    return;
  }
  try {
    for await (const chunk of body as AsyncIterable<unknown>) {
      if (Buffer.isBuffer(chunk)) yield chunk;
      else if (chunk instanceof Uint8Array) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      else if (typeof chunk === 'string') yield Buffer.from(chunk);
      else throw new TypeError(`write body yielded a ${typeof chunk}, expected Buffer chunks`);
    }
  } catch (err) {
    throw new BodyFailure(err);
  }
}

/** Rethrows the caller's own body error as it was; everything else goes through `map`. */
export function unwrapBodyFailure(err: unknown, map: (err: unknown) => unknown): never {
  throw err instanceof BodyFailure ? err.original : map(err);
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export const emptyStream = (): Readable => Readable.from([]);

/** Every entry of a directory, one listPage request at a time. */
export async function* listAll(
  listPage: (dir: string, cursor?: string) => Promise<ListPage>,
  dir: string,
): AsyncGenerator<FileStatus> {
  let cursor: string | undefined;
  do {
    const page = await listPage(dir, cursor);
    yield* page.entries;
    cursor = page.next;
  } while (cursor !== undefined);
}

/** Ranged-read arguments: non-negative integers; a length without an offset reads from 0. */
export function checkRange(path: string, offset = 0, length?: number): { offset: number; length?: number } {
  const bad = (n: number) => !Number.isSafeInteger(n) || n < 0;
  if (bad(offset) || (length !== undefined && bad(length))) {
    throw new StorageError(`bad range offset=${offset} length=${length} for ${path}`, 'IllegalArgumentException', path);
  }
  return { offset, length };
}

/** Ranged reads of one file: the store's own (one open file, locally) or plain ranged reads. */
export async function openRangedReader(storage: Storage, path: string): Promise<RangedReader> {
  if (storage.openRanged) return storage.openRanged(path);
  return { read: (offset, length) => storage.readBuffer(path, offset, length), close: async () => {} };
}
