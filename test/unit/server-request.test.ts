/**
 * pcap-server's request bodies: Metron's JSON fields become the CLI's QueryRequest, with the CLI's
 * messages named by the JSON field; server rules (allowed data roots, no URIs, per-job caps) apply.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQueryArgs } from '../../src/cli/pcap-query/args.js';
import { QueryError } from '../../src/query/errors.js';
import { jobConfiguration, parseJobBody, RequestError, type JobLimits } from '../../src/server/jobs/request.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const LIMITS: JobLimits = {
  pageSize: 10,
  fileConcurrency: 4,
  defaultBasePath: '/apps/metron/pcap/input',
  allowedBasePaths: [],
  maxPacketsPerJob: undefined,
  maxBytesPerJob: undefined,
};
const JOB = 'job_1700000000000_0123456789abcdef';

const refused = (mode: 'fixed' | 'query', body: unknown, limits = LIMITS): RequestError => {
  try {
    parseJobBody(mode, body, JOB, limits, NOW);
  } catch (err) {
    assert.ok(err instanceof RequestError, `a RequestError, not ${err}`);
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(body)}`);
};

/** The CLI's one-line message for the same value, without its option name. */
const cliProblem = (argv: string[]): string => {
  try {
    parseQueryArgs(argv, NOW);
  } catch (err) {
    assert.ok(err instanceof QueryError);
    return err.describe().replace(/^\S+: /, '');
  }
  assert.fail(`the CLI accepted ${argv.join(' ')}`);
};

test('a fixed body becomes the same filter and window as the CLI arguments', () => {
  const { request, body } = parseJobBody(
    'fixed',
    {
      startTimeMs: 1000,
      endTimeMs: 2000,
      ipSrcAddr: '10.0.0.0/8',
      ipDstPort: 443,
      protocol: 'tcp',
      includeReverse: true,
    },
    JOB,
    LIMITS,
    NOW,
  );
  assert.equal(request.startNs, 1000n * 1_000_000n);
  assert.equal(request.endNs, 2000n * 1_000_000n);
  assert.deepEqual(request.fixed, {
    srcAddr: '10.0.0.0/8',
    dstAddr: undefined,
    srcPort: undefined,
    dstPort: '443',
    protocol: 'tcp',
    includeReverse: true,
    packetFilter: undefined,
  });
  assert.equal(request.recordsPerFile, 10);
  assert.equal(request.prefix, JOB);
  assert.equal(request.basePath, '/apps/metron/pcap/input');
  assert.equal(body.basePath, '/apps/metron/pcap/input');
});

test("Metron's defaults: start 0, end now, empty query matches all", () => {
  const { request, body } = parseJobBody('query', {}, JOB, LIMITS, NOW);
  assert.equal(body.startTimeMs, 0);
  assert.equal(body.endTimeMs, NOW.getTime());
  assert.equal(request.query, '');
  assert.equal(request.filter.matchesAll, true);
});

test('bad values get the CLI message, named by the JSON field', () => {
  const cases: [mode: 'fixed' | 'query', body: Record<string, unknown>, field: string, argv: string[]][] = [
    ['fixed', { ipSrcAddr: '10.0.0.300' }, 'ipSrcAddr', ['fixed', '-st', '0', '-sa', '10.0.0.300']],
    ['fixed', { ipDstPort: '70000' }, 'ipDstPort', ['fixed', '-st', '0', '-dp', '70000']],
    ['fixed', { protocol: 'tcpp' }, 'protocol', ['fixed', '-st', '0', '-p', 'tcpp']],
    ['fixed', { packetFilter: '2f5' }, 'packetFilter', ['fixed', '-st', '0', '-pf', '2f5']],
    ['query', { query: 'ip_dst_port == ' }, 'query', ['query', '-st', '0', '-q', 'ip_dst_port == ']],
    ['query', { startTimeMs: 'yesterday' }, 'startTimeMs', ['query', '-st', 'yesterday']],
  ];
  for (const [mode, body, field, argv] of cases) {
    const err = refused(mode, body);
    assert.equal(err.field, field, JSON.stringify(body));
    assert.equal(err.message, `${field}: ${cliProblem(argv)}`);
  }
});

test('unknown fields, fields of the other mode and wrong JSON types are refused', () => {
  assert.match(refused('fixed', { ipSrcAdr: '1.2.3.4' }).message, /unknown field 'ipSrcAdr'/);
  assert.match(refused('query', { ipSrcAddr: '1.2.3.4' }).message, /fixed filter field/);
  assert.match(refused('fixed', { query: 'true' }).message, /belongs to query requests/);
  assert.match(refused('fixed', { includeReverse: 'yes' }).message, /includeReverse: must be true or false/);
  assert.match(refused('fixed', { ipSrcAddr: { $gt: '' } }).message, /ipSrcAddr: must be a string/);
  assert.match(refused('fixed', [1, 2]).message, /must be a JSON object/);
});

test('the data root must be an allowed path in the server store, never a URI or a climb out', () => {
  assert.match(refused('query', { basePath: 'file:///etc' }).message, /not a URI/);
  assert.match(refused('query', { basePath: '/apps/metron/pcap/input/../../../etc' }).message, /outside the data/);
  assert.match(refused('query', { basePath: '/apps/metron/pcap/input2' }).message, /outside the data/);
  const inside = parseJobBody('query', { basePath: '/apps/metron/pcap/input/2026/' }, JOB, LIMITS, NOW);
  assert.equal(inside.request.basePath, '/apps/metron/pcap/input/2026', 'normalised as every tool normalises paths');
  const other = parseJobBody('query', { basePath: '/data/b' }, JOB, { ...LIMITS, allowedBasePaths: ['/data'] }, NOW);
  assert.equal(other.request.basePath, '/data/b');
});

test('per-job caps from the configuration bound what a client asks for', () => {
  const capped = { ...LIMITS, maxPacketsPerJob: 100 };
  assert.equal(parseJobBody('query', { maxPackets: 5 }, JOB, capped, NOW).request.maxPackets, 5);
  assert.equal(parseJobBody('query', { maxPackets: 500 }, JOB, capped, NOW).request.maxPackets, 100);
  assert.equal(parseJobBody('query', {}, JOB, capped, NOW).request.maxPackets, 100);
});

test("GET /config: Metron's map with the fixed fields or the query", () => {
  const { body } = parseJobBody('fixed', { startTimeMs: 5, endTimeMs: 9, ipDstAddr: '10.1.1.1' }, JOB, LIMITS, NOW);
  assert.deepEqual(jobConfiguration('fixed', body, '/r/alice/x'), {
    basePath: '/apps/metron/pcap/input',
    finalOutputPath: '/r/alice/x',
    startTimeMs: 5,
    endTimeMs: 9,
    numReducers: 10,
    ipSrcAddr: null,
    ipDstAddr: '10.1.1.1',
    ipSrcPort: null,
    ipDstPort: null,
    protocol: null,
    packetFilter: null,
    includeReverse: false,
  });
  const q = parseJobBody('query', { query: 'protocol == 6' }, JOB, LIMITS, NOW).body;
  assert.equal(jobConfiguration('query', q, '/o').query, 'protocol == 6');
});
