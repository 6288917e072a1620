import type { SpoutMessage } from './types.js';

/**
 * One fetched batch of one partition, packed for the trip from the consumer thread to the ingest
 * thread in one buffer (transferred, not cloned): the records' offsets, then where each key and
 * value is, then every key and value back to back. A batch's records keep no reference to kafkajs's
 * fetch response, so the consumer thread can free it at once; the buffer goes back to the consumer
 * thread when the batch is handled (`TransferPool`), so handing over allocates nothing in the steady
 * state (fresh buffers each time kept both threads' collectors busy with a GB of external memory).
 */
export interface PackedBatch {
  partition: number;
  /** The partition's seek count on the consumer thread when the batch was handed over (see KafkaSpout.seek). */
  seq: number;
  count: number;
  buffer: ArrayBuffer;
  /** The offsets as kafkajs gave them, only when one of them is 2^53 or more. */
  bigOffsets?: string[];
}

/**
 * Layout of a packed batch's buffer for `count` records: `count` Float64 offsets (exact below 2^53),
 * then `count` × 4 Int32 places (key start, key length, value start, value length; a length of -1 is
 * a null), then the bytes.
 */
const placesAt = (count: number): number => count * 8;
const bytesAt = (count: number): number => count * 24;

/** The bytes a packed batch holds (its share of the hand-over window). */
export const packedSize = (b: PackedBatch): number => b.buffer.byteLength;

/** Buffers for packed batches, reused once the ingest thread gives them back. */
export class TransferPool {
  private readonly spare: ArrayBuffer[] = [];

  constructor(
    /** Spare buffers kept at most (the hand-over window's worth). */
    private readonly keep: number,
  ) {}

  /** A buffer of at least `size` bytes: a spare one when one is large enough. */
  take(size: number): ArrayBuffer {
    for (let i = this.spare.length - 1; i >= 0; i--) {
      if (this.spare[i].byteLength >= size) {
        const b = this.spare[i];
        this.spare[i] = this.spare[this.spare.length - 1];
        this.spare.pop();
        return b;
      }
    }
    // Rounded up (to 64 KiB) so a buffer fits later batches of about the same size; not from
    // Buffer's shared pool, so it can be transferred.
    return Buffer.allocUnsafeSlow(Math.ceil(size / 65536) * 65536).buffer as ArrayBuffer;
  }

  give(buffer: ArrayBuffer): void {
    if (this.spare.length < this.keep) this.spare.push(buffer);
  }

  get size(): number {
    return this.spare.length;
  }
}

export function packBatch(
  partition: number,
  seq: number,
  messages: readonly SpoutMessage[],
  pool: TransferPool,
): PackedBatch {
  const n = messages.length;
  let total = bytesAt(n);
  for (let i = 0; i < n; i++) {
    const m = messages[i];
    total += (m.key?.length ?? 0) + (m.value?.length ?? 0);
  }
  const buffer = pool.take(total);
  const offsets = new Float64Array(buffer, 0, n);
  const places = new Int32Array(buffer, placesAt(n), n * 4);
  const bytes = new Uint8Array(buffer);
  let big = false;
  let at = bytesAt(n);
  for (let i = 0; i < n; i++) {
    const m = messages[i];
    at = place(m.key, bytes, at, places, i * 4);
    at = place(m.value, bytes, at, places, i * 4 + 2);
    const offset = Number(m.offset);
    offsets[i] = offset;
    if (offset > Number.MAX_SAFE_INTEGER) big = true;
  }
  return { partition, seq, count: n, buffer, ...(big ? { bigOffsets: messages.map((m) => m.offset) } : {}) };
}

function place(field: Buffer | null, into: Uint8Array, at: number, places: Int32Array, slot: number): number {
  places[slot] = at;
  if (field === null) {
    places[slot + 1] = -1;
    return at;
  }
  into.set(field, at);
  places[slot + 1] = field.length;
  return at + field.length;
}

/**
 * The batch's records again, as views of its buffer: valid until the buffer is given back (whoever
 * keeps a key or value longer, a dead-letter copy, copies it).
 */
export function unpackBatch(b: PackedBatch): SpoutMessage[] {
  const n = b.count;
  const bytes = Buffer.from(b.buffer);
  const offsets = new Float64Array(b.buffer, 0, n);
  const places = new Int32Array(b.buffer, placesAt(n), n * 4);
  const { bigOffsets } = b;
  const out = new Array<SpoutMessage>(n);
  for (let i = 0; i < n; i++) {
    const k = i * 4;
    out[i] = {
      offset: bigOffsets ? bigOffsets[i] : String(offsets[i]),
      key: places[k + 1] < 0 ? null : bytes.subarray(places[k], places[k] + places[k + 1]),
      value: places[k + 3] < 0 ? null : bytes.subarray(places[k + 2], places[k + 2] + places[k + 3]),
    };
  }
  return out;
}
