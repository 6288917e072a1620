/**
 * Job execution off the server's event loop: a bounded pool of worker threads (job-worker.ts), one
 * job per worker at a time, each with its own heap limit. The manager never runs more jobs than
 * `maxRunning`, which is also the pool's size, so a job never waits here for a worker.
 *
 * Kill and shutdown first ask the worker to stop (the engine ends at the next packet or file and
 * the page writer closes its file); a worker that has not answered `abortGraceMs` later (stuck in
 * a store call) is terminated. A worker that dies on its own (out of memory, a crash) fails its job
 * with one message and is replaced on the next run; the server thread is never affected.
 * Idle workers are kept for the next job (they keep their store connections) and ended after
 * `idleMs` unused, so a quiet server gives their memory back.
 */
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { PcaplineError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { siblingModule, startWorker } from '../../lib/worker.js';
import type { Storage } from '../../storage/types.js';
import type { Progress } from './runner.js';
import { serveStorage } from './storage-bridge.js';
import type { FromWorker, RunSummary, RunTask, ToWorker, WorkerSetup } from './worker-protocol.js';

/** Runs jobs; the manager's only way to the query engine. */
export interface JobRunner {
  /** Resolves with the result; rejects with JobRunError, or with `signal.reason` once aborted. */
  run(task: RunTask, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<RunSummary>;
  close(): Promise<void>;
}

/** A job that failed: the message is for the user (the job's description). */
export class JobRunError extends PcaplineError {
  constructor(message: string) {
    super('PCAPLINE_SERVER_JOB', message);
  }
}

export interface WorkerPoolOptions {
  size: number;
  /** Heap limit of each worker (V8 old generation), in MiB. */
  memoryMb: number;
  /** The store workers open themselves. */
  storeUri: string;
  /** Instead: a store opened in this thread, reached over storage-bridge.ts. */
  storage?: Storage;
  log: Logger;
  idleMs?: number;
  abortGraceMs?: number;
  /** The worker's module (tests point it at a failing one). */
  entry?: URL;
}

interface Slot {
  worker: Worker;
  bridge?: MessagePort;
  alive: boolean;
  idleTimer?: NodeJS.Timeout;
}

const DEFAULT_ENTRY = siblingModule(import.meta.url, 'job-worker');

export class WorkerPool implements JobRunner {
  private readonly idle: Slot[] = [];
  private readonly busy = new Set<Slot>();
  private readonly waiting: Array<(slot: Slot) => void> = [];
  private closed = false;
  private readonly idleMs: number;
  private readonly abortGraceMs: number;

  constructor(private readonly o: WorkerPoolOptions) {
    this.idleMs = o.idleMs ?? 60_000;
    this.abortGraceMs = o.abortGraceMs ?? 5_000;
  }

  /** Workers alive now (busy and idle). */
  get workers(): number {
    return this.busy.size + this.idle.length;
  }

  async run(task: RunTask, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<RunSummary> {
    if (this.closed) throw new JobRunError('the server is shutting down');
    const slot = await this.acquire();
    try {
      return await this.runOn(slot, task, signal, onProgress);
    } finally {
      this.release(slot);
    }
  }

  /** Ends every worker at once (after the manager has given running jobs their grace). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle, ...this.busy];
    this.idle.length = 0;
    await Promise.allSettled(all.map((s) => this.kill(s)));
  }

  private runOn(slot: Slot, task: RunTask, signal: AbortSignal, onProgress: (p: Progress) => void) {
    const { worker } = slot;
    return new Promise<RunSummary>((resolve, reject) => {
      let settled = false;
      let graceTimer: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(graceTimer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        signal.removeEventListener('abort', onAbort);
        fn();
      };
      const onMessage = (m: FromWorker) => {
        if (m.type === 'progress') onProgress(m);
        else if (m.type === 'done') settle(() => resolve(m.summary));
        else if (m.type === 'aborted') settle(() => reject(signal.reason));
        else settle(() => reject(new JobRunError(m.message)));
      };
      const died = (why: string) => {
        slot.alive = false;
        settle(() => reject(signal.aborted ? signal.reason : new JobRunError(why)));
      };
      const onError = (err: Error & { code?: string }) => {
        const why =
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `the query needed more than the ${this.o.memoryMb} MiB a job may use (jobs.workerMemoryMb); narrow its time range or filter`
            : `the query's worker thread failed: ${err.message}`;
        this.o.log.warn({ err, jobId: task.jobId }, 'job worker died');
        died(why);
      };
      const onExit = (code: number) => died(`the query's worker thread stopped unexpectedly (exit code ${code})`);
      const onAbort = () => {
        this.post(slot, { type: 'abort' });
        graceTimer = setTimeout(() => {
          this.o.log.warn({ jobId: task.jobId }, 'job worker did not stop in time; terminating it');
          void this.kill(slot).then(() => settle(() => reject(signal.reason)));
        }, this.abortGraceMs);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      signal.addEventListener('abort', onAbort, { once: true });
      this.post(slot, { type: 'run', task });
      if (signal.aborted) onAbort();
    });
  }

  private post(slot: Slot, m: ToWorker): void {
    try {
      slot.worker.postMessage(m);
    } catch {
      /* the worker is gone: its exit event settles the run */
    }
  }

  private async acquire(): Promise<Slot> {
    let slot = this.idle.pop();
    while (slot && !slot.alive) slot = this.idle.pop(); // died while idle
    if (slot) clearTimeout(slot.idleTimer);
    else {
      if (this.busy.size >= this.o.size) slot = await new Promise<Slot>((resolve) => this.waiting.push(resolve));
      else slot = this.spawn();
    }
    slot.worker.ref();
    this.busy.add(slot);
    return slot;
  }

  private release(slot: Slot): void {
    this.busy.delete(slot);
    const next = this.waiting.shift();
    if (next) {
      // A waiter takes this worker if it is still good, else a new one.
      const s = slot.alive && !this.closed ? slot : this.spawn();
      if (s !== slot) void this.kill(slot);
      next(s);
      return;
    }
    if (!slot.alive || this.closed) {
      void this.kill(slot);
      return;
    }
    slot.worker.unref();
    slot.bridge?.unref();
    slot.idleTimer = setTimeout(() => {
      const k = this.idle.indexOf(slot);
      if (k >= 0) this.idle.splice(k, 1);
      void this.kill(slot);
    }, this.idleMs);
    slot.idleTimer.unref();
    this.idle.push(slot);
  }

  private spawn(): Slot {
    const setup: WorkerSetup = { storeUri: this.o.storeUri };
    let bridge: MessagePort | undefined;
    const transferList: MessagePort[] = [];
    if (this.o.storage) {
      const channel = new MessageChannel();
      serveStorage(channel.port1, this.o.storage);
      bridge = channel.port1;
      setup.storagePort = channel.port2;
      transferList.push(channel.port2);
    }
    const entry = this.o.entry ?? DEFAULT_ENTRY;
    const options = {
      workerData: setup,
      transferList,
      name: 'pcap-server-job',
      resourceLimits: { maxOldGenerationSizeMb: this.o.memoryMb },
    };
    const worker = startWorker(entry, options);
    const slot: Slot = { worker, bridge, alive: true };
    // Errors outside a run (e.g. while loading) must not become uncaught 'error' events.
    worker.on('error', (err) => {
      slot.alive = false;
      if (!this.closed) this.o.log.warn({ err }, 'job worker failed');
    });
    worker.on('exit', () => {
      slot.alive = false;
      bridge?.close();
    });
    return slot;
  }

  private async kill(slot: Slot): Promise<void> {
    slot.alive = false;
    clearTimeout(slot.idleTimer);
    slot.bridge?.close();
    await slot.worker.terminate();
  }
}
