/**
 * Bad input through the real `pcap-query` CLI (spawned): an invalid IP, port, time, date pattern,
 * protocol name or expression exits with status 2 and exactly one line on stderr that names the
 * option, the problem and the column (or line and column) where it is; nothing on stdout, no stack
 * trace, no files. Also: a store that cannot be reached is exit 1 with one line. The checks run
 * before any storage access, so no stack is needed (the -bp below does not exist).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pcapQuery } from '../helpers/query.js';

const cwd = mkdtempSync(join(tmpdir(), 'pcapline-query-errors-'));
after(() => rmSync(cwd, { recursive: true, force: true }));
const BP = ['-bp', `file://${cwd}/no-such-store`];

interface Bad {
  what: string;
  args: string[];
  /** The whole stderr line. */
  line: string | RegExp;
}

const CASES: Bad[] = [
  // IP addresses
  {
    what: 'IPv4 octet out of range',
    args: ['fixed', '-st', '0', '-sa', '10.0.0.256'],
    line: /^pcap-query: -sa: '10\.0\.0\.256' is not an IPv4 address .* \(at column 8\)$/,
  },
  {
    what: 'CIDR prefix too long',
    args: ['fixed', '-st', '0', '-da', '10.0.0.0/33'],
    line: /^pcap-query: -da: '\/33' is not a prefix length \(0-32\).* \(at column 10\)$/,
  },
  {
    what: 'malformed IPv6',
    args: ['fixed', '-st', '0', '-sa', '2001:db8:::1'],
    line: /^pcap-query: -sa: '2001:db8:::1' is not an IPv6 address.* \(at column \d+\)$/,
  },
  {
    what: 'a host name',
    args: ['fixed', '-st', '0', '-da', 'example.org'],
    line: /^pcap-query: -da: 'example\.org' is not an IPv4 address.* \(at column 1\)$/,
  },
  {
    what: 'IN_SUBNET with a bad block',
    args: ['query', '-st', '0', '-q', "IN_SUBNET(ip_src_addr, '10.0.0.0/40')"],
    line: "pcap-query: -q: IN_SUBNET: '/40' is not a prefix length (0-32) (at column 34)",
  },
  // Ports
  {
    what: 'port out of range',
    args: ['fixed', '-st', '0', '-sp', '70000'],
    line: 'pcap-query: -sp: port 70000 is out of range (0-65535) (at column 1)',
  },
  {
    what: 'port with garbage',
    args: ['fixed', '-st', '0', '-dp', '80x'],
    line: "pcap-query: -dp: '80x' is not a port (0-65535) or a port range like 1000-2000 (at column 3)",
  },
  {
    what: 'reversed port range',
    args: ['fixed', '-st', '0', '-dp', '2000-1000'],
    line: 'pcap-query: -dp: the port range 2000-1000 ends below its start (at column 1)',
  },
  // Times
  {
    what: 'a clock time without -df',
    args: ['fixed', '-st', '12:30'],
    line: "pcap-query: -st: '12:30' is not a time in epoch milliseconds (use -df <pattern> for dates, e.g. -df yyyy-MM-dd) (at column 3)",
  },
  {
    what: 'a word as end time',
    args: ['fixed', '-st', '0', '-et', 'yesterday'],
    line: /^pcap-query: -et: 'yesterday' is not a time in epoch milliseconds .* \(at column 1\)$/,
  },
  {
    what: 'a date that does not fit -df',
    args: ['fixed', '-df', 'yyyy-MM-dd', '-st', '2024/01/01'],
    line: "pcap-query: -st: '2024/01/01' does not match the date format 'yyyy-MM-dd' (at column 1)",
  },
  {
    what: 'month 13',
    args: ['fixed', '-df', 'yyyy-MM-dd', '-st', '2024-13-01'],
    line: /^pcap-query: -st: '2024-13-01' does not match the date format 'yyyy-MM-dd': .*month.* \(at column \d+\)$/,
  },
  {
    what: 'end before start',
    args: ['fixed', '-st', '100', '-et', '50'],
    line: 'pcap-query: -et: the end time is before the start time',
  },
  {
    what: 'missing start time',
    args: ['fixed', '-et', '5'],
    line: 'pcap-query: -st/--start_time: the start time is required (epoch milliseconds, or a date with -df)',
  },
  // Date patterns
  {
    what: 'unknown pattern letter',
    args: ['fixed', '-df', 'yyyy-MM-ddQ', '-st', '2024-01-01'],
    line: "pcap-query: -df: 'Q' is not a date pattern letter (quote literal text, e.g. 'T') (at column 11)",
  },
  {
    what: 'unclosed quote in the pattern',
    args: ['fixed', '-df', "yyyy-MM-dd'T", '-st', '2024-01-01'],
    line: "pcap-query: -df: the quoted text that starts here is not closed with ' (at column 11)",
  },
  // Protocols
  {
    what: 'unknown protocol name',
    args: ['fixed', '-st', '0', '-p', 'tcpp'],
    line: /^pcap-query: -p: unknown protocol 'tcpp'; give a number 0-255 or a name such as tcp, udp, icmp.* \(at column 1\)$/,
  },
  {
    what: 'protocol number above 255',
    args: ['fixed', '-st', '0', '-p', '300'],
    line: /^pcap-query: -p: unknown protocol '300'; .* \(at column 1\)$/,
  },
  // Expressions
  {
    what: 'expression ends early',
    args: ['query', '-st', '0', '-q', 'ip_dst_port == '],
    line: 'pcap-query: -q: syntax error: expected value but found the end of the query (at column 16)',
  },
  {
    what: 'unclosed parenthesis',
    args: ['query', '-st', '0', '-q', "ip_src_addr == 'a' and (ip_dst_port == 1"],
    line: "pcap-query: -q: syntax error: expected and, or or ')' but found the end of the query (at column 41)",
  },
  {
    what: 'misspelt variable',
    args: ['query', '-st', '0', '-q', 'ip_dst_prt == 22'],
    line: /^pcap-query: -q: unknown variable 'ip_dst_prt'; did you mean ip_dst_port\?.* \(at column 1\)$/,
  },
  {
    what: 'unknown function',
    args: ['query', '-st', '0', '-q', 'FOO(packet)'],
    line: /^pcap-query: -q: unknown function 'FOO'; the functions are IN_SUBNET, .* \(at column 1\)$/,
  },
  {
    what: 'not a boolean',
    args: ['query', '-st', '0', '-q', 'ip_dst_port'],
    line: 'pcap-query: -q: the query does not return a boolean: it gives a number; compare it, e.g. ip_dst_port == 22 (at column 1)',
  },
  {
    what: 'error on the second line of a query',
    args: ['query', '-st', '0', '-q', "ip_src_addr == 'x'\n and ip_dst_port == 22 +"],
    line: "pcap-query: -q: syntax error: expected and, or or the end of the query but found '+' (at line 2, column 24)",
  },
  {
    what: 'JavaScript is not evaluated',
    args: ['query', '-st', '0', '-q', "process.exit(0) || require('fs')"],
    line: /^pcap-query: -q: .*\(at column \d+\)$/,
  },
  // Byte patterns
  {
    what: 'not hex',
    args: ['fixed', '-st', '0', '-pf', 'zz'],
    line: "pcap-query: -pf: invalid byte pattern: unexpected 'z' (at column 1)",
  },
  {
    what: 'odd hex digits',
    args: ['fixed', '-st', '0', '-pf', '2f5'],
    line: 'pcap-query: -pf: invalid byte pattern: hex bytes need two digits (at column 3)',
  },
  // Options
  {
    what: 'an option without its value (would have widened the filter)',
    args: ['fixed', '-st', '0', '-sa', '-da', '10.0.0.1'],
    line: "pcap-query: -sa/--ip_src_addr: needs a value (addr) but is followed by -da; a value that starts with '-' is written --ip_src_addr=<value>",
  },
  {
    what: 'a value option last',
    args: ['fixed', '-st', '0', '-dp'],
    line: 'pcap-query: -dp/--ip_dst_port: needs a value (port)',
  },
  {
    what: 'a fixed option in query mode',
    args: ['query', '-st', '0', '-sa', '10.0.0.1'],
    line: /^pcap-query: -sa: unrecognized option -sa for query mode: .*IN_SUBNET/,
  },
  {
    what: 'an unknown option',
    args: ['fixed', '-st', '0', '--bogus', '1'],
    line: 'pcap-query: --bogus: unrecognized option --bogus for fixed mode (see pcap-query fixed --help)',
  },
  {
    what: 'an unknown mode',
    args: ['foo', '-st', '0'],
    line: "pcap-query: unknown mode 'foo'; use pcap-query fixed|query (see --help)",
  },
];

