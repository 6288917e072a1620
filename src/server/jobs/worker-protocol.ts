/**
 * Messages between the job manager's worker pool (server thread) and a job worker
 * (`job-worker.ts`). Everything here crosses a MessagePort, so it is plain data: the worker parses
 * the job's stored body itself (the compiled filter cannot be sent), exactly as a restart does.
 */
import type { MessagePort } from 'node:worker_threads';
import type { JobBody, JobMode } from './job.js';
import type { JobLimits } from './request.js';

/** What a worker is started with (workerData). */
export interface WorkerSetup {
  /** The store the worker opens itself, unless `storagePort` is given. */
  storeUri: string;
  /** A port to a store opened in the server thread (storage-bridge.ts): for stores the server was handed. */
  storagePort?: MessagePort;
}

/** One job to run: enough to rebuild its QueryRequest in the worker. */
export interface RunTask {
  jobId: string;
  mode: JobMode;
  body: JobBody;
  limits: JobLimits;
  /** The job's result directory. */
  dir: string;
  /** Submission time (ms), for defaults the stored body leaves open. */
  submittedAt: number;
}

export interface RunSummary {
  pages: number;
  packets: number;
  bytes: number;
  truncated: boolean;
  filesListed: number;
  filesConsidered: number;
  filesRead: number;
  problems: string[];
}

export type ToWorker = { type: 'run'; task: RunTask } | { type: 'abort' };

export type FromWorker =
  | { type: 'progress'; filesDone: number; filesTotal: number; packets: number }
  | { type: 'done'; summary: RunSummary }
  /** The run stopped because it was asked to (abort): pages may be partial. */
  | { type: 'aborted' }
  /** The query failed: `message` is the user-facing reason ("cannot read the store: ..." for store errors). */
  | { type: 'failed'; message: string };
