/**
 * The job manager: accepts jobs per user, runs them in the background with bounded concurrency
 * (per user and in total; the rest wait in SUBMITTED), reports progress, kills on request, keeps
 * each job's record on disk beside its pages, and deletes results after the retention period.
 *
 * After a restart, finished jobs are listed again, jobs that were still waiting are queued again
 * (their request was stored with its defaults resolved, so it means the same), and jobs that were
 * running are marked FAILED with a description saying they were interrupted; their partial pages
 * are removed.
 */
import type { Logger } from '../../lib/log.js';
import type { ServerConfig } from '../config.js';
import type { ResultStore } from '../store/result-store.js';
import {
  isFinished,
  newJobId,
  toPcapStatus,
  type JobMode,
  type JobRecord,
  type JobState,
  type PcapStatus,
} from './job.js';
import { jobConfiguration, parseJobBody, RequestError, type JobLimits, type ParsedJob } from './request.js';
import type { Progress } from './runner.js';
import type { JobRunner } from './worker-pool.js';

/** Refused because of a limit (HTTP 429 for a user's own limit, 503 when the server is full). */
export class JobLimitError extends RequestError {
  constructor(
    message: string,
    readonly status: 429 | 503,
  ) {
    super(message);
  }
}

interface Job {
  record: JobRecord;
  /** Parsed once; null for records loaded from disk until they are queued again. */
  parsed: ParsedJob | null;
  abort?: AbortController;
  /** Resolves when the job's run (if any) has ended. */
  done?: Promise<void>;
  /** The last save of the record: saves are chained, so an older state never lands after a newer one. */
  saving?: Promise<void>;
}

export interface JobManagerDeps {
  config: ServerConfig;
  results: ResultStore;
  /** Runs a job's query (a pool of worker threads: the engine never runs on the server's event loop). */
  runner: JobRunner;
  log: Logger;
  now?: () => Date;
}

const INTERRUPTED = 'Interrupted: the server stopped while the job was running; submit it again.';

