import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPacketFields, type PacketFields } from '../../src/packet/packet-fields.js';
import { compileQuery, parseQuery } from '../../src/query/filter/expr/compile.js';
import { QueryError } from '../../src/query/errors.js';
import { SAMPLE_PATH } from '../helpers/fixtures.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const SAMPLE = SAMPLE_PATH;

interface Rec {
  fields: PacketFields;
  value: Buffer; // the one-packet pcap (24 + 16 + frame)
}

/**
 * The 20 records of Metron's sample SequenceFile, decoded just enough for filters (all are
 * Ethernet/IPv4/TCP, metron-compat §9). Kept independent of src/formats so this test pins the filter alone.
 */
function loadSample(): Rec[] {
  const d = readFileSync(SAMPLE);
  const out: Rec[] = [];
  let pos = 94;
  while (pos < d.length) {
    const recLen = d.readInt32BE(pos);
    if (recLen === -1) {
      pos += 4 + 16; // sync escape
      continue;
    }
    const keyLen = d.readInt32BE(pos + 4);
    const vStart = pos + 8 + keyLen;
    const vLen = d.readInt32BE(vStart);
    const value = d.subarray(vStart + 4, vStart + 4 + vLen);
    pos += 8 + recLen;
    const f = value.subarray(40);
    const p = createPacketFields();
    const sec = value.readUInt32LE(24);
    const usec = value.readUInt32LE(28);
    p.tsNs = BigInt(sec) * 1_000_000_000n + BigInt(usec) * 1000n;
    p.linkType = 1;
    p.ipVersion = 4;
    p.etherType = 0x0800;
    p.srcAddr = `${f[26]}.${f[27]}.${f[28]}.${f[29]}`;
    p.dstAddr = `${f[30]}.${f[31]}.${f[32]}.${f[33]}`;
    p.protocol = f[23];
    const l4 = 14 + (f[14] & 15) * 4;
    p.srcPort = f.readUInt16BE(l4);
    p.dstPort = f.readUInt16BE(l4 + 2);
    p.length = f.length;
    p.frameOffset = 40;
    out.push({ fields: p, value });
  }
  return out;
}

const SAMPLE_RECORDS = loadSample();

/** Indexes of the sample records the query selects, testing each packet on its frame only. */
function select(query: string): number[] {
  const f = compileQuery(query);
  return SAMPLE_RECORDS.flatMap((r, k) => (f.test(r.fields, r.value, 40, r.value.length) ? [k] : []));
}

function pkt(over: Partial<PacketFields>): PacketFields {
  const p = createPacketFields();
  Object.assign(
    p,
    {
      linkType: 1,
      ipVersion: 4,
      protocol: 6,
      srcAddr: '10.0.0.1',
      dstAddr: '10.0.0.2',
      srcPort: 1234,
      dstPort: 80,
      length: 60,
    },
    over,
  );
  return p;
}
const EMPTY = Buffer.alloc(0);
const t = (query: string, p: PacketFields, frame: Buffer = EMPTY): boolean =>
  compileQuery(query).test(p, frame, 0, frame.length);

