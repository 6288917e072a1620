import type { Worker } from 'node:worker_threads';
import { BloomFilter } from '../../formats/index/bloom.js';
import type { IndexBuilder } from '../../formats/index/packet-index.js';
import type { IndexSummary } from '../../formats/index/packet-index-format.js';
import { fitsV2 } from '../../formats/index/v2/writer.js';
import { PcaplineError } from '../../lib/errors.js';
import { siblingModule, startWorker } from '../../lib/worker.js';
import type { WriteBody } from '../../storage/types.js';
import { type IndexEncoder, inThreadIndexEncoder } from './index-encoder.js';
import type { EncodeJob, EncodeReply } from './protocol.js';

/**
 * The index could not be encoded (the worker thread reported an error, crashed or exited): the seal
 * fails as an encoding error on the ingest thread would, and the partition recovers (its records are
 * read again).
 */
export class IndexEncodeError extends PcaplineError {
  constructor(message: string, cause?: unknown) {
    super('PCAPLINE_INDEX_ENCODE', message, { retriable: true, cause });
  }
}

async function* inOrder(pieces: Buffer[]): AsyncGenerator<Buffer> {
  yield* pieces;
}

const DEFAULT_ENTRY = siblingModule(import.meta.url, 'encode-worker');

interface Pending {
  index: IndexBuilder;
  resolve: (body: WriteBody) => void;
  reject: (err: unknown) => void;
}

export interface WorkerIndexEncoderOptions {
  /** The worker's module (tests point it at one that crashes). */
  entry?: URL;
  /** Tests only: fixed sync marker and fresh deflate trials per file, so bytes can be compared. */
  deterministicSync?: Uint8Array;
}

/**
 * Encodes index v2 files on one worker thread, so the seal's largest CPU item (a third of the ingest
 * thread's time at 100,000-packet files) runs beside the consume loop instead of inside it. The
 * columns' buffers are transferred to the worker (no copy; the builder is spent) and the encoded
 * file comes back the same way. Jobs run one at a time in the order sent. The worker starts with
 * the first seal; when it dies every job it held fails with IndexEncodeError and the next seal
 * starts a new one. A file v2 cannot describe is encoded here, as index v1.
 */
export class WorkerIndexEncoder implements IndexEncoder {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: WorkerIndexEncoderOptions = {}) {}

  /** Jobs sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  encode(index: IndexBuilder, summary: IndexSummary): Promise<WriteBody> {
    if (!fitsV2(index.count, index.minTsNs, index.maxTsNs)) return inThreadIndexEncoder.encode(index, summary);
    if (this.closed) return Promise.reject(new IndexEncodeError('the index encoder is closed'));
    return new Promise<WriteBody>((resolve, reject) => {
      let worker: Worker;
      try {
        worker = this.ensureWorker();
      } catch (err) {
        reject(new IndexEncodeError(`could not start the index encoding thread: ${(err as Error).message}`, err));
        return;
      }
      const id = this.nextId++;
      const c = index.columns;
      const columns = {
        count: c.count,
        ts: c.ts,
        pos: c.pos,
        len: c.len,
        protocol: c.protocol,
        src: c.src,
        dst: c.dst,
        srcPort: c.srcPort,
        dstPort: c.dstPort,
        vlan: c.vlan,
      };
      const job: EncodeJob = {
        id,
        columns,
        addresses: index.addresses,
        summary: { ...summary, version: 2 },
        ...(this.options.deterministicSync ? { deterministic: { sync: this.options.deterministicSync } } : {}),
      };
      const transfer = [
        ...new Set([c.ts, c.pos, c.len, c.protocol, c.src, c.dst, c.srcPort, c.dstPort, c.vlan].map((a) => a.buffer)),
      ];
      this.pending.set(id, { index, resolve, reject });
      worker.ref(); // a seal waits on it
      try {
        worker.postMessage(job, transfer as ArrayBuffer[]);
      } catch (err) {
        this.settle(id)?.reject(
          new IndexEncodeError(`could not hand the index to its thread: ${(err as Error).message}`, err),
        );
      }
    });
  }

  /** Ends the worker; jobs still held fail. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    if (worker) {
      this.failAll(new IndexEncodeError('the index encoder was closed before the index was encoded'));
      await worker.terminate();
    }
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const entry = this.options.entry ?? DEFAULT_ENTRY;
    // No limit on the old generation: it would turn a large file into a seal that fails (and is
    // retried) for ever. The young generation is kept small: the encoder's scratch is made once per
    // file and its garbage is mostly large typed arrays, so V8's default (grown to ~12 MiB here)
    // only adds to the process's peak RSS (measured: ~10 MiB less, same encoding time). A process-wide
    // --max-semi-space-size (bin/start-pcap-topology sets 8) takes precedence over this limit.
    const options = { name: 'pcapline-index-encoder', resourceLimits: { maxYoungGenerationSizeMb: 4 } };
    const worker = startWorker(entry, options);
    worker.on('message', (reply: EncodeReply) => this.answer(reply));
    const died = (why: string, cause?: unknown) => {
      if (this.worker !== worker) return; // already replaced or closed
      this.worker = null;
      this.failAll(new IndexEncodeError(why, cause));
      void worker.terminate();
    };
    worker.on('error', (err) => died(`the index encoding thread failed: ${err.message}`, err));
    worker.on('messageerror', (err) =>
      died(`the index encoding thread sent a message that could not be read: ${err.message}`, err),
    );
    worker.on('exit', (code) => died(`the index encoding thread stopped unexpectedly (exit code ${code})`));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private answer(reply: EncodeReply): void {
    const job = this.settle(reply.id);
    if (!job) return;
    if (!reply.ok) {
      job.reject(new IndexEncodeError(`could not encode the index: ${reply.message}`));
      return;
    }
    job.index.sketches = new Map(reply.sketches.map((s) => [s.name, new BloomFilter(s.bits, s.hashes)]));
    const pieces = reply.pieces.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    job.resolve(pieces.length === 1 ? pieces[0] : inOrder(pieces));
  }

  /** Forgets a job (and lets the process exit when no seal waits on the worker any more). */
  private settle(id: number): Pending | undefined {
    const job = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
    return job;
  }

  private failAll(err: IndexEncodeError): void {
    const jobs = [...this.pending.values()];
    this.pending.clear();
    for (const job of jobs) job.reject(err);
  }
}
