/**
 * A job worker: a thread of pcap-server that runs jobs one at a time on the query engine (through
 * runner.ts, as the server thread used to), so a query's CPU never delays the HTTP server's event
 * loop. The pool (worker-pool.ts) starts it with the store to open and sends `run` and `abort`
 * messages; it answers with progress, then exactly one of done / aborted / failed per run.
 *
 * The worker keeps its store (and its connections) between jobs. Its heap is bounded by the pool's
 * resourceLimits: a query that outgrows it ends the thread, never the server.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isStorageError } from '../../storage/errors.js';
import { openStorage } from '../../storage/open.js';
import type { Storage } from '../../storage/types.js';
import { parseJobBody } from './request.js';
import { runQuery } from './runner.js';
import { BridgedStorage } from './storage-bridge.js';
import type { FromWorker, RunTask, ToWorker, WorkerSetup } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('job-worker.ts runs as a worker thread of pcap-server');
const setup = workerData as WorkerSetup;
const storage: Storage = setup.storagePort ? new BridgedStorage(setup.storagePort) : openStorage(setup.storeUri);
let current: AbortController | undefined;

const send = (m: FromWorker) => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  if (m.type === 'abort') current?.abort(new Error('aborted'));
  else if (m.type === 'run') void run(m.task);
});

async function run(task: RunTask): Promise<void> {
  const abort = new AbortController();
  current = abort;
  try {
    const { request } = parseJobBody(task.mode, task.body, task.jobId, task.limits, new Date(task.submittedAt));
    const { result, stats } = await runQuery(request, task.dir, storage, abort.signal, (p) =>
      send({ type: 'progress', filesDone: p.filesDone, filesTotal: p.filesTotal, packets: p.packets }),
    );
    send({
      type: 'done',
      summary: {
        pages: result.files.length,
        packets: result.packets,
        bytes: result.bytes,
        truncated: result.truncated,
        filesListed: stats.filesListed,
        filesConsidered: stats.filesConsidered,
        filesRead: stats.filesRead,
        problems: stats.problems.slice(0, 10),
      },
    });
  } catch (err) {
    if (abort.signal.aborted) send({ type: 'aborted' });
    else
      send({
        type: 'failed',
        message: isStorageError(err) ? `cannot read the store: ${err.describe()}` : (err as Error).message,
      });
  } finally {
    current = undefined;
  }
}
