/**
 * A POST /fixed or /query body (Metron's FixedPcapRequest / QueryPcapRequest JSON) turned into the
 * same QueryRequest `pcap-query` builds from its arguments, by handing the CLI's parser the
 * equivalent argv: the rules and the messages are the CLI's, named by the JSON field the client sent
 * (`ipSrcAddr: '10.0.0.300' is not ...`). Server-side rules are added on top: the data root must
 * be one the configuration allows, and the output is always the server's own.
 */
import { posix } from 'node:path';
import { parseQueryArgs, type QueryRequest } from '../../cli/pcap-query/args.js';
import { PcaplineError } from '../../lib/errors.js';
import { isQueryError } from '../../query/errors.js';
import type { JobBody, JobMode } from './job.js';

/** A request the server refuses (HTTP 400), naming the JSON field when there is one. */
export class RequestError extends PcaplineError {
  constructor(
    message: string,
    readonly field?: string,
    readonly position?: number,
  ) {
    super('PCAPLINE_SERVER_REQUEST', message, { exitCode: 2 });
  }
}

interface FieldDef {
  /** The CLI option it becomes (long name), or null when it is accepted and ignored. */
  option: string | null;
  short?: string;
  modes: readonly JobMode[];
  kind: 'text' | 'flag' | 'int';
}

const BOTH: readonly JobMode[] = ['fixed', 'query'];

/** Metron's request fields (PcapRequest, FixedPcapRequest, QueryPcapRequest) and ours. */
const FIELDS: Record<string, FieldDef> = {
  basePath: { option: 'base_path', short: 'bp', modes: BOTH, kind: 'text' },
  startTimeMs: { option: 'start_time', short: 'st', modes: BOTH, kind: 'text' },
  endTimeMs: { option: 'end_time', short: 'et', modes: BOTH, kind: 'text' },
  // MapReduce settings and output paths: the server decides where results go (Metron let a client
  // write anywhere in HDFS); accepted so Metron's clients keep working, and ignored.
  baseInterimResultPath: { option: null, modes: BOTH, kind: 'text' },
  finalOutputPath: { option: null, modes: BOTH, kind: 'text' },
  numReducers: { option: null, modes: BOTH, kind: 'int' },
  ipSrcAddr: { option: 'ip_src_addr', short: 'sa', modes: ['fixed'], kind: 'text' },
  ipDstAddr: { option: 'ip_dst_addr', short: 'da', modes: ['fixed'], kind: 'text' },
  ipSrcPort: { option: 'ip_src_port', short: 'sp', modes: ['fixed'], kind: 'text' },
  ipDstPort: { option: 'ip_dst_port', short: 'dp', modes: ['fixed'], kind: 'text' },
  protocol: { option: 'protocol', short: 'p', modes: ['fixed'], kind: 'text' },
  packetFilter: { option: 'packet_filter', short: 'pf', modes: ['fixed'], kind: 'text' },
  includeReverse: { option: 'include_reverse', short: 'ir', modes: ['fixed'], kind: 'flag' },
  query: { option: 'query', short: 'q', modes: ['query'], kind: 'text' },
  maxPackets: { option: 'max-packets', modes: BOTH, kind: 'int' },
};

/** CLI option (as QueryError names it: `-sa`, `-sa/--ip_src_addr`, `--max-packets`) → JSON field. */
const FIELD_OF_OPTION = new Map<string, string>();
for (const [field, def] of Object.entries(FIELDS)) {
  if (!def.option) continue;
  FIELD_OF_OPTION.set(`--${def.option}`, field);
  if (def.short) {
    FIELD_OF_OPTION.set(`-${def.short}`, field);
    FIELD_OF_OPTION.set(`-${def.short}/--${def.option}`, field);
  }
}

export interface JobLimits {
  pageSize: number;
  fileConcurrency: number;
  defaultBasePath: string;
  allowedBasePaths: readonly string[];
  maxPacketsPerJob: number | undefined;
  maxBytesPerJob: number | undefined;
}

export interface ParsedJob {
  request: QueryRequest;
  /** What is stored and re-parsed after a restart: the body with its defaults (end time = now) filled in. */
  body: JobBody;
}

/**
 * Validates a body for `mode` and returns the query to run, with pages named after `jobId`.
 * `now` fixes Metron's defaults: startTimeMs 0, endTimeMs now.
 */
