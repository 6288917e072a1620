/**
 * pcap-server's job manager through the API, on the local store (Metron's sample file): bounded
 * concurrency per user and in total, the per-user limit's message, kill of waiting and running jobs,
 * a restart (finished jobs listed, waiting ones run, running ones marked interrupted) and retention.
 * The store is the real local back end behind a gate that holds reads, so a job stays RUNNING for
 * as long as a test needs (no timing assumptions).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openStorage } from '../../src/storage/open.js';
import type { Storage } from '../../src/storage/types.js';
import { SAMPLE_PATH } from '../helpers/fixtures.js';
import { call, startServer, testConfig, waitForJob, type Status, type TestServer } from '../helpers/server.js';

const work = mkdtempSync(join(tmpdir(), 'pcapline-server-jobs-'));
const data = join(work, 'input');
mkdirSync(data);
copyFileSync(SAMPLE_PATH, join(data, 'pcap_pcap_1458240269373968000_0_sample'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Reads wait while the gate is closed. */
class Gate {
  private opened: Promise<void> = Promise.resolve();
  private release: () => void = () => {};
  close(): void {
    this.opened = new Promise((r) => {
      this.release = r;
    });
  }
  open(): void {
    this.release();
  }
  wait(): Promise<void> {
    return this.opened;
  }
}

function gated(gate: Gate) {
  return (uri: string): Storage => {
    const inner = openStorage(uri);
    return new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'read')
          return async (...args: Parameters<Storage['read']>) => {
            await gate.wait();
            return target.read(...args);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  };
}

const BODY = { startTimeMs: 0, ipDstPort: 22 };

async function submit(s: TestServer, as: 'alice' | 'bob', body: object = BODY) {
  return call(s.url, 'POST', '/api/v1/pcap/fixed', { as, body });
}

