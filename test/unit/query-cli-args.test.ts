import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQueryArgs, queryHelp, defaultPrefix, type QueryRequest } from '../../src/cli/pcap-query/args.js';
import { QueryError, formatQueryError } from '../../src/query/errors.js';
import { createPacketFields } from '../../src/packet/packet-fields.js';

const NOW = new Date('2026-03-01T12:34:56Z');
const HEX = '09855b4ae3204dee8b63760d65198da3';
const parse = (argv: string[]): QueryRequest => {
  const r = parseQueryArgs(argv, NOW, { randomHex: () => HEX, env: {} });
  if ('help' in r) throw new Error('unexpected help');
  return r;
};
const fails = (argv: string[], check: (e: QueryError) => boolean, msg?: string) =>
  assert.throws(
    () => parseQueryArgs(argv, NOW),
    (e: unknown) => e instanceof QueryError && check(e),
    msg ?? argv.join(' '),
  );
const ms = (n: number) => BigInt(n) * 1_000_000n;

// PcapCliTest (metron-compat §8.8), adapted: same inputs, same meaning.
test('metron-compat §8.8 fixed, minimal: Metron option names with one dash, defaults', () => {
  const r = parse([
    'fixed',
    '-start_time',
    '500',
    '-ip_src_addr',
    '192.168.1.1',
    '-ip_dst_addr',
    '192.168.1.2',
    '-ip_src_port',
    '8081',
    '-ip_dst_port',
    '8082',
    '-protocol',
    '6',
    '-packet_filter',
    '`casey`',
  ]);
  assert.equal(r.mode, 'fixed');
  assert.equal(r.basePath, '/apps/metron/pcap/input');
  // No PCAPLINE_STORE (parse() passes an empty environment): a plain path is local.
  assert.equal(r.store, 'file:///');
  assert.equal(r.location, 'local:/apps/metron/pcap/input');
  assert.equal(r.baseOutputPath, '/apps/metron/pcap/interim');
  assert.equal(r.startNs, ms(500));
  assert.equal(r.endNs, ms(NOW.getTime()), 'end time defaults to now (Metron: -1)');
  assert.deepEqual(r.fixed, {
    srcAddr: '192.168.1.1',
    dstAddr: '192.168.1.2',
    srcPort: '8081',
    dstPort: '8082',
    protocol: '6',
    includeReverse: false,
    packetFilter: '`casey`',
  });
  assert.equal(r.recordsPerFile, 10000);
  assert.equal(
    r.filter.description,
    'ip_src_addr=192.168.1.1 ip_src_port=8081 ip_dst_addr=192.168.1.2 ip_dst_port=8082 protocol=6 packet_filter=`casey`',
  );
  assert.deepEqual(r.notices, []);
  assert.equal(r.prefix, `202603011234-${HEX}`);
  assert.deepEqual(r.output, { kind: 'dir', dir: '.' });
  assert.equal(r.useIndex, true);
  assert.equal(r.concurrency, 4);
});

test('metron-compat §8.8 fixed, full list: end time, paths, include_reverse, records per file, MapReduce options noticed', () => {
  const r = parse([
    'fixed',
    '-start_time',
    '500',
    '-end_time',
    '1000',
    '-base_path',
    '/base/path',
    '-base_output_path',
    '/base/output/path',
    '-ip_src_addr',
    '192.168.1.1',
    '-ip_dst_addr',
    '192.168.1.2',
    '-ip_src_port',
    '8081',
    '-ip_dst_port',
    '8082',
    '-protocol',
    '6',
    '-include_reverse',
    '-num_reducers',
    '10',
    '-records_per_file',
    '1000',
    '-finalizer_threads',
    '10',
  ]);
  assert.equal(r.endNs, ms(1000));
  assert.equal(r.basePath, '/base/path');
  assert.equal(r.baseOutputPath, '/base/output/path');
  assert.equal(r.recordsPerFile, 1000);
  assert.equal(r.fixed?.includeReverse, true);
  assert.equal(r.notices.length, 3);
  assert.match(r.notices.join('\n'), /-nr\/--num_reducers no longer applies/);
  assert.match(r.notices.join('\n'), /-ft\/--finalizer_threads no longer applies/);
  assert.match(r.notices.join('\n'), /-bop\/--base_output_path no longer applies/);
  // The same with short options.
  const s = parse([
    'fixed',
    '-st',
    '500',
    '-et',
    '1000',
    '-bp',
    '/base/path',
    '-bop',
    '/base/output/path',
    '-sa',
    '192.168.1.1',
    '-da',
    '192.168.1.2',
    '-sp',
    '8081',
    '-dp',
    '8082',
    '-p',
    '6',
    '-ir',
    '-nr',
    '10',
    '-rpf',
    '1000',
    '-ft',
    '10',
  ]);
  assert.deepEqual({ ...s, filter: null }, { ...r, filter: null });
});

