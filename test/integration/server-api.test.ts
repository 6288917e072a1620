/**
 * pcap-server's API against the real stack: Metron's 20-packet sample ingested into HDFS by the real
 * topology, then queried through /api/v1/pcap by users of a running server. Every result is compared
 * with what the `pcap-query` CLI writes for the same query (page for page, byte for byte), opened in
 * tshark, and rendered as PDML. A second user gets 404 for the first user's job on every endpoint.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseStorageUri } from '../../src/storage/uri.js';
import { firstDifference, ingestSample, parsePcap, pcapQuery, readSample, tsharkCount } from '../helpers/query.js';
import { call, startServer, testConfig, waitForJob, type Status, type TestServer } from '../helpers/server.js';
import { ensureStack, uniqueName } from '../helpers/stack.js';

const ep = ensureStack();
const sample = await readSample();
const work = mkdtempSync(join(tmpdir(), 'pcapline-server-api-'));
const out = `${ep.webhdfsUrl}/${uniqueName('i15-server')}/input`;
const basePath = parseStorageUri(out).path;
const PAGE = 3;
/** Metron's window over the whole sample, in ms. */
const START = Number(sample[0].tsNs / 1_000_000n);
const END = Number(sample[19].tsNs / 1_000_000n) + 1;

let s: TestServer;

