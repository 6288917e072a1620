/**
 * Metron's PcapController under /api/v1/pcap (paths, parameters and JSON shapes as
 * metron-rest's), plus two additions: GET /{jobId}/download (the whole result as one pcap stream)
 * and GET /jobs (the user's jobs with their requests, for the web page).
 *
 * A job id that is malformed, unknown or another user's gets the same 404 on every route, so ids
 * cannot be probed, and only ids matching JOB_ID ever reach a path.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { JOB_ID, JOB_STATES, isJobState, toPcapStatus, type JobMode, type JobRecord } from '../jobs/job.js';
import type { JobManager } from '../jobs/manager.js';
import { notFound, sendError } from '../http.js';
import type { PdmlRenderer } from '../pdml/index.js';
import type { ResultStore } from '../store/result-store.js';
import { wholeResultStream } from '../store/whole-result.js';

export interface PcapRouteOptions {
  jobs: JobManager;
  results: ResultStore;
  pdml: PdmlRenderer;
}

interface JobParams {
  jobId: string;
}
interface PageQuery {
  page?: string;
  fileName?: string;
}

const BASE = '/api/v1/pcap';

export function pcapRoutes(app: FastifyInstance, o: PcapRouteOptions): void {
  const { jobs, results } = o;

  /** The user's job, or a 404 already sent. */
  const ownJob = (user: string, jobId: string, reply: FastifyReply): JobRecord | null => {
    const job = JOB_ID.test(jobId) ? jobs.get(user, jobId) : undefined;
    if (!job) {
      void notFound(reply);
      return null;
    }
    return job;
  };

  /** A page number of a finished job (Metron: 404 unless the job is done and the page exists). */
  const pageOf = (job: JobRecord, q: PageQuery, reply: FastifyReply): number | null => {
    if (q.page === undefined || !/^\d{1,9}$/.test(q.page) || Number(q.page) < 1) {
      void sendError(reply, 400, 'page: must be a whole number from 1 (pages are numbered from 1)', { field: 'page' });
      return null;
    }
    const page = Number(q.page);
    if (job.state !== 'SUCCEEDED' || page > job.pageTotal) {
      void notFound(
        reply,
        job.state === 'SUCCEEDED' ? `the job has ${job.pageTotal} page(s)` : `the job is ${job.state}, not SUCCEEDED`,
      );
      return null;
    }
    return page;
  };

  const submit = (mode: JobMode) => async (request: { user: string; body: unknown }) =>
    jobs.submit(request.user, mode, request.body);
  app.post(`${BASE}/fixed`, submit('fixed'));
  app.post(`${BASE}/query`, submit('query'));

  app.get<{ Querystring: { state?: string } }>(BASE, async (request, reply) => {
    const state = request.query.state;
    if (state !== undefined && !isJobState(state))
      return sendError(reply, 400, `state: '${state}' is not one of ${JOB_STATES.join(', ')}`, { field: 'state' });
    return jobs.list(request.user, state).map(toPcapStatus);
  });

  app.get(`${BASE}/jobs`, async (request) =>
    jobs.list(request.user).map((j) => ({
      ...toPcapStatus(j),
      mode: j.mode,
      config: jobs.configuration(request.user, j.jobId),
      submittedAt: j.submittedAt,
      startedAt: j.startedAt ?? null,
      finishedAt: j.finishedAt ?? null,
      packets: j.packets,
      bytes: j.bytes,
      truncated: j.truncated,
    })),
  );

  app.get<{ Params: JobParams }>(`${BASE}/:jobId`, async (request, reply) => {
    const job = ownJob(request.user, request.params.jobId, reply);
    return job ? toPcapStatus(job) : reply;
  });

  app.get<{ Params: JobParams }>(`${BASE}/:jobId/config`, async (request, reply) => {
    const job = ownJob(request.user, request.params.jobId, reply);
    return job ? jobs.configuration(request.user, job.jobId) : reply;
  });

  app.delete<{ Params: JobParams }>(`${BASE}/kill/:jobId`, async (request, reply) => {
    if (!ownJob(request.user, request.params.jobId, reply)) return reply;
    return jobs.kill(request.user, request.params.jobId);
  });

  app.get<{ Params: JobParams; Querystring: PageQuery }>(`${BASE}/:jobId/pdml`, async (request, reply) => {
    const job = ownJob(request.user, request.params.jobId, reply);
    if (!job) return reply;
    const page = pageOf(job, request.query, reply);
    if (page === null) return reply;
    return o.pdml.render(results.pagePath(job.user, job.jobId, page));
  });

  app.get<{ Params: JobParams; Querystring: PageQuery }>(`${BASE}/:jobId/raw`, async (request, reply) => {
    const job = ownJob(request.user, request.params.jobId, reply);
    if (!job) return reply;
    const page = pageOf(job, request.query, reply);
    if (page === null) return reply;
    const opened = await results.openPage(job.user, job.jobId, page);
    if (!opened) return notFound(reply, 'the page is gone (deleted after the retention period?)');
    const name = safeFileName(request.query.fileName) ?? `pcap_${job.jobId}_${page}.pcap`;
    return reply
      .type('application/octet-stream')
      .header('content-disposition', `attachment; filename="${name}"`)
      .header('content-length', opened.length)
      .send(opened.stream);
  });

  app.get<{ Params: JobParams; Querystring: PageQuery }>(`${BASE}/:jobId/download`, async (request, reply) => {
    const job = ownJob(request.user, request.params.jobId, reply);
    if (!job) return reply;
    if (job.state !== 'SUCCEEDED') return notFound(reply, `the job is ${job.state}, not SUCCEEDED`);
    const pages = Array.from({ length: job.pageTotal }, (_, k) => results.pagePath(job.user, job.jobId, k + 1));
    const name = safeFileName(request.query.fileName) ?? `pcap_${job.jobId}.pcap`;
    return reply
      .type('application/vnd.tcpdump.pcap')
      .header('content-disposition', `attachment; filename="${name}"`)
      .send(wholeResultStream(pages));
  });
}

/** Metron's optional `fileName`, kept to characters that cannot break the header or name a path. */
function safeFileName(name: string | undefined): string | null {
  if (name === undefined || name === '') return null;
  const cleaned = name
    .replace(/[^A-Za-z0-9._+-]/g, '_')
    .replace(/^\.+/, '')
    .slice(0, 200);
  return cleaned === '' ? null : cleaned;
}
