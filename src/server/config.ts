/**
 * pcap-server's configuration: one JSON file (config/pcap-server.json documents every key), checked
 * whole at start. A bad key or value fails with one line naming the key (exit 2), as
 * start-pcap-topology does for pcap.properties.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { PcaplineError } from '../lib/errors.js';

/** A user name is also a directory name under the results directory: keep it boring. */
export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface UserEntry {
  name: string;
  /** `scrypt$N$r$p$<salt b64>$<key b64>` from `pcap-server hash-password`. */
  password?: string;
}

export interface TokenEntry {
  user: string;
  /** Hex SHA-256 of the token (tokens are random, so a fast hash is enough; the token is never stored). */
  sha256: string;
}

export interface ServerConfig {
  host: string;
  port: number;
  /** Packet store URI (webhdfs://host:port or file:///); undefined = $PCAPLINE_STORE, $WEBHDFS_URL, local stack. */
  store: string | undefined;
  /** Default data root inside the store (Metron's pcap.base.path). */
  basePath: string;
  /** Request `basePath`s must be one of these directories or below one (Metron let clients read anything). */
  allowedBasePaths: string[];
  resultsDir: string;
  /** Finished jobs and their pages are deleted this long after they end. */
  retentionHours: number;
  /** Packets per result page (Metron's pcap.page.size). */
  pageSize: number;
  maxRunning: number;
  maxRunningPerUser: number;
  /** Queued plus running jobs one user may have. */
  maxActivePerUser: number;
  /** Queued plus running jobs in total. */
  maxActive: number;
  /** Files each job reads in parallel. */
  fileConcurrency: number;
  /** Heap limit of each job's worker thread (MiB): a query past it fails alone. */
  workerMemoryMb: number;
  /** On shutdown, how long running jobs get to stop before they are recorded as interrupted regardless. */
  shutdownGraceMs: number;
  /** Per-job caps on the result (undefined = none). */
  maxPacketsPerJob: number | undefined;
  maxBytesPerJob: number | undefined;
  pdmlDecoder: 'auto' | 'tshark' | 'builtin';
  tsharkPath: string;
  /** Pages with more packets than this get PDML for their first this-many only. */
  pdmlMaxPackets: number;
  pdmlTimeoutMs: number;
  /** tshark processes at once, over all users. */
  pdmlConcurrency: number;
  users: UserEntry[];
  tokens: TokenEntry[];
  sessionHours: number;
  /** Mark the session cookie Secure (set it when clients reach the server through TLS). */
  secureCookies: boolean;
  /** Trust X-Forwarded-* from a reverse proxy on this address (fastify's trustProxy); false = none. */
  trustProxy: boolean | string;
}

export class ServerConfigError extends PcaplineError {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super('PCAPLINE_SERVER_CONFIG', `${key}: ${problem}`, { exitCode: 2 });
  }
}

