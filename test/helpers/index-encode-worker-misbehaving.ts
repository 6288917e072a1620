/**
 * A stand-in for src/sink/index-encoding/encode-worker.ts that misbehaves when a job's data file
 * name says so: `throw` (an uncaught exception in the thread), `exit` (process.exit inside the
 * thread), `hang` (never answers). Any other job is encoded as the real worker does.
 */
import { parentPort } from 'node:worker_threads';
import { runEncodeJob } from '../../src/sink/index-encoding/encode-job.js';
import type { EncodeJob } from '../../src/sink/index-encoding/protocol.js';

parentPort!.on('message', (job: EncodeJob) => {
  switch (job.summary.dataFile) {
    case 'throw':
      throw new Error('boom in the index encoder');
    case 'exit':
      process.exit(3);
      break;
    case 'hang':
      return;
    default: {
      const [reply, transfer] = runEncodeJob(job);
      parentPort!.postMessage(reply, transfer);
    }
  }
});
