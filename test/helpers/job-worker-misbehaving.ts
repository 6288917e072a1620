/**
 * A stand-in for job-worker.ts that misbehaves on purpose, as its task's `body.behaviour` says:
 * `throw` (an uncaught exception in the thread), `oom` (allocates until the heap limit ends the
 * thread), `hang` (never answers, ignores abort), `exit` (process.exit inside the thread).
 */
import { parentPort } from 'node:worker_threads';
import type { ToWorker } from '../../src/server/jobs/worker-protocol.js';

parentPort!.on('message', (m: ToWorker) => {
  if (m.type !== 'run') return;
  switch (m.task.body.behaviour) {
    case 'throw':
      throw new Error('boom in the worker');
    case 'oom': {
      const hoard: number[][] = [];
      for (;;) hoard.push(Array.from({ length: 100_000 }, (_, i) => i));
    }
    case 'exit':
      process.exit(3);
      break;
    default: // hang
      setInterval(() => {}, 1000);
  }
});