test('metron-compat §8.8 -date_format yyyy-MM-dd-HH:mm.ss with -yq: dates parsed (UTC unless --tz), -yq noticed', () => {
  const args = [
    'fixed',
    '-date_format',
    'yyyy-MM-dd-HH:mm.ss',
    '-start_time',
    '2016-06-13-18:35.00',
    '-end_time',
    '2016-06-15-18:35.00',
    '-yq',
    'pcap',
  ];
  const r = parse(args);
  assert.equal(r.startNs, ms(Date.UTC(2016, 5, 13, 18, 35)));
  assert.equal(r.endNs, ms(Date.UTC(2016, 5, 15, 18, 35)));
  assert.equal(r.dateFormat, 'yyyy-MM-dd-HH:mm.ss');
  assert.match(r.notices[0], /-yq\/--yarn_queue no longer applies/);
  // Metron parsed in the JVM's zone; here the zone is explicit.
  const paris = parse([...args, '--tz', 'Europe/Paris']);
  assert.equal(paris.startNs, ms(Date.UTC(2016, 5, 13, 16, 35)));
  assert.equal(paris.timeZone, 'Europe/Paris');
});

test('metron-compat §8.8 query mode: -query is the expression; MapReduce defaults are gone', () => {
  const r = parse(['query', '-start_time', '500', '-query', 'ip_dst_port == 22']);
  assert.equal(r.mode, 'query');
  assert.equal(r.query, 'ip_dst_port == 22');
  assert.equal(r.filter.kind, 'query');
  const p = createPacketFields();
  p.dstPort = 22;
  assert.equal(r.filter.test(p, Buffer.alloc(0), 0, 0), true);
  assert.deepEqual(r.notices, []);
  assert.equal(parse(['query', '-st', '500', '-q', 'ip_dst_port == 22']).query, 'ip_dst_port == 22');
  assert.equal(
    parse(['query', '-st', '500']).filter.matchesAll,
    true,
    'no -q: everything (Metron: NullPointerException)',
  );
});

test("metron-compat §8.8 query mode with Metron's literal 'some query string': now checked, a syntax error at its column", () => {
  fails(
    ['query', '-start_time', '500', '-query', 'some query string'],
    (e) => e.option === '-q' && e.position === 6 && /syntax error/.test(e.message),
  );
});

test('metron-compat §8.8 errors: fixed with -query, query with -ip_src_addr, missing -start_time', () => {
  fails(
    ['fixed', '-start_time', '500', '-query', 'x'],
    (e) => /unrecognized option -query for fixed mode/.test(e.message) && e.option === '-query',
  );
  fails(['query', '-start_time', '500', '-ip_src_addr', '10.0.0.1'], (e) =>
    /unrecognized option -ip_src_addr for query mode.*ip_src_addr == /.test(e.message),
  );
  fails(['query', '-st', '500', '-ir'], (e) => /-ir\/--include_reverse is a fixed filter option/.test(e.message));
  fails(
    ['fixed', '-ip_src_addr', '10.0.0.1'],
    (e) => /start_time/.test(formatQueryError(e)) && /required/.test(e.message),
  );
  fails(['fixed', '-st', '500', '--bogus', '1'], (e) => /unrecognized option --bogus/.test(e.message));
  fails(['fixed', '-st', '500', 'extra'], (e) => /unexpected argument 'extra'/.test(e.message));
  fails([], (e) => /fixed\|query/.test(e.message));
  fails(['fetch', '-st', '1'], (e) => /unknown mode 'fetch'/.test(e.message));
});

