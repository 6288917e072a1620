/**
 * The index encoder's worker thread: encodes index v2 files from the columns the ingest thread
 * collected (./worker-encoder.ts). It computes bytes only; the ingest thread writes them and runs
 * the seal protocol. (No forced collection between jobs: a full `gc()` threw away the compiled
 * encoder each time and doubled its CPU; the writer's scratch is made once per file, so the garbage
 * V8 leaves between its own collections stays within a few files' worth.)
 */
import { parentPort } from 'node:worker_threads';
import { runEncodeJob } from './encode-job.js';
import type { EncodeJob } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('encode-worker.ts runs as a worker thread');
port.on('message', (job: EncodeJob) => {
  const [reply, transfer] = runEncodeJob(job);
  port.postMessage(reply, transfer);
});
