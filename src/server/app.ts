/**
 * pcap-server assembled: configuration → authenticator, result store, job manager, PDML renderer,
 * and a fastify app with the auth hook, Metron's pcap routes, the OpenAPI description and the page.
 * `startServer` also listens; tests use `buildServer` with an ephemeral port.
 */
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { endpointsOrDefault } from '../lib/endpoints.js';
import type { Logger } from '../lib/log.js';
import type { Storage } from '../storage/types.js';
import { Authenticator } from './auth/authenticator.js';
import type { ServerConfig } from './config.js';
import { sendError } from './http.js';
import { JobLimitError, JobManager } from './jobs/manager.js';
import { WorkerPool } from './jobs/worker-pool.js';
import { RequestError } from './jobs/request.js';
import { openApiDocument } from './openapi.js';
import { PdmlRenderer } from './pdml/index.js';
import { authRoutes } from './routes/auth.js';
import { pcapRoutes } from './routes/pcap.js';
import { staticRoutes } from './routes/static.js';
import { ResultStore } from './store/result-store.js';

export interface PcapServer {
  app: FastifyInstance;
  jobs: JobManager;
  pdml: PdmlRenderer;
  /** Stops listening, interrupts running jobs (recorded), closes store connections. */
  close(): Promise<void>;
}

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The store URI jobs read: the configuration's, else $PCAPLINE_STORE, $WEBHDFS_URL, the local stack (as pcap-query). */
export const storeUriOf = (config: ServerConfig): string =>
  config.store ?? process.env.PCAPLINE_STORE ?? endpointsOrDefault().webhdfsUrl;

export interface BuildOptions {
  /**
   * Opens the store by URI in the server thread, for job workers to use over a bridge (tests wrap the
   * real store to hold reads). By default each worker opens the store itself.
   */
  openStorage?: (uri: string) => Storage;
}

export async function buildServer(config: ServerConfig, log: Logger, options: BuildOptions = {}): Promise<PcapServer> {
  const auth = new Authenticator(config);
  const results = new ResultStore(config.resultsDir);
  // Workers open the store from its URI; a store handed in as a function is opened here and bridged.
  const store: Storage | undefined = options.openStorage ? options.openStorage(storeUriOf(config)) : undefined;
  const runner = new WorkerPool({
    size: config.maxRunning,
    memoryMb: config.workerMemoryMb,
    storeUri: storeUriOf(config),
    storage: store,
    log: log.child({ part: 'workers' }),
  });
  const jobs = new JobManager({ config, results, runner, log: log.child({ part: 'jobs' }) });
  const pdml = new PdmlRenderer(
    {
      decoder: config.pdmlDecoder,
      tshark: config.tsharkPath,
      maxPackets: config.pdmlMaxPackets,
      timeoutMs: config.pdmlTimeoutMs,
      concurrency: config.pdmlConcurrency,
    },
    log,
  );
  await jobs.start();

  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header(
      'content-security-policy',
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });
  app.setErrorHandler((err, request, reply) => {
    if (err instanceof JobLimitError) return sendError(reply, err.status, err.message);
    if (err instanceof RequestError)
      return sendError(reply, 400, err.message, {
        ...(err.field ? { field: err.field } : {}),
        ...(err.position ? { position: err.position } : {}),
      });
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return sendError(reply, status, (err as Error).message);
    request.log.error({ err, url: request.url }, 'request failed');
    return sendError(reply, 500, `internal error: ${(err as Error).message}`);
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, 404, 'no such route'));

  authRoutes(app, {
    auth,
    sessionHours: config.sessionHours,
    secureCookies: config.secureCookies,
    publicPaths: new Set(['/api/v1/auth/login', '/api/v1/auth/logout', '/api/v1/openapi.json', '/api/v1/health']),
  });
  const openapi = openApiDocument(VERSION);
  app.get('/api/v1/openapi.json', async () => openapi);
  app.get('/api/v1/health', async () => ({ status: 'ok' }));
  pcapRoutes(app, { jobs, results, pdml });
  staticRoutes(app, new URL('./web/', import.meta.url));

  return {
    app,
    jobs,
    pdml,
    async close() {
      await app.close();
      await jobs.close();
      await runner.close();
      await store?.close();
    },
  };
}