before(async () => {
  await ingestSample(ep, sample, out);
  s = await startServer(
    await testConfig({ store: ep.webhdfsUrl, basePath, pageSize: PAGE, pdmlDecoder: 'tshark', maxActivePerUser: 50 }),
  );
});
after(async () => {
  await s?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Runs the CLI for the same query and returns its pages, in order. */
async function cliPages(args: string[]): Promise<Buffer[]> {
  const dir = mkdtempSync(join(work, 'cli-'));
  const r = await pcapQuery([...args, '-bp', out, '-rpf', String(PAGE), '-pre', 'cli', '-o', dir]);
  assert.equal(r.code, 0, r.stderr);
  const names = readdirSync(dir).sort();
  return Promise.all(names.map((n) => readFile(join(dir, n))));
}

async function apiPages(jobId: string, status: Status): Promise<Buffer[]> {
  const pages: Buffer[] = [];
  for (let p = 1; p <= status.pageTotal; p++) {
    const r = await call(s.url, 'GET', `/api/v1/pcap/${jobId}/raw?page=${p}`, { as: 'alice' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-disposition'), `attachment; filename="pcap_${jobId}_${p}.pcap"`);
    pages.push(r.body);
  }
  return pages;
}

async function submit(mode: 'fixed' | 'query', body: object, as: 'alice' | 'bob' = 'alice'): Promise<Status> {
  const r = await call(s.url, 'POST', `/api/v1/pcap/${mode}`, { as, body });
  assert.equal(r.status, 200, r.body.toString());
  const st = r.json<Status>();
  assert.match(st.jobId, /^job_\d{13}_[0-9a-f]{16}$/);
  assert.ok(['SUBMITTED', 'RUNNING'].includes(st.jobStatus), st.jobStatus);
  return waitForJob(s.url, as, st.jobId);
}

describe('results equal the CLI', () => {
  const cases: { name: string; mode: 'fixed' | 'query'; body: object; cli: string[]; packets: number }[] = [
    {
      name: 'fixed ipDstPort 22',
      mode: 'fixed',
      body: { startTimeMs: START, endTimeMs: END, ipDstPort: 22 },
      cli: ['fixed', '-st', String(START), '-et', String(END), '-dp', '22'],
      packets: 10,
    },
    {
      name: 'fixed both directions with a CIDR block and protocol name',
      mode: 'fixed',
      body: {
        startTimeMs: START,
        endTimeMs: END,
        ipSrcAddr: '192.168.66.0/24',
        ipSrcPort: '22',
        includeReverse: true,
        protocol: 'tcp',
      },
      cli: [
        'fixed',
        '-st',
        String(START),
        '-et',
        String(END),
        '-sa',
        '192.168.66.0/24',
        '-sp',
        '22',
        '-ir',
        '-p',
        'tcp',
      ],
      packets: 20,
    },
    {
      name: 'query expression',
      mode: 'query',
      body: {
        startTimeMs: START,
        endTimeMs: END,
        query: "ip_dst_port == 22 or BYTEARRAY_MATCHER('2f56abd814bc56420489ca38e7faf8cec3d4', packet)",
      },
      cli: [
        'query',
        '-st',
        String(START),
        '-et',
        String(END),
        '-q',
        "ip_dst_port == 22 or BYTEARRAY_MATCHER('2f56abd814bc56420489ca38e7faf8cec3d4', packet)",
      ],
      packets: 11,
    },
    {
      name: "query without a body: Metron's defaults (0 to now, everything)",
      mode: 'query',
      body: {},
      cli: ['query', '-st', '0'],
      packets: 20,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const st = await submit(c.mode, c.body);
      assert.equal(st.jobStatus, 'SUCCEEDED', st.description);
      assert.equal(st.percentComplete, 100);
      assert.equal(st.pageTotal, Math.ceil(c.packets / PAGE));
      const ours = await apiPages(st.jobId, st);
      const theirs = await cliPages(c.cli);
      assert.equal(ours.length, theirs.length, 'same number of pages');
      for (let i = 0; i < ours.length; i++)
        assert.ok(ours[i].equals(theirs[i]), `page ${i + 1} byte-identical to the CLI's`);
      // The whole result in one stream: the same packets, in order, and tshark opens it.
      const whole = await call(s.url, 'GET', `/api/v1/pcap/${st.jobId}/download`, { as: 'alice' });
      assert.equal(whole.status, 200);
      assert.equal(whole.headers.get('content-disposition'), `attachment; filename="pcap_${st.jobId}.pcap"`);
      const all = theirs.flatMap((b) => parsePcap(b).packets);
      assert.equal(all.length, c.packets);
      assert.equal(firstDifference(parsePcap(whole.body).packets, all), null);
      const file = join(work, `${st.jobId}.pcap`);
      writeFileSync(file, whole.body);
      assert.equal(await tsharkCount(file), c.packets);
      const page1 = join(work, `${st.jobId}-1.pcap`);
      writeFileSync(page1, ours[0]);
      assert.equal(await tsharkCount(page1), Math.min(PAGE, c.packets));
    });
  }

  test("a window with no files: SUCCEEDED, no pages, Metron's description", async () => {
    const st = await submit('fixed', { startTimeMs: 0, endTimeMs: 1 });
    assert.equal(st.jobStatus, 'SUCCEEDED');
    assert.equal(st.pageTotal, 0);
    assert.equal(st.description, 'No results in specified date range.');
    const raw = await call(s.url, 'GET', `/api/v1/pcap/${st.jobId}/raw?page=1`, { as: 'alice' });
    assert.equal(raw.status, 404);
  });
});

describe('status, listing, config and PDML', () => {
  let job: Status;
  before(async () => {
    job = await submit('fixed', {
      startTimeMs: START,
      endTimeMs: END,
      ipDstAddr: '192.168.66.121',
      protocol: 6,
      numReducers: 5,
    });
  });

  test("GET ?state= lists the user's jobs in that state; a bad state is a 400", async () => {
    const r = await call(s.url, 'GET', '/api/v1/pcap?state=SUCCEEDED', { as: 'alice' });
    assert.equal(r.status, 200);
    const list = r.json<Status[]>();
    assert.ok(list.some((x) => x.jobId === job.jobId));
    assert.ok(list.every((x) => x.jobStatus === 'SUCCEEDED'));
    assert.deepEqual(Object.keys(list[0]).sort(), [
      'description',
      'jobId',
      'jobStatus',
      'pageTotal',
      'percentComplete',
    ]);
    const running = await call(s.url, 'GET', '/api/v1/pcap?state=RUNNING', { as: 'alice' });
    assert.ok(!running.json<Status[]>().some((x) => x.jobId === job.jobId));
    const bad = await call(s.url, 'GET', '/api/v1/pcap?state=DONE', { as: 'alice' });
    assert.equal(bad.status, 400);
    assert.match(bad.json<{ message: string }>().message, /^state: 'DONE' is not one of NOT_RUNNING/);
  });

  test('GET /{jobId}/config returns the request as Metron did', async () => {
    const r = await call(s.url, 'GET', `/api/v1/pcap/${job.jobId}/config`, { as: 'alice' });
    assert.equal(r.status, 200);
    const c = r.json<Record<string, unknown>>();
    assert.equal(c.basePath, basePath);
    assert.equal(c.startTimeMs, START);
    assert.equal(c.endTimeMs, END);
    assert.equal(c.ipDstAddr, '192.168.66.121');
    assert.equal(c.protocol, 6);
    assert.equal(c.numReducers, 5);
    assert.equal(c.includeReverse, false);
  });

  test("GET /{jobId}/pdml?page=N: tshark's PDML in Metron's JSON, one packet per page record", async () => {
    const r = await call(s.url, 'GET', `/api/v1/pcap/${job.jobId}/pdml?page=1`, { as: 'alice' });
    assert.equal(r.status, 200);
    const pdml = r.json<{
      creator: string;
      captureFile: string;
      packets: { protos: { name: string; fields: { name: string; show: string }[] | null }[] }[];
    }>();
    assert.match(pdml.creator, /^wireshark\//);
    assert.equal(pdml.captureFile, `pcap-data-${job.jobId}+0001.pcap`, 'no server path in the answer');
    assert.equal(pdml.packets.length, PAGE);
    for (const p of pdml.packets) {
      const ip = p.protos.find((x) => x.name === 'ip');
      assert.equal(ip?.fields?.find((f) => f.name === 'ip.dst')?.show, '192.168.66.121');
      assert.ok(p.protos.some((x) => x.name === 'tcp'));
    }
    for (const page of ['0', '-1', 'x', '1.5', '../../etc/passwd', ''])
      assert.equal(
        (await call(s.url, 'GET', `/api/v1/pcap/${job.jobId}/pdml?page=${encodeURIComponent(page)}`, { as: 'alice' }))
          .status,
        400,
        page,
      );
    assert.equal(
      (await call(s.url, 'GET', `/api/v1/pcap/${job.jobId}/pdml?page=${job.pageTotal + 1}`, { as: 'alice' })).status,
      404,
    );
  });

  test('raw fileName is kept to safe characters (no header injection, no path)', async () => {
    const r = await call(
      s.url,
      'GET',
      `/api/v1/pcap/${job.jobId}/raw?page=1&fileName=${encodeURIComponent('../x"\r\nSet-Cookie: a=b.pcap')}`,
      { as: 'alice' },
    );
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('set-cookie'), null);
    assert.equal(r.headers.get('content-disposition'), 'attachment; filename="_x___Set-Cookie__a_b.pcap"');
  });

  test("Basic authentication works like the token (Metron's REST clients)", async () => {
    const r = await call(s.url, 'GET', `/api/v1/pcap/${job.jobId}`, { as: 'alice', basic: true });
    assert.equal(r.status, 200);
  });
});

describe("bad requests get the CLI's message (400)", () => {
  const cases: [mode: 'fixed' | 'query', body: object, field: string, cli: string[]][] = [
    ['fixed', { ipSrcAddr: '192.168.66.300' }, 'ipSrcAddr', ['fixed', '-st', '0', '-sa', '192.168.66.300']],
    ['fixed', { ipDstPort: '22-' }, 'ipDstPort', ['fixed', '-st', '0', '-dp', '22-']],
    ['fixed', { packetFilter: '(2f' }, 'packetFilter', ['fixed', '-st', '0', '-pf', '(2f']],
    [
      'query',
      { query: "IN_SUBNET(ip_src_addr, '10.0.0.0/33')" },
      'query',
      ['query', '-st', '0', '-q', "IN_SUBNET(ip_src_addr, '10.0.0.0/33')"],
    ],
    ['query', { query: 'ip_dst_port' }, 'query', ['query', '-st', '0', '-q', 'ip_dst_port']],
  ];
  for (const [mode, body, field, cli] of cases) {
    test(`${mode} ${JSON.stringify(body)}`, async () => {
      const r = await call(s.url, 'POST', `/api/v1/pcap/${mode}`, { as: 'alice', body });
      assert.equal(r.status, 400);
      const e = r.json<{ message: string; field: string }>();
      assert.equal(e.field, field);
      const c = await pcapQuery([...cli, '-bp', out]);
      assert.equal(c.code, 2);
      const cliProblem = c.stderr.trim().replace(/^pcap-query: \S+: /, '');
      assert.equal(e.message, `${field}: ${cliProblem}`);
    });
  }
  test('a data root outside the allowed ones, or another store, is refused', async () => {
    for (const bp of ['/etc', `${basePath}/../..`, 'file:///etc', `${ep.webhdfsUrl}/`]) {
      const r = await call(s.url, 'POST', '/api/v1/pcap/query', { as: 'alice', body: { basePath: bp } });
      assert.equal(r.status, 400, bp);
      assert.equal(r.json<{ field: string }>().field, 'basePath');
    }
  });
  test('a body that is not JSON, or too large, is refused', async () => {
    const r = await fetch(`${s.url}/api/v1/pcap/query`, {
      method: 'POST',
      headers: { authorization: 'Bearer alice-token-0123456789', 'content-type': 'application/json' },
      body: '{"query":',
    });
    assert.equal(r.status, 400);
    const big = await call(s.url, 'POST', '/api/v1/pcap/query', { as: 'alice', body: { query: 'x'.repeat(100_000) } });
    assert.equal(big.status, 413);
  });
});

describe('authorization: a job belongs to its user', () => {
  let job: Status;
  before(async () => {
    job = await submit('fixed', { startTimeMs: START, endTimeMs: END, ipDstPort: 22 });
  });
  const endpoints = (id: string): [string, string][] => [
    ['GET', `/api/v1/pcap/${id}`],
    ['GET', `/api/v1/pcap/${id}/config`],
    ['GET', `/api/v1/pcap/${id}/pdml?page=1`],
    ['GET', `/api/v1/pcap/${id}/raw?page=1`],
    ['GET', `/api/v1/pcap/${id}/download`],
    ['DELETE', `/api/v1/pcap/kill/${id}`],
  ];

  test('another user gets 404 for the job on every endpoint, and never sees it listed', async () => {
    for (const [method, path] of endpoints(job.jobId)) {
      const r = await call(s.url, method, path, { as: 'bob' });
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.doesNotMatch(r.body.toString(), /192\.168|SUCCEEDED|pcap/i, 'nothing of the job leaks');
    }
    for (const path of ['/api/v1/pcap', '/api/v1/pcap?state=SUCCEEDED', '/api/v1/pcap/jobs']) {
      const r = await call(s.url, 'GET', path, { as: 'bob' });
      assert.equal(r.status, 200);
      assert.ok(!r.body.toString().includes(job.jobId), path);
    }
    // The owner still has it, untouched by bob's kill.
    const mine = await call(s.url, 'GET', `/api/v1/pcap/${job.jobId}`, { as: 'alice' });
    assert.equal(mine.json<Status>().jobStatus, 'SUCCEEDED');
  });

  test('no credentials: 401 on every endpoint; wrong ones too', async () => {
    for (const [method, path] of [
      ...endpoints(job.jobId),
      ['POST', '/api/v1/pcap/fixed'],
      ['GET', '/api/v1/pcap?state=RUNNING'],
    ] as [string, string][]) {
      assert.equal((await call(s.url, method, path)).status, 401, `${method} ${path}`);
      assert.equal((await call(s.url, method, path, { headers: { authorization: 'Bearer forged' } })).status, 401);
    }
  });

  test('ids that are not job ids never reach a path: 404', async () => {
    for (const id of [
      '..%2F..%2Fetc%2Fpasswd',
      '..',
      'job_1_2',
      `${job.jobId}%00`,
      `${job.jobId.slice(0, -1)}G`,
      `..%2Falice%2F${job.jobId}`,
    ]) {
      for (const [method, path] of endpoints(id))
        assert.equal((await call(s.url, method, path, { as: 'alice' })).status, 404, `${method} ${path}`);
    }
  });

  test('the web session: cookie login, CSRF token required for changes', async () => {
    const login = await call(s.url, 'POST', '/api/v1/auth/login', {
      body: { username: 'alice', password: 'alice-password' },
    });
    assert.equal(login.status, 200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const cookie = setCookie.split(';')[0];
    const { csrfToken } = login.json<{ csrfToken: string }>();
    assert.equal((await call(s.url, 'GET', `/api/v1/pcap/${job.jobId}`, { cookie })).status, 200);
    const body = { startTimeMs: 0, endTimeMs: 1 };
    assert.equal((await call(s.url, 'POST', '/api/v1/pcap/fixed', { cookie, body })).status, 403, 'no CSRF token');
    assert.equal((await call(s.url, 'POST', '/api/v1/pcap/fixed', { cookie, body, csrf: 'wrong' })).status, 403);
    assert.equal((await call(s.url, 'POST', '/api/v1/pcap/fixed', { cookie, body, csrf: csrfToken })).status, 200);
    const wrong = await call(s.url, 'POST', '/api/v1/auth/login', { body: { username: 'alice', password: 'nope' } });
    assert.equal(wrong.status, 401);
    await call(s.url, 'POST', '/api/v1/auth/logout', { cookie });
    assert.equal((await call(s.url, 'GET', `/api/v1/pcap/${job.jobId}`, { cookie })).status, 401, 'logged out');
  });
});

test('the OpenAPI description lists every route, and the page is served with a strict CSP', async () => {
  const r = await call(s.url, 'GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200);
  const doc = r.json<{ openapi: string; paths: Record<string, object> }>();
  assert.equal(doc.openapi, '3.0.3');
  for (const p of [
    '/api/v1/pcap/fixed',
    '/api/v1/pcap/query',
    '/api/v1/pcap',
    '/api/v1/pcap/{jobId}',
    '/api/v1/pcap/{jobId}/pdml',
    '/api/v1/pcap/{jobId}/raw',
    '/api/v1/pcap/{jobId}/download',
    '/api/v1/pcap/kill/{jobId}',
    '/api/v1/pcap/{jobId}/config',
  ])
    assert.ok(doc.paths[p], p);
  const page = await call(s.url, 'GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  assert.equal((await call(s.url, 'GET', '/static/app.js')).status, 200);
  assert.equal((await call(s.url, 'GET', '/static/../package.json')).status, 404);
});
