/** Messages between the ingest thread's KafkaSpout (./kafka-spout.ts) and the consumer thread (./consumer-thread.ts). */
import type { PackedBatch } from './batch-transfer.js';
import type { SpoutOptions } from './kafka-client.js';
import type { AssignmentChange } from './types.js';

/** The consumer thread's start-up data. */
export interface ConsumerThreadData {
  options: Omit<SpoutOptions, 'log'>;
  /** One BigInt64 cell: the wall time (ms) of the last completed fetch, for the stall watchdog. */
  fetchClock: SharedArrayBuffer;
  /** Bytes of batches handed over and not yet handled by the ingest thread, above which the consumer waits. */
  windowBytes: number;
  /** Hold a newly assigned partition's first batch for the ingest thread's seek (./first-seek-gate.ts). */
  holdFirstBatch: boolean;
}

/** The KafkaGroupClient operations the ingest thread calls, with their arguments and results. */
export interface ConsumerCalls {
  connect: { args: []; result: undefined };
  run: { args: [{ partitionsConcurrently: number; fromBeginning: boolean }]; result: undefined };
  commit: { args: [partition: number, nextOffset: bigint]; result: undefined };
  committed: { args: [partition: number]; result: bigint | null };
  allOffsets: { args: []; result: Map<number, { low: bigint; high: bigint }> };
  lag: { args: []; result: { consumerLag: bigint } };
  disconnect: { args: []; result: undefined };
}
export type ConsumerCall = keyof ConsumerCalls;

export type ToConsumer =
  | { kind: 'call'; id: number; method: ConsumerCall; args: unknown[] }
  /** Seek `partition` to `offset`; `seq` is the partition's seek count on the ingest thread. */
  | { kind: 'seek'; partition: number; offset: bigint; seq: number }
  /** Stop handing out batches (the consumer is stopping). */
  | { kind: 'stop' }
  /** The ingest thread is done with a batch: its buffer comes back (the window has room again). */
  | { kind: 'ack'; buffer: ArrayBuffer };

export type FromConsumer =
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: ThreadError }
  | { kind: 'join'; change: AssignmentChange }
  | { kind: 'batch'; batch: PackedBatch }
  | { kind: 'crash'; error: ThreadError }
  | { kind: 'log'; level: 'error' | 'warn'; fields: object; message: string };

/** An error as it crosses threads (kafkajs errors are classes the other side does not have). */
export interface ThreadError {
  name: string;
  message: string;
  type?: string;
  retriable?: boolean;
}

export function toThreadError(err: unknown): ThreadError {
  const e = err as { name?: unknown; message?: unknown; type?: unknown; retriable?: unknown };
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.type === 'string' ? { type: e.type } : {}),
    ...(typeof e?.retriable === 'boolean' ? { retriable: e.retriable } : {}),
  };
}

export function fromThreadError(e: ThreadError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.type !== undefined) Object.assign(err, { type: e.type });
  if (e.retriable !== undefined) Object.assign(err, { retriable: e.retriable });
  return err;
}
