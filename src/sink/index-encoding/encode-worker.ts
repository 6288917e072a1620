/**
 * The index encoder's worker thread: encodes index v2 files from the columns the ingest thread
 * collected (./worker-encoder.ts). It computes bytes only; the ingest thread writes them and runs
 * the seal protocol.
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
