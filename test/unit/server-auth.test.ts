/** pcap-server's configuration checks, password hashes and authentication (sessions, tokens, Basic, throttling). */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Authenticator } from '../../src/server/auth/authenticator.js';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../src/server/auth/passwords.js';
import { parseServerConfig, ServerConfigError } from '../../src/server/config.js';

const CHEAP = { N: 1024, r: 8, p: 1 } as const;

test('scrypt hashes verify the right password only, and carry their cost', async () => {
  const h = await hashPassword('correct horse', CHEAP);
  assert.match(h, /^scrypt\$1024\$8\$1\$/);
  assert.equal(await verifyPassword('correct horse', h), true);
  assert.equal(await verifyPassword('correct hors', h), false);
  assert.notEqual(await hashPassword('correct horse', CHEAP), h, 'salted');
  assert.equal(
    parsePasswordHash('scrypt$3$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA=='),
    null,
    'N must be a power of two',
  );
  assert.equal(
    parsePasswordHash('scrypt$4194304$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA=='),
    null,
    'absurd cost refused',
  );
  assert.equal(await verifyPassword('x', 'plain'), false);
});

test('configuration: every key checked, unknown keys and plain passwords refused with the key named', () => {
  const ok = parseServerConfig(
    {
      listen: { host: '0.0.0.0', port: 9000 },
      store: { uri: 'webhdfs://nn:9870', basePath: '/pcap/', allowedBasePaths: ['/pcap', '/old'] },
      results: { dir: 'res', retentionHours: 24, pageSize: 100 },
      jobs: { maxRunning: 2, maxRunningPerUser: 5 },
      auth: { users: [{ name: 'alice', password: 'scrypt$1024$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==' }] },
    },
    '/etc/pcapline',
  );
  assert.equal(ok.port, 9000);
  assert.equal(ok.basePath, '/pcap');
  assert.equal(ok.resultsDir, '/etc/pcapline/res');
  assert.equal(ok.maxRunningPerUser, 2, 'never more per user than in total');
  const bad = (json: unknown, key: RegExp) =>
    assert.throws(
      () => parseServerConfig(json),
      (e: unknown) => e instanceof ServerConfigError && key.test(e.message),
    );
  bad({ listen: { prot: 1 } }, /^listen\.prot: unknown key/);
  bad({ lisen: {} }, /^lisen: unknown section/);
  bad({ listen: { port: 70000 } }, /^listen\.port: must be/);
  bad({ auth: { users: [{ name: 'alice', password: 'hunter2' }] } }, /^auth\.users\[0\]\.password: must be a hash/);
  bad({ auth: { users: [{ name: '../x' }] } }, /^auth\.users\[0\]\.name/);
  bad({ auth: { tokens: [{ user: 'a', sha256: 'abc' }] } }, /^auth\.tokens\[0\]\.sha256/);
  bad({ store: { basePath: 'relative' } }, /^store\.basePath/);
  bad({ pdml: { decoder: 'wireshark' } }, /^pdml\.decoder/);
});

test('authentication: session, bearer token and Basic resolve to the configured user; others are refused', async () => {
  const token = 'tok-123456';
  const auth = new Authenticator({
    users: [{ name: 'alice', password: await hashPassword('alice-secret', CHEAP) }],
    tokens: [{ user: 'robot', sha256: createHash('sha256').update(token).digest('hex') }],
    sessionHours: 1,
  });
  const login = await auth.login('alice', 'alice-secret', '1.1.1.1');
  assert.ok('id' in login);
  const viaSession = await auth.authenticate(undefined, login.id, '1.1.1.1');
  assert.ok('user' in viaSession && viaSession.user === 'alice' && viaSession.via === 'session');
  assert.ok(Authenticator.csrfMatches(login.session, login.session.csrf));
  assert.ok(!Authenticator.csrfMatches(login.session, 'nope'));
  const viaToken = await auth.authenticate(`Bearer ${token}`, undefined, '1.1.1.1');
  assert.ok('user' in viaToken && viaToken.user === 'robot');
  const basic = `Basic ${Buffer.from('alice:alice-secret').toString('base64')}`;
  const viaBasic = await auth.authenticate(basic, undefined, '1.1.1.1');
  assert.ok('user' in viaBasic && viaBasic.user === 'alice');
  for (const header of [`Bearer wrong`, `Basic ${Buffer.from('alice:wrong').toString('base64')}`, 'Digest x']) {
    const r = await auth.authenticate(header, undefined, '1.1.1.1');
    assert.ok('error' in r && r.error === 'unauthenticated', header);
  }
  assert.ok('error' in (await auth.authenticate(undefined, 'forged-session', '1.1.1.1')));
  assert.ok(
    'error' in (await auth.login('mallory', 'alice-secret', '1.1.1.1')),
    'unknown users fail like wrong passwords',
  );
  auth.logout(login.id);
  assert.ok('error' in (await auth.authenticate(undefined, login.id, '1.1.1.1')), 'logged out');
});

test('repeated failures from one address are throttled; other addresses are not', async () => {
  const auth = new Authenticator({
    users: [{ name: 'a', password: await hashPassword('pw-pw-pw-pw', CHEAP) }],
    tokens: [],
    sessionHours: 1,
  });
  for (let i = 0; i < 20; i++) await auth.authenticate('Bearer nope', undefined, '6.6.6.6');
  const r = await auth.login('a', 'pw-pw-pw-pw', '6.6.6.6');
  assert.ok('error' in r && r.error === 'throttled');
  assert.ok('id' in (await auth.login('a', 'pw-pw-pw-pw', '7.7.7.7')));
});