test('bad values: one line naming the option, the problem and the column', () => {
  const cases: Array<[string[], string]> = [
    [
      ['fixed', '-st', '500', '-sa', '10.0.0.300'],
      "pcap-query: -sa: '10.0.0.300' is not an IPv4 address (octets are 0-255, without leading zeros); give an IPv4/IPv6 address or a CIDR block like 10.0.0.0/8 (at column 8)",
    ],
    [
      ['fixed', '-st', '500', '-da', '10.0.0.0/40'],
      "pcap-query: -da: '/40' is not a prefix length (0-32); give an IPv4/IPv6 address or a CIDR block like 10.0.0.0/8 (at column 10)",
    ],
    [
      ['fixed', '-st', '500', '-dp', '80a'],
      "pcap-query: -dp: '80a' is not a port (0-65535) or a port range like 1000-2000 (at column 3)",
    ],
    [
      ['fixed', '-st', '500', '-p', 'tcpp'],
      "pcap-query: -p: unknown protocol 'tcpp'; give a number 0-255 or a name such as tcp, udp, icmp, icmpv6, gre, esp, sctp (at column 1)",
    ],
    [
      ['fixed', '-st', '5x0'],
      "pcap-query: -st: '5x0' is not a time in epoch milliseconds (use -df <pattern> for dates, e.g. -df yyyy-MM-dd) (at column 2)",
    ],
    [
      ['fixed', '-st', '2016-06-13', '-df', 'yyyy-MM-dd kk'],
      "pcap-query: -df: 'kk': hour 1-24 (k) is not supported; use H (0-23) (at column 12)",
    ],
    [
      ['fixed', '-st', '2016-06-13', '-df', 'yyyyMMdd'],
      "pcap-query: -st: '2016-06-13' does not match the date format 'yyyyMMdd' (at column 1)",
    ],
    [
      ['fixed', '-st', '500', '-pf', '2f5'],
      'pcap-query: -pf: invalid byte pattern: hex bytes need two digits (at column 3)',
    ],
    [
      ['query', '-st', '500', '-q', 'ip_dst_port = 22'],
      "pcap-query: -q: syntax error: expected not in, in, comparison operator, and, or or the end of the query but found '=' (use '==' to compare) (at column 13)",
    ],
    [
      ['query', '-st', '500', '-q', 'ip_dst_port'],
      'pcap-query: -q: the query does not return a boolean: it gives a number; compare it, e.g. ip_dst_port == 22 (at column 1)',
    ],
    [
      ['fixed', '-st', '500', '--tz', 'Mars/Base'],
      "pcap-query: --tz: unknown time zone 'Mars/Base'; give an IANA name like Europe/Paris, or UTC (at column 1)",
    ],
    [
      ['fixed', '-st', '500', '-rpf', '0'],
      "pcap-query: -rpf: '0' is not a number of records per file (a whole number of at least 1) (at column 1)",
    ],
    [['fixed', '-st', '500', '-et', '100'], 'pcap-query: -et: the end time is before the start time'],
    [
      ['fixed', '-st', '500', '-bp', 'ftp://x/y'],
      "pcap-query: -bp: unsupported storage URI 'ftp://x/y': expected webhdfs://host:port/path, file:///path or a plain path",
    ],
    [['fixed', '-st', '500', '-pre', 'a/b'], "pcap-query: -pre: 'a/b' cannot be part of a file name (at column 2)"],
    [
      ['fixed', '-st', '500', '--max-bytes', '12q'],
      "pcap-query: --max-bytes: '12q' is not a byte count (e.g. 1000000, 500k, 20m, 2g) (at column 3)",
    ],
    [['fixed', '-st'], 'pcap-query: -st/--start_time: needs a value (time)'],
  ];
  for (const [argv, line] of cases) {
    try {
      parseQueryArgs(argv, NOW);
      assert.fail(`no error for ${argv.join(' ')}`);
    } catch (e) {
      assert.ok(e instanceof QueryError, String(e));
      assert.equal(formatQueryError(e), line);
      assert.ok(!formatQueryError(e).includes('\n'));
    }
  }
});