test('the generated parser is up to date with grammar.peggy (run npm run gen:parser)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcapline-parser-'));
  try {
    execFileSync('bash', [join(ROOT, 'scripts/gen-parser.sh'), dir], { cwd: ROOT, stdio: 'pipe' });
    for (const f of ['parser.js', 'parser.d.ts']) {
      assert.equal(
        readFileSync(join(dir, f), 'utf8'),
        readFileSync(join(ROOT, 'src/query/filter/expr', f), 'utf8'),
        `${f} is stale`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the sample has the 20 records of metron-compat §9', () => {
  assert.equal(SAMPLE_RECORDS.length, 20);
  assert.equal(SAMPLE_RECORDS[0].fields.srcAddr, '192.168.66.121');
  assert.equal(SAMPLE_RECORDS[0].fields.dstPort, 55791);
  assert.equal(SAMPLE_RECORDS[0].fields.tsNs, 1458240269373968000n);
});

// metron-compat §8.9 query rows (PcapTopologyIntegrationTest), evaluated over the sample records.
test('metron-compat §8.9 empty query selects all 20', () => {
  assert.equal(select('').length, 20);
  assert.equal(select('   \n ').length, 20);
  assert.equal(compileQuery('').matchesAll, true);
  assert.equal(compileQuery(null).matchesAll, true);
});
test('metron-compat §8.9 ip_dst_port == 22 → records 1 4 5 7 8 10 13 14 16 19', () => {
  assert.deepEqual(select('ip_dst_port == 22'), [1, 4, 5, 7, 8, 10, 13, 14, 16, 19]);
});
test('metron-compat §8.9 ip_dst_port > 20 and ip_dst_port < 55792 → all 20', () => {
  assert.equal(select('ip_dst_port > 20 and ip_dst_port < 55792').length, 20);
});
test('metron-compat §8.9 ip_dst_port > 55790 → records 0 2 3 6 9 11 12 15 17 18', () => {
  assert.deepEqual(select('ip_dst_port > 55790'), [0, 2, 3, 6, 9, 11, 12, 15, 17, 18]);
});
test("metron-compat §8.9 BYTEARRAY_MATCHER('2f56abd814bc56420489ca38e7faf8cec3d4', packet) → record 12", () => {
  assert.deepEqual(select("BYTEARRAY_MATCHER('2f56abd814bc56420489ca38e7faf8cec3d4', packet)"), [12]);
});
test("metron-compat §8.9 ip_dst_addr == '207.28.210.1' and protocol == 'foo' select nothing (no error)", () => {
  assert.deepEqual(select("ip_dst_addr == '207.28.210.1'"), []);
  assert.deepEqual(select("protocol == 'foo'"), []);
  assert.match(compileQuery("protocol == 'tcp'").warnings[0], /write protocol == 6/);
  assert.deepEqual(
    select("ip_src_addr == 'src_ip' and ip_src_port == 0 and ip_dst_addr == 'dst_ip' and ip_dst_port == 1"),
    [],
  );
});
test("METRON-432: ip_dst_port == '22' does not match port 22, and says why", () => {
  assert.deepEqual(select("ip_dst_port == '22'"), []);
  assert.match(compileQuery("ip_dst_port == '22'").warnings[0], /never equal.*without quotes/);
});
test('packet is the frame only: the pcap magic is not in it', () => {
  assert.deepEqual(select("BYTEARRAY_MATCHER('d4c3b2a1', packet)"), []);
});
test('Zeppelin notebook queries', () => {
  assert.equal(select('ip_dst_port in [ 8080, 80 ]').length, 0);
  assert.equal(select('ip_dst_port in [ 8080, 22 ]').length, 10);
  assert.equal(select("IN_SUBNET(ip_dst_addr, '192.168.0.0/24') && ip_dst_port == 8080").length, 0);
  assert.equal(select("IN_SUBNET(ip_dst_addr, '192.168.66.0/24') && ip_dst_port == 22").length, 10);
  const http = Buffer.concat([Buffer.alloc(54), Buffer.from('GET /api/v1/users HTTP/1.1\r\n')]);
  assert.equal(t("BYTEARRAY_MATCHER('\\'/api/v1\\'', packet)", pkt({}), http), true);
  assert.equal(t("BYTEARRAY_MATCHER('\\'/api/v2\\'', packet)", pkt({}), http), false);
  assert.equal(t("BYTEARRAY_MATCHER('ff(.){5}ff', packet)", pkt({}), Buffer.from('00ff0102030405ff', 'hex')), true);
});

test('operators and keywords in both cases, and C-style forms', () => {
  const p = pkt({ dstPort: 443, srcPort: 5000 });
  for (const q of [
    'ip_dst_port == 443 and ip_src_port == 5000',
    'ip_dst_port == 443 AND ip_src_port == 5000',
    'ip_dst_port == 443 && ip_src_port == 5000',
    'ip_dst_port == 80 or ip_dst_port == 443',
    'ip_dst_port == 80 OR ip_dst_port == 443',
    'ip_dst_port == 80 || ip_dst_port == 443',
    'not ip_dst_port == 80',
    'NOT (ip_dst_port == 80)',
    '!(ip_dst_port == 80)',
    '! ip_dst_port == 80',
    'ip_dst_port != 80',
    'ip_dst_port >= 443 and ip_dst_port <= 443 and ip_dst_port > 442 and ip_dst_port < 444',
    'ip_dst_port in [80, 443]',
    'ip_dst_port IN [80, 443]',
    'ip_dst_port not in [80, 8080]',
    'ip_dst_port NOT IN [80, 8080]',
    'true',
    'TRUE and True',
    '(((ip_dst_port == 443)))',
    "ip_src_addr in '10.0.0.1,10.0.0.7'",
    'ip_dst_port == 443.0',
    'ip_dst_port == 443L',
    'ip_dst_port == 4.43e2',
    'ip_src_addr == "10.0.0.1"',
    'ip_dst_port == 443 // a comment\n and protocol == 6',
  ]) {
    assert.equal(t(q, p), true, q);
  }
  for (const q of [
    'false',
    'ip_dst_port not in [443]',
    'not true',
    '!true',
    'ip_dst_port < 443',
    "ip_src_addr in '10.0.0.7'",
  ]) {
    assert.equal(t(q, p), false, q);
  }
});

test('and binds tighter than or; not binds tighter than and', () => {
  const p = pkt({ dstPort: 22, srcPort: 1 });
  assert.equal(t('ip_dst_port == 22 or ip_dst_port == 1 and ip_src_port == 9', p), true); // a or (b and c)
  assert.equal(t('(ip_dst_port == 22 or ip_dst_port == 1) and ip_src_port == 9', p), false);
  assert.equal(t('not ip_dst_port == 1 and ip_src_port == 1', p), true); // (not a) and b
});

test('null handling: missing ports, non-IP packets, null literals', () => {
  const icmp = pkt({ protocol: 1, srcPort: -1, dstPort: -1 });
  assert.equal(t('ip_dst_port == null', icmp), true);
  assert.equal(t('ip_dst_port != 22', icmp), true);
  assert.equal(t('ip_dst_port < 22', icmp), false);
  assert.equal(t('ip_dst_port >= 0', icmp), false);
  assert.equal(t("ip_src_addr == '10.0.0.1' and protocol == 1", icmp), true, 'addresses exist for ICMP');
  const arp = pkt({ ipVersion: 0, protocol: -1, srcAddr: null, dstAddr: null, srcPort: -1, dstPort: -1 });
  assert.equal(t('protocol == null and ip_src_addr == null', arp), true);
  assert.equal(t("IN_SUBNET(ip_src_addr, '0.0.0.0/0')", arp), false);
  assert.equal(t("STARTS_WITH(ip_src_addr, '10.')", arp), false);
  assert.equal(t('ip_dst_port in [null]', arp), true);
  assert.equal(t('vlan == null', arp), true);
});

test('functions: IN_SUBNET (v4/v6, several blocks), STARTS_WITH, ENDS_WITH, TO_LOWER, TO_UPPER', () => {
  const v6 = pkt({ ipVersion: 6, srcAddr: '2001:db8::5', dstAddr: 'fe80::1' });
  assert.equal(t("IN_SUBNET(ip_src_addr, '10.0.0.0/8', '2001:db8::/32')", v6), true);
  assert.equal(t("IN_SUBNET(ip_dst_addr, '10.0.0.0/8', '2001:db8::/32')", v6), false);
  assert.equal(t("in_subnet(ip_src_addr, '2001:DB8::/32')", v6), true, 'function names are case-insensitive');
  assert.equal(t("STARTS_WITH(ip_dst_addr, 'fe80:')", v6), true);
  assert.equal(t("ENDS_WITH(ip_dst_addr, '::1')", v6), true);
  assert.equal(t("TO_UPPER(ip_dst_addr) == 'FE80::1'", v6), true);
  assert.equal(t("TO_LOWER('ABC') == 'abc'", v6), true);
  assert.equal(t("STARTS_WITH(ip_dst_port, '8')", pkt({ dstPort: 8080 })), true, 'numbers read as text');
  assert.equal(t("IN_SUBNET(ip_src_addr, TO_LOWER('10.0.0.0/8'))", pkt({})), true, 'non-literal blocks work');
  assert.equal(t("IN_SUBNET(ip_src_addr, TO_LOWER('bogus'))", pkt({})), false);
  assert.equal(t("BYTEARRAY_MATCHER(TO_LOWER('`GET`'), packet)", pkt({}), Buffer.from('xxget')), true);
  assert.equal(t("BYTEARRAY_MATCHER('`GET`', 'a get b')", pkt({})), true, 'data may be a string');
  assert.equal(t('BYTEARRAY_MATCHER(null, packet)', pkt({}), Buffer.from('x')), false);
});

test('timestamp (epoch ms), vlan and length', () => {
  const p = pkt({ tsNs: 1458240269373968000n, vlan: 100, length: 1514 });
  assert.equal(t('timestamp == 1458240269373', p), true);
  assert.equal(t('timestamp >= 1458240269000 and timestamp < 1458240270000', p), true);
  assert.equal(t('vlan == 100 and length > 1500', p), true);
  assert.equal(t('vlan == 100', pkt({ vlan: -1 })), false);
});

test('string escapes: quotes and backslashes; other backslashes pass through to byteseek', () => {
  assert.equal(parseQuery("'a\\'b'")?.type, 'str');
  assert.deepEqual((parseQuery("'a\\'b\\\\c\\d'") as { value: string }).value, "a'b\\c\\d");
  assert.deepEqual((parseQuery('"say \\"hi\\""') as { value: string }).value, 'say "hi"');
  assert.equal(t("BYTEARRAY_MATCHER('\\d\\d\\d', packet)", pkt({}), Buffer.from('ab123')), true);
});

test('index pre-filter: exact when only FlowKey fields are used, three-valued otherwise', () => {
  const key = (dport: number, src = '10.0.0.1', protocol = 6) => ({
    tsNs: 1458240269373968000n,
    protocol,
    srcAddr: src,
    dstAddr: '10.0.0.2',
    srcPort: 1,
    dstPort: dport,
    vlan: -1,
  });
  const a = compileQuery("ip_dst_port == 22 and IN_SUBNET(ip_src_addr, '10.0.0.0/8')");
  assert.equal(a.indexExact, true);
  assert.equal(a.indexPredicate!(key(22)), true);
  assert.equal(a.indexPredicate!(key(23)), false);
  assert.equal(a.indexPredicate!(key(22, '11.0.0.1')), false);
  const bytes = compileQuery("ip_dst_port == 22 and BYTEARRAY_MATCHER('ff', packet)");
  assert.equal(bytes.indexExact, false);
  assert.equal(bytes.indexPredicate!(key(22)), true, 'maybe: must read the packet');
  assert.equal(bytes.indexPredicate!(key(23)), false, 'certainly not');
  const either = compileQuery('ip_dst_port == 22 or length > 100');
  assert.equal(either.indexPredicate!(key(23)), true, 'unknown or false = maybe');
  const negated = compileQuery('not (ip_dst_port == 22 and length > 100)');
  assert.equal(negated.indexPredicate!(key(23)), true);
  assert.equal(negated.indexPredicate!(key(22)), true, 'not(unknown) = maybe');
  assert.equal(compileQuery("BYTEARRAY_MATCHER('ff', packet)").indexPredicate, null);
  assert.equal(compileQuery('').indexPredicate, null);
  const raw = compileQuery("ip_src_addr == '192.168.66.1'");
  assert.equal(raw.indexPredicate!({ ...key(22), srcAddr: Uint8Array.of(192, 168, 66, 1) }), true, 'raw address bytes');
  const table = compileQuery("ip_src_addr == '192.168.66.1' and vlan == 7").forAddressTable!([
    '192.168.66.1',
    '10.0.0.1',
  ]);
  assert.equal(table({ tsNs: 1n, protocol: 6, src: 0, dst: 1, srcPort: 1, dstPort: 2, vlan: 7 }), true);
  assert.equal(table({ tsNs: 1n, protocol: 6, src: 1, dst: 0, srcPort: 1, dstPort: 2, vlan: 7 }), false);
  assert.equal(table({ tsNs: 1n, protocol: 6, src: 0, dst: 1, srcPort: 1, dstPort: 2, vlan: -1 }), false);
});

test('compile errors carry the column (and line) of the problem', () => {
  const cases: Array<[string, number, number | undefined, RegExp]> = [
    ['ip_dst_port = 22', 13, 1, /syntax error.*found '='.*use '=='/],
    ['ip_dst_port == ', 16, 1, /expected value but found the end/],
    ['(ip_dst_port == 22', 19, 1, /expected and, or or '\)'/],
    ["ip_dst_addr == '10.0.0.1", 16, 1, /string that starts here is not closed/],
    ['ip_dst_port == 22 ip_src_port == 1', 19, 1, /found 'ip_src_port'/],
    ['ip_dst_prt == 22', 1, 1, /unknown variable 'ip_dst_prt'; did you mean ip_dst_port\?/],
    ['ip_dst_port == 22 and\n  bogus == 1', 3, 2, /unknown variable 'bogus'/],
    ['ip_dst_port', 1, 1, /does not return a boolean: it gives a number/],
    ['TO_LOWER(ip_src_addr)', 1, 1, /does not return a boolean: it gives a string/],
    ['ip_dst_port == 22 and 5', 23, 1, /'and' needs true\/false operands, but 5 is a number/],
    ['not ip_dst_port', 5, 1, /'not' needs true\/false/],
    ['FOO(1)', 1, 1, /unknown function 'FOO'/],
    ["IN_SUBNT(ip_src_addr, '10.0.0.0/8')", 1, 1, /did you mean IN_SUBNET/],
    ["IN_SUBNET(ip_dst_addr, '10.0.0.0/33')", 34, 1, /prefix length/],
    ['IN_SUBNET(ip_dst_addr)', 1, 1, /takes 2 or more arguments/],
    ["BYTEARRAY_MATCHER('2f5', packet)", 22, 1, /invalid byte pattern: hex bytes need two digits/],
    ["BYTEARRAY_MATCHER('ff', ip_dst_port)", 25, 1, /searches bytes/],
    ['ip_dst_port in 5', 16, 1, /'in' needs a list/],
  ];
  for (const [q, column, line, re] of cases) {
    assert.throws(
      () => compileQuery(q),
      (e: unknown) =>
        e instanceof QueryError &&
        e.option === '-q' &&
        e.position === column &&
        (line === undefined || e.line === line) &&
        re.test(e.message) &&
        typeof e.excerpt === 'string',
      q,
    );
  }
});

test('no user input is evaluated as JavaScript', () => {
  const filterDir = join(ROOT, 'src/query/filter');
  const sources = readdirSync(filterDir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|js)$/.test(f));
  assert.ok(sources.length >= 10, 'the filter sources were found');
  for (const f of sources) {
    const src = readFileSync(join(filterDir, f), 'utf8');
    assert.doesNotMatch(src, /new Function|\beval\(/, f);
  }
  // A query that looks like code is just a syntax error.
  assert.throws(() => compileQuery('process.exit(1)'), QueryError);
  assert.throws(() => compileQuery("constructor.constructor('return 1')() == 1"), QueryError);
  assert.throws(() => compileQuery('__proto__ == 1'), /unknown variable/);
});

test('a compiled query is reused across packets without state leaking between them', () => {
  const f = compileQuery("ip_dst_port in [22, 80, 443] and IN_SUBNET(ip_src_addr, '192.168.0.0/16') and protocol == 6");
  const p = pkt({ srcAddr: '192.168.66.1', dstPort: 443 });
  const other = pkt({ srcAddr: '10.1.1.1', dstPort: 443 });
  let n = 0;
  for (let k = 0; k < 10_000; k++) {
    if (f.test(p, EMPTY, 0, 0)) n++;
    if (f.test(other, EMPTY, 0, 0)) n += 1_000_000;
  }
  assert.equal(n, 10_000);
});
