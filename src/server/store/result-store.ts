/**
 * Where job results live: `<results dir>/<user>/<jobId>/` holds the pages
 * (`pcap-data-<jobId>+NNNN.pcap`, written by the query engine's page writer) and `job.json`, the
 * job's record. Metron kept `<pcap.final.output.path>/<user>/MAP_REDUCE/<jobId>/page-N.pcap` on HDFS;
 * here results sit on the server's disk, next to the tshark that renders them.
 *
 * Every path is built from a configured user name (USER_NAME) and a job id matching JOB_ID, both
 * checked again here, so nothing a request carries can name a path outside the results directory.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pageFileName } from '../../query/engine/pages.js';
import { USER_NAME } from '../config.js';
import { isJobState, JOB_ID, type JobRecord } from '../jobs/job.js';

const META = 'job.json';

export class ResultStore {
  constructor(readonly root: string) {}

  jobDir(user: string, jobId: string): string {
    if (!USER_NAME.test(user)) throw new Error(`not a user name: ${JSON.stringify(user)}`);
    if (!JOB_ID.test(jobId)) throw new Error(`not a job id: ${JSON.stringify(jobId)}`);
    return join(this.root, user, jobId);
  }

  pagePath(user: string, jobId: string, page: number): string {
    return join(this.jobDir(user, jobId), pageFileName(jobId, page));
  }

  async prepare(user: string, jobId: string): Promise<string> {
    const dir = this.jobDir(user, jobId);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    return dir;
  }

  /** Writes job.json atomically (temporary file, then rename): a crash never leaves half a record. */
  async save(job: JobRecord): Promise<void> {
    const dir = await this.prepare(job.user, job.jobId);
    const tmp = join(dir, `.${META}.tmp`);
    await writeFile(tmp, `${JSON.stringify(job, null, 1)}\n`, { mode: 0o640 });
    await rename(tmp, join(dir, META));
  }

  /** Deletes a job's pages and record. */
  async remove(user: string, jobId: string): Promise<void> {
    await rm(this.jobDir(user, jobId), { recursive: true, force: true });
  }

  /** Deletes the pages (and any half-written `.part` file) but keeps the record. */
  async removePages(user: string, jobId: string): Promise<void> {
    const dir = this.jobDir(user, jobId);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    await Promise.all(names.filter((n) => n !== META).map((n) => rm(join(dir, n), { force: true, recursive: true })));
  }

  /** A page as a stream, or null when it is not there. */
  async openPage(user: string, jobId: string, page: number): Promise<{ stream: Readable; length: number } | null> {
    const path = this.pagePath(user, jobId, page);
    try {
      const st = await stat(path);
      if (!st.isFile()) return null;
      return { stream: createReadStream(path), length: st.size };
    } catch {
      return null;
    }
  }

  /** Every job record on disk (after a restart). Unreadable records are reported, not fatal. */
  async loadAll(onProblem: (path: string, why: string) => void): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    let users: string[];
    try {
      users = await readdir(this.root);
    } catch {
      return out;
    }
    for (const user of users) {
      if (!USER_NAME.test(user)) continue;
      let jobs: string[];
      try {
        jobs = await readdir(join(this.root, user));
      } catch {
        continue;
      }
      for (const jobId of jobs) {
        if (!JOB_ID.test(jobId)) continue;
        const path = join(this.root, user, jobId, META);
        try {
          const rec = JSON.parse(await readFile(path, 'utf8')) as JobRecord;
          if (rec.jobId !== jobId || rec.user !== user || !isJobState(rec.state))
            throw new Error('does not describe this job');
          out.push(rec);
        } catch (err) {
          onProblem(path, (err as Error).message);
        }
      }
    }
    return out;
  }
}
