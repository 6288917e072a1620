/**
 * pcap-server: Metron's pcap REST API (/api/v1/pcap) and a web page for investigators, on
 * pcapline's query engine. Also two helpers for the configuration: `hash-password` (scrypt hash
 * for auth.users) and `new-token` (a bearer token and the hash to configure).
 *
 * Exit 0 after SIGINT/SIGTERM (running jobs are recorded as interrupted), 2 for a bad argument or
 * configuration (one line naming it), 1 when the port cannot be bound.
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { UsageError } from '../lib/errors.js';
import { isMainModule, runCli } from './run.js';

const NAME = 'pcap-server';
const USAGE = `usage: ${NAME} [-c <config.json>] [--host <addr>] [--port <n>]
       ${NAME} hash-password        read a password on stdin, print its hash for auth.users
       ${NAME} new-token <user>     print a new bearer token and its auth.tokens entry

Serves Metron's pcap REST API under /api/v1/pcap, its OpenAPI description at
/api/v1/openapi.json, and the investigators' web page at /.

  -c, --config <file>   JSON configuration (see config/pcap-server.json); without it, the
                        defaults: 127.0.0.1:8085, results in ./pcap-server-results, and no
                        users (so the server refuses to start: configure at least one)
      --host <addr>     listen address (default 127.0.0.1; 0.0.0.0 exposes it to the network:
                        put it behind a TLS reverse proxy, see the README)
      --port <n>        listen port (default 8085; 0 picks a free one)
  -h, --help            this help

The packet store is the configuration's store.uri, else $PCAPLINE_STORE, else $WEBHDFS_URL,
else the local stack. Exit status: 0 after SIGINT/SIGTERM, 2 for bad arguments or
configuration, 1 when the server cannot start.`;

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'hash-password') return hashPasswordCommand(argv.slice(1));
  if (argv[0] === 'new-token') return newTokenCommand(argv.slice(1));
  let values: { config?: string; host?: string; port?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        host: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [{ loadServerConfig, defaultServerConfig }, { buildServer, storeUriOf }, { createLogger }] = await Promise.all([
    import('../server/config.js'),
    import('../server/app.js'),
    import('../lib/log.js'),
  ]);
  const config = values.config ? loadServerConfig(values.config) : defaultServerConfig();
  if (values.host !== undefined) config.host = values.host;
  if (values.port !== undefined) {
    if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535)
      throw new UsageError(`--port: '${values.port}' is not a port number (0-65535)`);
    config.port = Number(values.port);
  }
  if (config.users.length === 0 && config.tokens.length === 0)
    throw new UsageError(
      `no users or tokens configured: add auth.users (pcap-server hash-password) or auth.tokens (pcap-server new-token) to ${values.config ?? 'a configuration file given with -c'}`,
    );
  const log = createLogger(NAME);
  const server = await buildServer(config, log);
  try {
    await server.app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await server.close();
    process.stderr.write(`${NAME}: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}\n`);
    return 1;
  }
  const address = server.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info(
    { host: config.host, port, store: storeUriOf(config), results: config.resultsDir, pdml: server.pdml.engine },
    `listening on http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  log.info('stopping: running jobs are recorded as interrupted');
  await server.close();
  return 0;
}

async function hashPasswordCommand(args: string[]): Promise<number> {
  if (args.length) throw new UsageError('hash-password takes no arguments: it reads the password on stdin');
  const password = await readPassword();
  if (password.length < 8) throw new UsageError('the password must have at least 8 characters');
  const { hashPassword } = await import('../server/auth/passwords.js');
  process.stdout.write(`${await hashPassword(password)}\n`);
  return 0;
}

async function newTokenCommand(args: string[]): Promise<number> {
  const { USER_NAME } = await import('../server/config.js');
  if (args.length !== 1 || !USER_NAME.test(args[0])) throw new UsageError('usage: pcap-server new-token <user name>');
  const token = randomBytes(32).toString('base64url');
  const sha256 = createHash('sha256').update(token).digest('hex');
  process.stdout.write(
    `token (give it to the client; it is not stored): ${token}\nauth.tokens entry: ${JSON.stringify({ user: args[0], sha256 })}\n`,
  );
  return 0;
}

/** One line from stdin; on a terminal, prompted without echo. */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write('password: ');
    stdin.setRawMode(true);
  }
  let text = '';
  try {
    for await (const chunk of stdin) {
      text += String(chunk);
      if (stdin.isTTY && text.includes('\u0003')) throw new UsageError('cancelled');
      if (/[\r\n]/.test(text)) break;
    }
  } finally {
    if (stdin.isTTY) {
      stdin.setRawMode(false);
      process.stderr.write('\n');
    }
    stdin.pause();
  }
  return text.split(/\r?\n|\r/)[0];
}

if (isMainModule(import.meta.url)) runCli(NAME, main);
