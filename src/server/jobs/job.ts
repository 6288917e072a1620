/**
 * A pcap job as the API shows it: Metron's JobStatus states and its PcapStatus object
 * (`{jobId, jobStatus, description, percentComplete, pageTotal}`), plus what we keep on disk
 * (job.json beside the pages) so a restart still lists finished jobs.
 */
import { randomBytes } from 'node:crypto';

/** metron-job's JobStatus.State, in its order. */
export const JOB_STATES = [
  'NOT_RUNNING',
  'SUBMITTED',
  'RUNNING',
  'SUCCEEDED',
  'FINALIZING',
  'FAILED',
  'KILLED',
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const isJobState = (s: string): s is JobState => (JOB_STATES as readonly string[]).includes(s);

export const isFinished = (s: JobState): boolean => s === 'SUCCEEDED' || s === 'FAILED' || s === 'KILLED';

/**
 * Job ids are `job_<epoch ms>_<16 hex digits>` (Metron's YARN ids read `job_<cluster ts>_<n>`): the
 * random part makes them unguessable, and the strict pattern is what keeps a request's id from ever
 * naming another path.
 */
export const JOB_ID = /^job_\d{13}_[0-9a-f]{16}$/;

export const newJobId = (now = Date.now()): string =>
  `job_${String(now).padStart(13, '0')}_${randomBytes(8).toString('hex')}`;

export type JobMode = 'fixed' | 'query';

/** The request as accepted (Metron's field names, defaults filled in): re-parsed after a restart. */
export type JobBody = Record<string, string | number | boolean>;

export interface JobRecord {
  jobId: string;
  user: string;
  mode: JobMode;
  body: JobBody;
  state: JobState;
  description: string;
  percentComplete: number;
  pageTotal: number;
  packets: number;
  bytes: number;
  /** A per-job limit stopped the result early. */
  truncated: boolean;
  submittedAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** Files listed, considered after pruning, and read, for the description and the log. */
  files?: { listed: number; considered: number; read: number };
  /** Warnings from the query (damaged records skipped, indexes ignored): at most a few. */
  problems?: string[];
}

/** Metron's PcapStatus. */
export interface PcapStatus {
  jobId: string;
  jobStatus: JobState;
  description: string;
  percentComplete: number;
  pageTotal: number;
}

export const toPcapStatus = (j: JobRecord): PcapStatus => ({
  jobId: j.jobId,
  jobStatus: j.state,
  description: j.description,
  percentComplete: j.percentComplete,
  pageTotal: j.pageTotal,
});