async function until(s: TestServer, as: 'alice' | 'bob', jobId: string, state: string): Promise<Status> {
  for (let i = 0; ; i++) {
    const st = (await call(s.url, 'GET', `/api/v1/pcap/${jobId}`, { as })).json<Status>();
    if (st.jobStatus === state) return st;
    if (i > 2000) throw new Error(`${jobId} is ${st.jobStatus}, not ${state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('limits: one running in total here, the rest wait; a user past the limit gets 429; kill works queued and running', async () => {
  const gate = new Gate();
  gate.close();
  const s = await startServer(
    await testConfig({
      store: 'file:///',
      basePath: data,
      maxRunning: 1,
      maxRunningPerUser: 1,
      maxActivePerUser: 3,
      pageSize: 4,
    }),
    { openStorage: gated(gate) },
  );
  try {
    const a1 = (await submit(s, 'alice')).json<Status>();
    await until(s, 'alice', a1.jobId, 'RUNNING');
    const a2 = (await submit(s, 'alice')).json<Status>();
    const b1 = (await submit(s, 'bob')).json<Status>();
    const a3 = (await submit(s, 'alice')).json<Status>();
    for (const [who, j] of [
      ['alice', a2],
      ['bob', b1],
      ['alice', a3],
    ] as const)
      assert.equal(
        (await call(s.url, 'GET', `/api/v1/pcap/${j.jobId}`, { as: who })).json<Status>().jobStatus,
        'SUBMITTED',
      );
    const refused = await submit(s, 'alice');
    assert.equal(refused.status, 429);
    const msg = refused.json<{ message: string }>().message;
    assert.match(msg, /^Cannot submit job because 3 job\(s\) are already queued or running/);
    for (const j of [a1, a2, a3]) assert.ok(msg.includes(j.jobId), 'names the jobs to cancel');
    assert.equal((await submit(s, 'bob')).status, 200, "bob's limit is his own");

    // Kill a waiting job, then the running one.
    const k2 = await call(s.url, 'DELETE', `/api/v1/pcap/kill/${a2.jobId}`, { as: 'alice' });
    assert.equal(k2.json<Status>().jobStatus, 'KILLED');
    const k1 = await call(s.url, 'DELETE', `/api/v1/pcap/kill/${a1.jobId}`, { as: 'alice' });
    assert.equal(k1.json<Status>().jobStatus, 'KILLED');
    assert.deepEqual(
      (await call(s.url, 'GET', '/api/v1/pcap?state=KILLED', { as: 'alice' }))
        .json<Status[]>()
        .map((j) => j.jobId)
        .sort(),
      [a1.jobId, a2.jobId].sort(),
    );
    gate.open();
    const done = [await waitForJob(s.url, 'bob', b1.jobId), await waitForJob(s.url, 'alice', a3.jobId)];
    for (const st of done) {
      assert.equal(st.jobStatus, 'SUCCEEDED');
      assert.equal(st.pageTotal, 3);
    }
    const killed = await waitForJob(s.url, 'alice', a1.jobId);
    assert.equal(killed.jobStatus, 'KILLED', 'the run ended as killed, not as succeeded');
    assert.equal((await call(s.url, 'GET', `/api/v1/pcap/${a1.jobId}/raw?page=1`, { as: 'alice' })).status, 404);
    assert.deepEqual(
      readdirSync(join(s.resultsDir, 'alice', a1.jobId)),
      ['job.json'],
      'no pages or partial files left',
    );
    // Killing a finished job changes nothing.
    assert.equal(
      (await call(s.url, 'DELETE', `/api/v1/pcap/kill/${a3.jobId}`, { as: 'alice' })).json<Status>().jobStatus,
      'SUCCEEDED',
    );
  } finally {
    gate.open();
    await s.close();
  }
});

test('restart: finished jobs stay listed with their pages, waiting ones run, running ones are marked interrupted', async () => {
  const gate = new Gate();
  const config = await testConfig({
    store: 'file:///',
    basePath: data,
    maxRunning: 1,
    pageSize: 4,
    shutdownGraceMs: 200,
  });
  let s = await startServer(config, { openStorage: gated(gate) });
  try {
    const finished = await waitForJob(s.url, 'alice', (await submit(s, 'alice')).json<Status>().jobId);
    assert.equal(finished.jobStatus, 'SUCCEEDED');
    const before = (await call(s.url, 'GET', `/api/v1/pcap/${finished.jobId}/raw?page=2`, { as: 'alice' })).body;
    gate.close();
    const running = (await submit(s, 'alice')).json<Status>();
    await until(s, 'alice', running.jobId, 'RUNNING');
    const waiting = (await submit(s, 'bob', { startTimeMs: 0 })).json<Status>();
    s = await s.restart({}, {}); // the old run is stuck in a read: recorded as interrupted after the grace period
    const f = (await call(s.url, 'GET', `/api/v1/pcap/${finished.jobId}`, { as: 'alice' })).json<Status>();
    assert.deepEqual(f, finished);
    const after = (await call(s.url, 'GET', `/api/v1/pcap/${finished.jobId}/raw?page=2`, { as: 'alice' })).body;
    assert.ok(after.equals(before), 'the pages survive the restart');
    const r = (await call(s.url, 'GET', `/api/v1/pcap/${running.jobId}`, { as: 'alice' })).json<Status>();
    assert.equal(r.jobStatus, 'FAILED');
    assert.match(r.description, /^Interrupted: the server stopped while the job was running/);
    const w = await waitForJob(s.url, 'bob', waiting.jobId);
    assert.equal(w.jobStatus, 'SUCCEEDED', 'the waiting job ran after the restart');
    assert.equal(w.pageTotal, 5);
    gate.open(); // the old server's stuck run ends now; it must not overwrite the new server's record
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(
      (await call(s.url, 'GET', `/api/v1/pcap/${running.jobId}`, { as: 'alice' })).json<Status>().jobStatus,
      'FAILED',
    );
  } finally {
    gate.open();
    await s.close();
  }
});

test('retention: finished jobs and their pages are deleted after the retention period', async () => {
  const s = await startServer(await testConfig({ store: 'file:///', basePath: data, retentionHours: 1 / 3600 }));
  try {
    const st = await waitForJob(s.url, 'alice', (await submit(s, 'alice')).json<Status>().jobId);
    assert.equal(st.jobStatus, 'SUCCEEDED');
    const dir = join(s.resultsDir, 'alice', st.jobId);
    assert.ok(existsSync(dir));
    for (let i = 0; existsSync(dir); i++) {
      if (i > 300) assert.fail('results still there 30 s after a 1 s retention');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await call(s.url, 'GET', `/api/v1/pcap/${st.jobId}`, { as: 'alice' })).status, 404);
  } finally {
    await s.close();
  }
});