export function defaultServerConfig(): ServerConfig {
  return {
    host: '127.0.0.1',
    port: 8085,
    store: undefined,
    basePath: '/apps/metron/pcap/input',
    allowedBasePaths: [],
    resultsDir: resolve('pcap-server-results'),
    retentionHours: 72,
    pageSize: 10,
    maxRunning: 4,
    maxRunningPerUser: 2,
    maxActivePerUser: 20,
    maxActive: 200,
    fileConcurrency: 4,
    shutdownGraceMs: 10_000,
    workerMemoryMb: 512,
    maxPacketsPerJob: undefined,
    maxBytesPerJob: undefined,
    pdmlDecoder: 'auto',
    tsharkPath: 'tshark',
    pdmlMaxPackets: 1000,
    pdmlTimeoutMs: 60_000,
    pdmlConcurrency: 2,
    users: [],
    tokens: [],
    sessionHours: 12,
    secureCookies: false,
    trustProxy: false,
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads and checks a config file; relative paths in it are resolved against the file's directory. */
export function loadServerConfig(path: string): ServerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ServerConfigError(path, `cannot read the configuration (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ServerConfigError(path, `not valid JSON: ${(err as Error).message}`);
  }
  return parseServerConfig(json, resolve(path, '..'));
}

/** Checks a parsed configuration object against the schema above; unknown keys are errors (typos must not pass). */
export function parseServerConfig(json: unknown, baseDir = process.cwd()): ServerConfig {
  const c = defaultServerConfig();
  if (!isObject(json)) throw new ServerConfigError('(top level)', 'must be a JSON object');
  const sections: Record<string, (v: Record<string, Json>, key: string) => void> = {
    listen: (v, k) =>
      fields(v, k, {
        host: (x, kk) => {
          c.host = str(x, kk);
        },
        port: (x, kk) => {
          c.port = int(x, kk, 0, 65535);
        },
      }),
    store: (v, k) =>
      fields(v, k, {
        uri: (x, kk) => {
          c.store = str(x, kk);
          if (!/^(webhdfs|file):\/\//.test(c.store))
            throw new ServerConfigError(kk, 'use webhdfs://host:port or file:///');
        },
        basePath: (x, kk) => {
          c.basePath = absPath(x, kk);
        },
        allowedBasePaths: (x, kk) => {
          if (!Array.isArray(x)) throw new ServerConfigError(kk, 'must be a list of absolute paths');
          c.allowedBasePaths = x.map((p, i) => absPath(p, `${kk}[${i}]`));
        },
      }),
    results: (v, k) =>
      fields(v, k, {
        dir: (x, kk) => {
          const d = str(x, kk);
          c.resultsDir = isAbsolute(d) ? d : resolve(baseDir, d);
        },
        retentionHours: (x, kk) => {
          c.retentionHours = num(x, kk, 0.001, 24 * 3650);
        },
        pageSize: (x, kk) => {
          c.pageSize = int(x, kk, 1, 1_000_000);
        },
      }),
    jobs: (v, k) =>
      fields(v, k, {
        maxRunning: (x, kk) => {
          c.maxRunning = int(x, kk, 1, 1000);
        },
        maxRunningPerUser: (x, kk) => {
          c.maxRunningPerUser = int(x, kk, 1, 1000);
        },
        maxActivePerUser: (x, kk) => {
          c.maxActivePerUser = int(x, kk, 1, 100_000);
        },
        maxActive: (x, kk) => {
          c.maxActive = int(x, kk, 1, 1_000_000);
        },
        fileConcurrency: (x, kk) => {
          c.fileConcurrency = int(x, kk, 1, 256);
        },
        shutdownGraceMs: (x, kk) => {
          c.shutdownGraceMs = int(x, kk, 0, 600_000);
        },
        workerMemoryMb: (x, kk) => {
          c.workerMemoryMb = int(x, kk, 64, 65_536);
        },
        maxPackets: (x, kk) => {
          c.maxPacketsPerJob = int(x, kk, 1, Number.MAX_SAFE_INTEGER);
        },
        maxBytes: (x, kk) => {
          c.maxBytesPerJob = int(x, kk, 1, Number.MAX_SAFE_INTEGER);
        },
      }),
    pdml: (v, k) =>
      fields(v, k, {
        decoder: (x, kk) => {
          const d = str(x, kk);
          if (d !== 'auto' && d !== 'tshark' && d !== 'builtin')
            throw new ServerConfigError(kk, `'${d}' is not one of auto, tshark, builtin`);
          c.pdmlDecoder = d;
        },
        tshark: (x, kk) => {
          c.tsharkPath = str(x, kk);
        },
        maxPackets: (x, kk) => {
          c.pdmlMaxPackets = int(x, kk, 1, 100_000);
        },
        timeoutMs: (x, kk) => {
          c.pdmlTimeoutMs = int(x, kk, 100, 3_600_000);
        },
        concurrency: (x, kk) => {
          c.pdmlConcurrency = int(x, kk, 1, 64);
        },
      }),
    auth: (v, k) =>
      fields(v, k, {
        users: (x, kk) => {
          if (!Array.isArray(x)) throw new ServerConfigError(kk, 'must be a list of {"name", "password"}');
          c.users = x.map((u, i) => user(u, `${kk}[${i}]`));
        },
        tokens: (x, kk) => {
          if (!Array.isArray(x)) throw new ServerConfigError(kk, 'must be a list of {"user", "sha256"}');
          c.tokens = x.map((t, i) => token(t, `${kk}[${i}]`));
        },
        sessionHours: (x, kk) => {
          c.sessionHours = num(x, kk, 0.01, 24 * 365);
        },
        secureCookies: (x, kk) => {
          c.secureCookies = bool(x, kk);
        },
        trustProxy: (x, kk) => {
          c.trustProxy = typeof x === 'string' ? x : bool(x, kk);
        },
      }),
  };
  for (const [key, value] of Object.entries(json)) {
    if (key === '$comment' || key.startsWith('//')) continue;
    const section = sections[key];
    if (!section) throw new ServerConfigError(key, `unknown section (known: ${Object.keys(sections).join(', ')})`);
    if (!isObject(value)) throw new ServerConfigError(key, 'must be an object');
    section(value, key);
  }
  const names = new Set<string>();
  for (const u of c.users) {
    if (names.has(u.name)) throw new ServerConfigError('auth.users', `user '${u.name}' is listed twice`);
    names.add(u.name);
  }
  if (c.maxRunningPerUser > c.maxRunning) c.maxRunningPerUser = c.maxRunning;
  return c;
}

function fields(
  obj: Record<string, Json>,
  section: string,
  setters: Record<string, (v: Json, key: string) => void>,
): void {
  for (const [k, v] of Object.entries(obj)) {
    if (k === '$comment' || k.startsWith('//')) continue;
    const set = setters[k];
    const key = `${section}.${k}`;
    if (!set) throw new ServerConfigError(key, `unknown key (known: ${Object.keys(setters).join(', ')})`);
    set(v, key);
  }
}

function str(v: Json, key: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new ServerConfigError(key, 'must be a non-empty string');
  return v;
}

function bool(v: Json, key: string): boolean {
  if (typeof v !== 'boolean') throw new ServerConfigError(key, 'must be true or false');
  return v;
}

function num(v: Json, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new ServerConfigError(key, `must be a number from ${min} to ${max}`);
  return v;
}

function int(v: Json, key: string, min: number, max: number): number {
  const n = num(v, key, min, max);
  if (!Number.isInteger(n)) throw new ServerConfigError(key, `must be a whole number from ${min} to ${max}`);
  return n;
}

function absPath(v: Json, key: string): string {
  const p = str(v, key);
  if (!p.startsWith('/') || p.split('/').includes('..'))
    throw new ServerConfigError(key, 'must be an absolute path without ..');
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

function user(v: Json, key: string): UserEntry {
  if (!isObject(v)) throw new ServerConfigError(key, 'must be {"name": ..., "password": "scrypt$..."}');
  const out: UserEntry = { name: '' };
  fields(v, key, {
    name: (x, kk) => {
      out.name = str(x, kk);
      if (!USER_NAME.test(out.name))
        throw new ServerConfigError(kk, `'${out.name}' must be letters, digits, '.', '_', '@' or '-' (at most 64)`);
    },
    password: (x, kk) => {
      out.password = str(x, kk);
      if (!out.password.startsWith('scrypt$'))
        throw new ServerConfigError(kk, 'must be a hash from `pcap-server hash-password` (never a plain password)');
    },
  });
  if (!out.name) throw new ServerConfigError(`${key}.name`, 'is required');
  return out;
}

function token(v: Json, key: string): TokenEntry {
  if (!isObject(v)) throw new ServerConfigError(key, 'must be {"user": ..., "sha256": ...}');
  const out: TokenEntry = { user: '', sha256: '' };
  fields(v, key, {
    user: (x, kk) => {
      out.user = str(x, kk);
      if (!USER_NAME.test(out.user)) throw new ServerConfigError(kk, `'${out.user}' is not a valid user name`);
    },
    sha256: (x, kk) => {
      out.sha256 = str(x, kk).toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(out.sha256))
        throw new ServerConfigError(kk, 'must be 64 hex digits (from `pcap-server new-token`)');
    },
  });
  if (!out.user || !out.sha256) throw new ServerConfigError(key, 'needs both "user" and "sha256"');
  return out;
}