export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private readonly running = new Set<Job>();
  private sweeper: NodeJS.Timeout | undefined;
  private closing = false;
  /** After close(): records are no longer written (a newer server may own the directory). */
  private stopped = false;
  private readonly limits: JobLimits;
  private readonly now: () => Date;

  constructor(private readonly deps: JobManagerDeps) {
    const c = deps.config;
    this.limits = {
      pageSize: c.pageSize,
      fileConcurrency: c.fileConcurrency,
      defaultBasePath: c.basePath,
      allowedBasePaths: c.allowedBasePaths,
      maxPacketsPerJob: c.maxPacketsPerJob,
      maxBytesPerJob: c.maxBytesPerJob,
    };
    this.now = deps.now ?? (() => new Date());
  }

  /** Loads the records on disk, re-queues waiting jobs, marks interrupted ones, starts the retention sweep. */
  async start(): Promise<void> {
    const records = await this.deps.results.loadAll((path, why) =>
      this.deps.log.warn({ path, why }, 'unreadable job record; ignored'),
    );
    records.sort((a, b) => a.submittedAt - b.submittedAt);
    for (const record of records) {
      const job: Job = { record, parsed: null };
      this.jobs.set(record.jobId, job);
      if (record.state === 'RUNNING' || record.state === 'FINALIZING' || record.state === 'NOT_RUNNING') {
        Object.assign(record, { state: 'FAILED', description: INTERRUPTED, finishedAt: Date.now() });
        await this.deps.results.removePages(record.user, record.jobId);
        record.pageTotal = 0;
        await this.persist(job);
      } else if (record.state === 'SUBMITTED') {
        try {
          job.parsed = parseJobBody(record.mode, record.body, record.jobId, this.limits, this.now());
          this.queue.push(job);
        } catch (err) {
          Object.assign(record, { state: 'FAILED', description: `Not restarted: ${(err as Error).message}` });
          record.finishedAt = Date.now();
          await this.persist(job);
        }
      }
    }
    await this.sweep();
    const every = Math.min(10 * 60_000, Math.max(1000, (this.deps.config.retentionHours * 3_600_000) / 10));
    this.sweeper = setInterval(() => void this.sweep(), every);
    this.sweeper.unref();
    this.pump();
  }

  /** Validates and queues a job; throws RequestError (400) or JobLimitError (429/503). */
  async submit(user: string, mode: JobMode, body: unknown): Promise<PcapStatus> {
    if (this.closing) throw new JobLimitError('the server is shutting down; submit the job again shortly', 503);
    const jobId = newJobId();
    const parsed = parseJobBody(mode, body, jobId, this.limits, this.now());
    const mine = [...this.running, ...this.queue].filter((j) => j.record.user === user);
    const c = this.deps.config;
    if (mine.length >= c.maxActivePerUser) {
      // Metron's message (PcapServiceImpl.submit), with our limit in it.
      throw new JobLimitError(
        `Cannot submit job because ${mine.length} job(s) are already queued or running (the limit is ${c.maxActivePerUser}).  Please wait for them, or cancel job(s) with id(s) ${mine.map((j) => j.record.jobId).join(', ')}`,
        429,
      );
    }
    if (this.running.size + this.queue.length >= c.maxActive)
      throw new JobLimitError(`the server has ${c.maxActive} jobs queued or running; try again later`, 503);
    const record: JobRecord = {
      jobId,
      user,
      mode,
      body: parsed.body,
      state: 'SUBMITTED',
      description: 'Job submitted.',
      percentComplete: 0,
      pageTotal: 0,
      packets: 0,
      bytes: 0,
      truncated: false,
      submittedAt: Date.now(),
    };
    const job: Job = { record, parsed };
    await this.persist(job);
    this.jobs.set(jobId, job);
    this.queue.push(job);
    for (const n of parsed.request.notices) this.deps.log.info({ jobId, user }, n);
    this.pump();
    return toPcapStatus(record);
  }

  /** The user's job, or undefined: another user's job is indistinguishable from a missing one. */
  get(user: string, jobId: string): JobRecord | undefined {
    const job = this.jobs.get(jobId);
    return job && job.record.user === user ? job.record : undefined;
  }

  status(user: string, jobId: string): PcapStatus | undefined {
    const r = this.get(user, jobId);
    return r && toPcapStatus(r);
  }

  /** The user's jobs, newest first, optionally in one state. */
  list(user: string, state?: JobState): JobRecord[] {
    const out: JobRecord[] = [];
    for (const { record } of this.jobs.values())
      if (record.user === user && (state === undefined || record.state === state)) out.push(record);
    return out.sort((a, b) => b.submittedAt - a.submittedAt);
  }

  configuration(user: string, jobId: string): Record<string, unknown> | undefined {
    const r = this.get(user, jobId);
    return r && jobConfiguration(r.mode, r.body, this.deps.results.jobDir(r.user, r.jobId));
  }

  /** Kills a waiting or running job (a finished one is left as it is); undefined when not the user's. */
  async kill(user: string, jobId: string): Promise<PcapStatus | undefined> {
    const job = this.jobs.get(jobId);
    if (!job || job.record.user !== user) return undefined;
    const r = job.record;
    if (isFinished(r.state)) return toPcapStatus(r);
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    Object.assign(r, { state: 'KILLED', description: 'Job killed.', finishedAt: Date.now(), pageTotal: 0 });
    job.abort?.abort(new Error('killed'));
    if (queued >= 0) await this.persist(job);
    // A running job's own ending persists the record and removes its pages.
    return toPcapStatus(r);
  }

  /**
   * Stops taking jobs and aborts running ones, which are recorded as interrupted; waiting ones stay
   * queued on disk for the next start. A run stuck in a store call past `graceMs` is recorded as
   * interrupted without waiting for it, and nothing it does afterwards is saved.
   */
  async close(graceMs = this.deps.config.shutdownGraceMs): Promise<void> {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const running = [...this.running];
    for (const j of running) j.abort?.abort(new Error('shutdown'));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.allSettled(running.map((j) => j.done)), deadline]);
    clearTimeout(timer);
    for (const j of running) {
      if (!this.running.has(j)) continue;
      Object.assign(j.record, { state: 'FAILED', description: INTERRUPTED, finishedAt: Date.now(), pageTotal: 0 });
      await this.persist(j);
    }
    await Promise.allSettled([...this.jobs.values()].map((j) => j.saving));
    this.stopped = true;
  }

  /** Counts for /api/v1/health and the load script. */
  counts(): { running: number; queued: number; jobs: number } {
    return { running: this.running.size, queued: this.queue.length, jobs: this.jobs.size };
  }

  private pump(): void {
    const c = this.deps.config;
    while (!this.closing && this.running.size < c.maxRunning) {
      const perUser = new Map<string, number>();
      for (const j of this.running) perUser.set(j.record.user, (perUser.get(j.record.user) ?? 0) + 1);
      const k = this.queue.findIndex((j) => (perUser.get(j.record.user) ?? 0) < c.maxRunningPerUser);
      if (k < 0) return;
      const [job] = this.queue.splice(k, 1);
      this.running.add(job);
      job.done = this.run(job).finally(() => {
        this.running.delete(job);
        this.pump();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    const r = job.record;
    const log = this.deps.log.child({ jobId: r.jobId, user: r.user });
    const abort = new AbortController();
    job.abort = abort;
    Object.assign(r, { state: 'RUNNING', description: 'Listing files.', percentComplete: 0, startedAt: Date.now() });
    try {
      await this.persist(job);
      const dir = await this.deps.results.prepare(r.user, r.jobId);
      const onProgress = (p: Progress) => {
        // 95 %: the last 5 are the final page and the record (Metron kept 25 % for its finalizer).
        r.percentComplete = p.filesTotal ? Math.floor((p.filesDone / p.filesTotal) * 9500) / 100 : 0;
        r.description = `${p.filesDone} of ${p.filesTotal} files read, ${p.packets} packets matched.`;
        r.packets = p.packets;
      };
      const task = { jobId: r.jobId, mode: r.mode, body: r.body, limits: this.limits, dir, submittedAt: r.submittedAt };
      const result = await this.deps.runner.run(task, abort.signal, onProgress);
      Object.assign(r, { state: 'FINALIZING', description: 'Finalizing job.', percentComplete: 95 });
      r.pageTotal = result.pages;
      r.packets = result.packets;
      r.bytes = result.bytes;
      r.truncated = result.truncated;
      r.files = { listed: result.filesListed, considered: result.filesConsidered, read: result.filesRead };
      if (result.problems.length) r.problems = result.problems.slice(0, 10);
      Object.assign(r, {
        state: 'SUCCEEDED',
        percentComplete: 100,
        finishedAt: Date.now(),
        description:
          result.packets === 0
            ? result.filesConsidered === 0
              ? 'No results in specified date range.'
              : 'Job completed. No packets matched.'
            : `Job completed. ${result.packets} packets in ${result.pages} page(s)${result.truncated ? ' (stopped at the per-job limit)' : ''}.`,
      });
      log.info({ packets: result.packets, pages: r.pageTotal, ms: r.finishedAt! - r.startedAt! }, 'job succeeded');
    } catch (err) {
      if (abort.signal.aborted) {
        const shutdown = (abort.signal.reason as Error | undefined)?.message === 'shutdown';
        if (shutdown) Object.assign(r, { state: 'FAILED', description: INTERRUPTED });
        else Object.assign(r, { state: 'KILLED', description: 'Job killed.' });
        r.pageTotal = 0;
        log.info(shutdown ? 'job interrupted by shutdown' : 'job killed');
      } else {
        const why = (err as Error).message;
        Object.assign(r, { state: 'FAILED', description: `Job failed: ${why}`, pageTotal: 0 });
        log.warn({ err }, 'job failed');
      }
      r.finishedAt = Date.now();
      await this.deps.results.removePages(r.user, r.jobId).catch(() => {});
    } finally {
      job.abort = undefined;
      job.parsed = null; // the compiled filter is not needed any more
      await this.persist(job);
    }
  }

  private persist(job: Job): Promise<void> {
    const save = async () => {
      if (this.stopped) return;
      try {
        await this.deps.results.save(job.record);
      } catch (err) {
        this.deps.log.error({ err, jobId: job.record.jobId }, 'cannot save the job record');
      }
    };
    job.saving = (job.saving ?? Promise.resolve()).then(save);
    return job.saving;
  }

  /** Deletes finished jobs older than the retention period. */
  private async sweep(): Promise<void> {
    const cutoff = Date.now() - this.deps.config.retentionHours * 3_600_000;
    for (const [id, job] of this.jobs) {
      const r = job.record;
      if (!isFinished(r.state) || (r.finishedAt ?? r.submittedAt) > cutoff) continue;
      this.jobs.delete(id);
      await this.deps.results
        .remove(r.user, r.jobId)
        .catch((err) => this.deps.log.warn({ err, jobId: id }, 'cannot delete'));
      this.deps.log.info({ jobId: id, user: r.user }, 'job results deleted (retention)');
    }
  }
}
