/**
 * The index encoder's worker thread: encodes index v2 files from the columns the ingest thread
 * collected (./worker-encoder.ts). It computes bytes only; the ingest thread writes them and runs
 * the seal protocol.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { runEncodeJob } from './encode-job.js';
import type { EncodeJob } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('encode-worker.ts runs as a worker thread');

/**
 * A job's garbage is almost all typed arrays (the columns handed over, the term and posting
 * scratch: ~10 MB per 100,000 packets) and this thread makes few small objects, so V8 would
 * collect only once some 64 MB of them had piled up: the process's peak memory grew by that much.
 * Collect after each job instead (a few ms, on this thread, beside the consume loop).
 */
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

port.on('message', (job: EncodeJob) => {
  const [reply, transfer] = runEncodeJob(job);
  port.postMessage(reply, transfer);
  collect();
});
