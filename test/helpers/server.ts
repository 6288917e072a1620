/**
 * pcap-server in the test process: a real server (fastify, job manager, result store, tshark) on
 * an ephemeral 127.0.0.1 port, with two users and a bearer token each, and a small client.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/lib/log.js';
import { buildServer, type BuildOptions, type PcapServer } from '../../src/server/app.js';
import { hashPassword } from '../../src/server/auth/passwords.js';
import { defaultServerConfig, type ServerConfig } from '../../src/server/config.js';

export const USERS = { alice: 'alice-password', bob: 'bob-password' } as const;
export type TestUser = keyof typeof USERS;
export const TOKENS: Record<TestUser, string> = { alice: 'alice-token-0123456789', bob: 'bob-token-0123456789' };

/** Cheap scrypt for tests (the server accepts any valid cost; production hashes use the default). */
const CHEAP = { N: 1024, r: 8, p: 1 } as const;

export interface TestServer {
  url: string;
  server: PcapServer;
  config: ServerConfig;
  resultsDir: string;
  close(): Promise<void>;
  /** Start a second server on the same results directory (a restart). */
  restart(overrides?: Partial<ServerConfig>, options?: BuildOptions): Promise<TestServer>;
}

export async function testConfig(overrides: Partial<ServerConfig> = {}): Promise<ServerConfig> {
  return {
    ...defaultServerConfig(),
    port: 0,
    resultsDir: mkdtempSync(join(tmpdir(), 'pcapline-server-results-')),
    users: await Promise.all(
      Object.entries(USERS).map(async ([name, pw]) => ({ name, password: await hashPassword(pw, CHEAP) })),
    ),
    tokens: Object.entries(TOKENS).map(([user, token]) => ({
      user,
      sha256: createHash('sha256').update(token).digest('hex'),
    })),
    ...overrides,
  };
}

export async function startServer(
  config: ServerConfig,
  options: BuildOptions = {},
  ownsResults = true,
): Promise<TestServer> {
  const server = await buildServer(config, createLogger('pcap-server-test', process.env.LOG_LEVEL ?? 'warn'), options);
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  let closed = false;
  const self: TestServer = {
    url: `http://127.0.0.1:${address.port}`,
    server,
    config,
    resultsDir: config.resultsDir,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      if (ownsResults) rmSync(config.resultsDir, { recursive: true, force: true });
    },
    async restart(overrides = {}, opts = {}) {
      if (!closed) {
        closed = true;
        await server.close();
      }
      return startServer({ ...config, ...overrides }, opts, ownsResults);
    },
  };
  return self;
}

export interface Call {
  status: number;
  headers: Headers;
  body: Buffer;
  json<T = unknown>(): T;
}

export interface CallOptions {
  as?: TestUser;
  /** Authenticate with Basic instead of the bearer token. */
  basic?: boolean;
  cookie?: string;
  csrf?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export async function call(base: string, method: string, path: string, o: CallOptions = {}): Promise<Call> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.as && o.basic) headers.authorization = `Basic ${Buffer.from(`${o.as}:${USERS[o.as]}`).toString('base64')}`;
  else if (o.as) headers.authorization = `Bearer ${TOKENS[o.as]}`;
  if (o.cookie) headers.cookie = o.cookie;
  if (o.csrf) headers['x-csrf-token'] = o.csrf;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: o.body === undefined ? undefined : JSON.stringify(o.body),
    redirect: 'manual',
  });
  const body = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    headers: res.headers,
    body,
    json: <T>() => JSON.parse(body.toString('utf8')) as T,
  };
}

export interface Status {
  jobId: string;
  jobStatus: string;
  description: string;
  percentComplete: number;
  pageTotal: number;
}

/** Polls a job until it has finished (SUCCEEDED, FAILED or KILLED). */
export async function waitForJob(base: string, as: TestUser, jobId: string, timeoutMs = 120_000): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(base, 'GET', `/api/v1/pcap/${jobId}`, { as });
    if (r.status !== 200) throw new Error(`GET status: ${r.status} ${r.body}`);
    const s = r.json<Status>();
    if (['SUCCEEDED', 'FAILED', 'KILLED'].includes(s.jobStatus)) return s;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${s.jobStatus} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