export function parseJobBody(mode: JobMode, raw: unknown, jobId: string, limits: JobLimits, now: Date): ParsedJob {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new RequestError(
      `the body must be a JSON object of ${mode === 'fixed' ? 'FixedPcapRequest' : 'QueryPcapRequest'} fields`,
    );
  const body: JobBody = {};
  for (const [field, value] of Object.entries(raw as Record<string, unknown>)) {
    const def = FIELDS[field];
    if (!def) throw new RequestError(`unknown field '${field}' (known: ${knownFields(mode)})`, field);
    if (!def.modes.includes(mode))
      throw new RequestError(
        mode === 'query'
          ? `'${field}' is a fixed filter field; POST it to /fixed, or write it in the query expression`
          : `'${field}' belongs to query requests (POST /query)`,
        field,
      );
    if (value === null) continue; // Metron skipped null fields (setFields)
    body[field] = scalar(field, value, def);
  }
  body.startTimeMs ??= 0;
  body.endTimeMs ??= now.getTime();
  if (mode === 'query') body.query ??= '';
  body.basePath ??= limits.defaultBasePath;

  const argv: string[] = [mode];
  for (const [field, value] of Object.entries(body)) {
    const def = FIELDS[field];
    if (!def.option) continue;
    if (def.kind === 'flag') {
      if (value === true) argv.push(`--${def.option}`);
    } else argv.push(`--${def.option}=${String(value)}`);
  }
  argv.push(`--records_per_file=${limits.pageSize}`, `--prefix=${jobId}`, `--concurrency=${limits.fileConcurrency}`);
  argv.push('--output=.', '--quiet');

  let request: QueryRequest;
  try {
    const parsed = parseQueryArgs(argv, now);
    if ('help' in parsed) throw new RequestError('unexpected help request');
    request = parsed;
  } catch (err) {
    if (!isQueryError(err)) throw err;
    const field = err.option === undefined ? undefined : FIELD_OF_OPTION.get(err.option);
    const text = err.describe();
    const message =
      field !== undefined && err.option !== undefined && text.startsWith(`${err.option}: `)
        ? `${field}: ${text.slice(err.option.length + 2)}`
        : text;
    throw new RequestError(message, field, err.position);
  }

  // Jobs always read the server's own store: a body names a path in it, never another store.
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(String(body.basePath)))
    throw new RequestError("basePath: give a path inside the server's store, not a URI", 'basePath');
  const basePath = posix.normalize(request.basePath);
  const allowed = limits.allowedBasePaths.length ? limits.allowedBasePaths : [limits.defaultBasePath];
  if (
    !basePath.startsWith('/') ||
    !allowed.some((root) => basePath === root || basePath.startsWith(`${root === '/' ? '' : root}/`))
  )
    throw new RequestError(
      `basePath: '${String(body.basePath)}' is outside the data this server serves (${allowed.join(', ')})`,
      'basePath',
    );
  request.basePath = basePath;
  if (limits.maxPacketsPerJob !== undefined)
    request.maxPackets = Math.min(request.maxPackets ?? Number.MAX_SAFE_INTEGER, limits.maxPacketsPerJob);
  if (limits.maxBytesPerJob !== undefined)
    request.maxBytes = Math.min(request.maxBytes ?? Number.MAX_SAFE_INTEGER, limits.maxBytesPerJob);
  return { request, body };
}

function scalar(field: string, value: unknown, def: FieldDef): string | number | boolean {
  if (def.kind === 'flag') {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    throw new RequestError(`${field}: must be true or false`, field);
  }
  if (def.kind === 'int') {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value;
    if (typeof value === 'string' && /^\d+$/.test(value.trim()) && Number(value) >= 1) return Number(value);
    throw new RequestError(`${field}: must be a whole number of at least 1`, field);
  }
  if (typeof value === 'string') {
    if (value.length > 64 * 1024) throw new RequestError(`${field}: longer than 65536 characters`, field);
    return value;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new RequestError(
    `${field}: must be a ${field.endsWith('Ms') ? 'number (epoch milliseconds)' : 'string'}`,
    field,
  );
}

const knownFields = (mode: JobMode): string =>
  Object.entries(FIELDS)
    .filter(([, d]) => d.modes.includes(mode))
    .map(([f]) => f)
    .join(', ');

/**
 * GET /{jobId}/config: Metron's map (PcapServiceImpl.getConfiguration): basePath, finalOutputPath,
 * startTimeMs, endTimeMs, numReducers, then the fixed fields or the query.
 */
export function jobConfiguration(mode: JobMode, body: JobBody, finalOutputPath: string): Record<string, unknown> {
  const num = (v: unknown) =>
    v === undefined ? null : typeof v === 'number' ? v : /^-?\d+$/.test(String(v)) ? Number(v) : v;
  const out: Record<string, unknown> = {
    basePath: body.basePath ?? null,
    finalOutputPath,
    startTimeMs: num(body.startTimeMs),
    endTimeMs: num(body.endTimeMs),
    numReducers: body.numReducers ?? 10, // Metron's PcapRequest default
  };
  if (mode === 'fixed') {
    for (const f of ['ipSrcAddr', 'ipDstAddr', 'ipSrcPort', 'ipDstPort', 'protocol', 'packetFilter'])
      out[f] = body[f] ?? null;
    out.includeReverse = body.includeReverse ?? false;
  } else out.query = body.query ?? '';
  if (body.maxPackets !== undefined) out.maxPackets = body.maxPackets;
  return out;
}
