/**
 * pcap-server's job workers: a job runs in a worker thread on the real engine and local store, and
 * a worker that throws, runs out of heap, exits or hangs past a kill fails (or ends) its job alone,
 * with one clear message, while the pool and the process carry on.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLogger } from '../../src/lib/log.js';
import { newJobId } from '../../src/server/jobs/job.js';
import type { JobLimits } from '../../src/server/jobs/request.js';
import { JobRunError, WorkerPool } from '../../src/server/jobs/worker-pool.js';
import type { RunTask } from '../../src/server/jobs/worker-protocol.js';
import { SAMPLE_PATH } from '../helpers/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'pcapline-server-workers-'));
const data = join(work, 'input');
mkdirSync(data);
copyFileSync(SAMPLE_PATH, join(data, 'pcap_pcap_1458240269373968000_0_sample'));
after(() => rmSync(work, { recursive: true, force: true }));

const log = createLogger('server-workers-test', 'fatal');
const limits: JobLimits = {
  pageSize: 4,
  fileConcurrency: 2,
  defaultBasePath: data,
  allowedBasePaths: [],
  maxPacketsPerJob: undefined,
  maxBytesPerJob: undefined,
};
const MISBEHAVING = new URL('../helpers/job-worker-misbehaving.ts', import.meta.url);

function task(body: Record<string, string | number | boolean>): RunTask {
  const jobId = newJobId();
  const dir = join(work, 'results', jobId);
  mkdirSync(dir, { recursive: true });
  return {
    jobId,
    mode: 'fixed',
    body: { startTimeMs: 0, basePath: data, ...body },
    limits,
    dir,
    submittedAt: Date.now(),
  };
}

test('a job runs in a worker thread: pages written, progress reported, the worker kept for the next job', async () => {
  const pool = new WorkerPool({ size: 2, memoryMb: 128, storeUri: 'file:///', log });
  try {
    const t = task({ ipDstPort: 22 });
    const progress: number[] = [];
    const summary = await pool.run(t, new AbortController().signal, (p) => progress.push(p.filesDone));
    assert.ok(summary.packets > 0 && summary.pages === Math.ceil(summary.packets / 4), JSON.stringify(summary));
    assert.equal(readdirSync(t.dir).filter((n) => n.endsWith('.pcap')).length, summary.pages);
    assert.deepEqual(progress.at(-1), 1, 'progress per file');
    assert.equal(pool.workers, 1, 'the idle worker is kept');
    const again = await pool.run(task({ ipDstPort: 22 }), new AbortController().signal, () => {});
    assert.equal(again.packets, summary.packets);
    assert.equal(pool.workers, 1, 'and reused');
    const bad = await pool.run(task({ query: 'nope' }), new AbortController().signal, () => {}).catch((e) => e);
    assert.ok(bad instanceof JobRunError, String(bad));
  } finally {
    await pool.close();
  }
});

for (const [behaviour, message] of [
  ['throw', /^the query's worker thread failed: boom in the worker$/],
  ['oom', /^the query needed more than the 64 MiB a job may use \(jobs\.workerMemoryMb\)/],
  ['exit', /^the query's worker thread stopped unexpectedly \(exit code 3\)$/],
] as const) {
  test(`a worker that ${behaviour === 'oom' ? 'runs out of heap' : `${behaviour}s`} fails its job with one message; the pool carries on`, async () => {
    const pool = new WorkerPool({ size: 1, memoryMb: 64, storeUri: 'file:///', log, entry: MISBEHAVING });
    try {
      for (let i = 0; i < 2; i++) {
        const err = await pool.run(task({ behaviour }), new AbortController().signal, () => {}).catch((e) => e);
        assert.ok(err instanceof JobRunError, String(err));
        assert.match(err.message, message);
        assert.equal(pool.workers, 0, 'the dead worker is not kept');
      }
    } finally {
      await pool.close();
    }
  });
}

test('kill: a worker that does not stop when asked is terminated after the grace period', async () => {
  const pool = new WorkerPool({
    size: 1,
    memoryMb: 64,
    storeUri: 'file:///',
    log,
    entry: MISBEHAVING,
    abortGraceMs: 300,
  });
  try {
    const abort = new AbortController();
    const running = pool.run(task({ behaviour: 'hang' }), abort.signal, () => {});
    setTimeout(() => abort.abort(new Error('killed')), 200);
    await assert.rejects(running, /^Error: killed$/);
    assert.equal(pool.workers, 0);
  } finally {
    await pool.close();
  }
});