test('our options: -o (dir or - for stdout), limits, concurrency, --no-index, --quiet, store URIs', () => {
  const r = parse([
    'fixed',
    '-st',
    '500',
    '-o',
    '-',
    '--max-packets',
    '100',
    '--max-bytes',
    '20m',
    '--concurrency',
    '8',
    '--no-index',
    '--quiet',
  ]);
  assert.deepEqual(r.output, { kind: 'stdout' });
  assert.equal(r.maxPackets, 100);
  assert.equal(r.maxBytes, 20 * 1024 * 1024);
  assert.equal(r.concurrency, 8);
  assert.equal(r.useIndex, false);
  assert.equal(r.quiet, true);
  assert.deepEqual(parse(['fixed', '-st', '500', '--output', '/tmp/out']).output, { kind: 'dir', dir: '/tmp/out' });
  assert.deepEqual(parse(['fixed', '-st', '500', '--output=-']).output, { kind: 'stdout' });
  assert.equal(parse(['fixed', '-st', '500', '-no-index']).useIndex, false);
  const w = parse(['fixed', '-st', '500', '-bp', 'webhdfs://127.0.0.1:9870/apps/metron/pcap/input']);
  assert.equal(w.store, 'webhdfs://127.0.0.1:9870');
  assert.equal(w.basePath, '/apps/metron/pcap/input');
  assert.equal(w.location, 'webhdfs://127.0.0.1:9870/apps/metron/pcap/input');
  const f = parse(['fixed', '-st', '500', '-bp', 'file:///var/pcap']);
  assert.equal(f.store, 'file:///');
  assert.equal(f.basePath, '/var/pcap');
  assert.equal(parse(['fixed', '-st', '500', '-pre', 'case42']).prefix, 'case42');
});

test('fixed filters from the CLI: CIDR, ranges, names, IPv6', () => {
  const r = parse([
    'fixed',
    '-st',
    '500',
    '-sa',
    '10.0.0.0/8',
    '-dp',
    '1000-2000',
    '-p',
    'UDP',
    '-da',
    '2001:db8::/32',
  ]);
  assert.equal(
    r.filter.description,
    'ip_src_addr=10.0.0.0/8 ip_dst_addr=2001:db8::/32 ip_dst_port=1000-2000 protocol=17',
  );
});

test('expression warnings become notices', () => {
  const r = parse(['query', '-st', '500', '-q', "ip_dst_port == '22'"]);
  assert.match(r.notices[0], /^warning: -q: .*never equal/);
});

test('help: -h/--help for a mode or overall, even without -st', () => {
  const h = parseQueryArgs(['fixed', '-h'], NOW);
  assert.ok('help' in h);
  assert.match(h.help, /^usage: pcap-query fixed/);
  assert.match(h.help, /-sa,--ip_src_addr <addr>/);
  assert.doesNotMatch(h.help, /--query/);
  const q = parseQueryArgs(['query', '--help'], NOW);
  assert.ok('help' in q && /-q,--query <expr>/.test(q.help) && !/ip_src_addr </.test(q.help));
  const all = parseQueryArgs(['--help'], NOW);
  assert.ok('help' in all && all.help === queryHelp());
  assert.match(queryHelp(), /-nr,--num_reducers/);
});

test('default prefix: yyyyMMddHHmm (UTC) + 32 hex digits', () => {
  assert.match(defaultPrefix(new Date('2018-07-18T19:11:00Z')), /^201807181911-[0-9a-f]{32}$/);
});