describe('bad input: exit 2, one line naming the problem and where it is', { concurrency: 3 }, () => {
  for (const c of CASES) {
    test(c.what, async () => {
      const r = await pcapQuery([c.args[0], ...BP, ...c.args.slice(1)], { cwd });
      assert.equal(r.code, 2, `exit status 2 (stderr: ${r.stderr})`);
      assert.equal(r.stdout.length, 0, 'nothing on stdout');
      assert.ok(r.stderr.endsWith('\n'), 'the line ends with a newline');
      const lines = r.stderr.slice(0, -1).split('\n');
      assert.equal(lines.length, 1, `exactly one line on stderr: ${JSON.stringify(r.stderr)}`);
      if (typeof c.line === 'string') assert.equal(lines[0], c.line);
      else assert.match(lines[0], c.line);
      assert.doesNotMatch(lines[0], /\s+at .*\.(ts|js):\d+/, 'no stack trace');
    });
  }

  test('no files are written by a failed run', () => {
    assert.deepEqual(readdirSync(cwd), []);
  });
});

describe('other outcomes', () => {
  test('a store that cannot be reached: exit 1, one line', async () => {
    const r = await pcapQuery(['fixed', '-st', '0', '-bp', 'webhdfs://127.0.0.1:1/apps/metron/pcap/input'], { cwd });
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^pcap-query: cannot read the store: .*ECONNREFUSED 127\.0\.0\.1:1/);
  });

  test('--help: exit 0, the usage on stdout', async () => {
    const r = await pcapQuery(['fixed', '--help'], { cwd });
    assert.equal(r.code, 0);
    assert.match(r.stdout.toString(), /^usage: pcap-query fixed -st <time> \[options\]/);
    assert.equal(r.stderr, '');
  });

  test("Metron's MapReduce-only options are accepted with a one-line notice each", async () => {
    const r = await pcapQuery(['fixed', '-st', '0', '-et', '1', '-nr', '10', '-ft', '2C', '-yq', 'default', ...BP], {
      cwd,
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.filter((l) => /no longer applies/.test(l)).length, 3, r.stderr);
    assert.match(lines[lines.length - 1], /no packets matched; no data files under /);
  });
});
