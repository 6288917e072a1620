/**
 * `--help` and bad arguments must answer at once: each CLI loads the Kafka client, the store
 * clients, the Avro library, the time library and the progress bar only when a run needs them.
 * Checked by recording which npm packages a CLI process resolves (a module-resolution hook), not
 * by timing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(join(tmpdir(), 'pcapline-lazy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const hooks = join(dir, 'hooks.mjs');
writeFileSync(
  hooks,
  `export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (m) process.stderr.write('LOADED ' + m[1] + '\\n');
  return r;
}\n`,
);
const register = join(dir, 'register.mjs');
writeFileSync(
  register,
  `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
);

/** npm packages the CLI resolved while answering `args`, and its exit status. */
function packagesLoaded(cli: string, args: string[]): { packages: Set<string>; status: number | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', register, join(ROOT, cli), ...args], {
    encoding: 'utf8',
    cwd: ROOT,
    timeout: 60_000,
  });
  const packages = new Set([...r.stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]).filter((p) => p !== 'tsx'));
  return { packages, status: r.status };
}

const HEAVY = ['kafkajs', 'webhdfs', 'avsc', 'luxon', 'cli-progress', 'pino', 'fastify', 'saxes'];

for (const [cli, args] of [
  ['src/cli/pcap-query/main.ts', ['--help']],
  ['src/cli/pcap-query/main.ts', ['fixed', '--help']],
  ['src/cli/start-pcap-topology.ts', ['--help']],
  ['src/cli/start-pcap-topology.ts', ['-D', 'no.such.key=1']],
  ['src/cli/replay.ts', ['--help']],
  ['src/cli/replay.ts', ['-t', 'no-source-given']],
  ['src/cli/pcap-tail.ts', ['--help']],
  ['src/cli/pcap-tail.ts', ['--lateness', '-5']],
  ['src/cli/inspector.ts', ['--help']],
  ['src/cli/pcap-server.ts', ['--help']],
  ['src/cli/pcap-server.ts', ['--no-such-option']],
] as const) {
  test(`${cli} ${args.join(' ')} loads none of ${HEAVY.join(', ')}`, () => {
    const { packages, status } = packagesLoaded(cli, [...args]);
    assert.ok(status === 0 || status === 2, `exit status ${status}`);
    assert.deepEqual(
      HEAVY.filter((p) => packages.has(p)),
      [],
    );
  });
}

test('the hook sees packages: a query run loads the time library, and the progress bar only for a terminal', () => {
  const { packages } = packagesLoaded('src/cli/pcap-query/main.ts', [
    'fixed',
    '-st',
    '0',
    '-bp',
    `file://${dir}/no-store`,
    '-o',
    '-',
  ]);
  assert.ok(packages.has('luxon'), [...packages].join(' '));
  // stderr is a pipe here: no bar is drawn, so its package is not loaded.
  assert.ok(!packages.has('cli-progress'), [...packages].join(' '));
});
