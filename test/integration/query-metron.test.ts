/**
 * Metron's query table (metron-compat §8.9, PcapTopologyIntegrationTest) through the real `pcap-query`
 * CLI, over data the real topology ingested (the 20 sample records, ns keys, numPackets=2 → 10
 * files), on HDFS (WebHDFS) and on the local back end.
 *
 * As in Metron's test, pages hold one record each (`-rpf 1`), so each page must be byte-identical
 * to a sample record; ts_micro must not decrease over all pages in page order. Every page must open
 * in tshark with its packet count (pages with identical bytes are checked once). Metron's rows
 * that our stricter validation refuses (`-p foo`: Metron compared protocol strings and silently
 * matched nothing) are asserted as exit-2 errors, and their meaning is tested in a form we accept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureStack, uniqueName } from '../helpers/stack.js';
import {
  ingestSample,
  parsePcap,
  pcapQuery,
  pcapQueryCommand,
  readSample,
  run,
  sha256,
  storeUri,
  tsharkCount,
  tsharkNoise,
  type SampleRecord,
} from '../helpers/query.js';

const ep = ensureStack();
const sample: SampleRecord[] = await readSample();
const work = mkdtempSync(join(tmpdir(), 'pcapline-query-metron-'));
after(() => rmSync(work, { recursive: true, force: true }));

const ts = (i: number): bigint => sample[i].tsNs;
/** -st/-et take epoch ms: a window [a, b] in ns is asked as [floor(a), ceil(b)] ms. */
const msFloor = (ns: bigint): string => String(ns / 1_000_000n);
const msCeil = (ns: bigint): string => String((ns + 999_999n) / 1_000_000n);
const range = (a: bigint, b: bigint): string[] => ['-st', msFloor(a), '-et', msCeil(b)];

const ALL = Array.from({ length: 20 }, (_, i) => i);
const DST_22 = [1, 4, 5, 7, 8, 10, 13, 14, 16, 19];
const DST_55791 = [0, 2, 3, 6, 9, 11, 12, 15, 17, 18];
const REALPACKET = '2f56abd814bc56420489ca38e7faf8cec3d4';

interface Row {
  name: string;
  args: string[];
  /** Sample records expected, in order, one per page; or the exit-2 error expected on stderr. */
  expect: number[] | { error: RegExp };
  /** Empty result because no file is in the date range (Metron: "No results in specified date range."). */
  dateRange?: boolean;
  /** Extra stderr expectation (e.g. a warning). */
  stderr?: RegExp;
}

// Windows of the table, as Metron's test computes them from the sample times.
const W45 = range(ts(4), ts(5));
const W01 = range(ts(0), ts(1));
const WALL = range(ts(0), ts(19) + 1n);

const ROWS: Row[] = [
  { name: 'fixed, start/end: {} over [ts4, ts5] → records 4, 5', args: ['fixed', ...W45], expect: [4, 5] },
  { name: "query, empty: -q '' over [ts4, ts5] → records 4, 5", args: ['query', ...W45, '-q', ''], expect: [4, 5] },
  { name: 'query without -q over [ts4, ts5] → records 4, 5', args: ['query', ...W45], expect: [4, 5] },
  {
    name: 'date range excludes all (fixed, [0, 1]) → no pages',
    args: ['fixed', '-st', '0', '-et', '1'],
    expect: [],
    dateRange: true,
  },
  {
    name: 'date range excludes all (query, [0, 1]) → no pages',
    args: ['query', '-st', '0', '-et', '1', '-q', ''],
    expect: [],
    dateRange: true,
  },
  {
    name: 'ip excludes all (fixed -da 207.28.210.1) → no pages',
    args: ['fixed', ...W01, '-da', '207.28.210.1'],
    expect: [],
  },
  {
    name: "ip excludes all (query ip_dst_addr == '207.28.210.1') → no pages",
    args: ['query', ...W01, '-q', "ip_dst_addr == '207.28.210.1'"],
    expect: [],
  },
  {
    name: 'protocol excludes all (fixed -p foo): refused, exit 2 (Metron matched nothing silently)',
    args: ['fixed', ...W01, '-p', 'foo'],
    expect: { error: /^pcap-query: -p: unknown protocol 'foo'.* \(at column 1\)$/ },
  },
  {
    name: 'protocol excludes all (fixed -p 17, the accepted form: no UDP in the sample) → no pages',
    args: ['fixed', ...W01, '-p', '17'],
    expect: [],
  },
  {
    name: 'protocol excludes all (fixed -p udp, by name) → no pages',
    args: ['fixed', ...W01, '-p', 'udp'],
    expect: [],
  },
  {
    name: "protocol excludes all (query protocol == 'foo': a number never equals a string) → no pages, with a warning",
    args: ['query', ...W01, '-q', "protocol == 'foo'"],
    expect: [],
    stderr: /^pcap-query: warning: -q: .*protocol/m,
  },
  { name: 'all results (fixed {}) over [ts0, ts19+1] → 20 pages', args: ['fixed', ...WALL], expect: ALL },
  { name: "all results (query '') over [ts0, ts19+1] → 20 pages", args: ['query', ...WALL, '-q', ''], expect: ALL },
  { name: 'dst port (fixed -dp 22) → 10 pages', args: ['fixed', ...WALL, '-dp', '22'], expect: DST_22 },
  {
    name: 'dst port (query ip_dst_port == 22) → 10 pages',
    args: ['query', ...WALL, '-q', 'ip_dst_port == 22'],
    expect: DST_22,
  },
  {
    name: 'port range (query ip_dst_port > 20 and ip_dst_port < 55792) → 20 pages',
    args: ['query', ...WALL, '-q', 'ip_dst_port > 20 and ip_dst_port < 55792'],
    expect: ALL,
  },
  {
    name: 'port range (fixed -dp 21-55791, the same range) → 20 pages',
    args: ['fixed', ...WALL, '-dp', '21-55791'],
    expect: ALL,
  },
  {
    name: 'port > (query ip_dst_port > 55790) → 10 pages',
    args: ['query', ...WALL, '-q', 'ip_dst_port > 55790'],
    expect: DST_55791,
  },
  {
    name: 'port > (fixed -dp 55791-65535) → 10 pages',
    args: ['fixed', ...WALL, '-dp', '55791-65535'],
    expect: DST_55791,
  },
  {
    name: `payload (query BYTEARRAY_MATCHER('${REALPACKET}', packet)) → record 12`,
    args: ['query', ...WALL, '-q', `BYTEARRAY_MATCHER('${REALPACKET}', packet)`],
    expect: [12],
  },
  { name: `payload (fixed -pf ${REALPACKET}) → record 12`, args: ['fixed', ...WALL, '-pf', REALPACKET], expect: [12] },
  // Beyond Metron's table: its long options with one dash, its test's -df pattern, include_reverse.
  {
    name: 'Metron-style long options (-start_time -end_time -ip_dst_port -records_per_file) → 10 pages',
    args: ['fixed', '-start_time', msFloor(ts(0)), '-end_time', msCeil(ts(19) + 1n), '-ip_dst_port', '22'],
    expect: DST_22,
  },
  {
    name: "-df 'yyyy-MM-dd-HH:mm.ss' (Metron's test pattern, UTC) → 20 pages",
    args: ['fixed', '-df', 'yyyy-MM-dd-HH:mm.ss', '-st', '2016-03-17-18:44.29', '-et', '2016-03-17-18:44.30'],
    expect: ALL,
  },
  {
    name: 'server side only (fixed -sa 192.168.66.121 -sp 22) → 10 pages',
    args: ['fixed', ...WALL, '-sa', '192.168.66.121', '-sp', '22'],
    expect: DST_55791,
  },
  {
    name: 'both directions (fixed -sa 192.168.66.121 -sp 22 -ir) → 20 pages',
    args: ['fixed', ...WALL, '-sa', '192.168.66.121', '-sp', '22', '-ir'],
    expect: ALL,
  },
  {
    name: 'a CIDR block (fixed -da 192.168.66.0/24 -p tcp) → 20 pages',
    args: ['fixed', ...WALL, '-da', '192.168.66.0/24', '-p', 'tcp'],
    expect: ALL,
  },
];

/** tshark's packet count per distinct page content (identical bytes are checked once). */
const tsharkChecked = new Map<string, Promise<number>>();
function tsharkOnce(file: string, bytes: Buffer): Promise<number> {
  const key = sha256(bytes);
  let p = tsharkChecked.get(key);
  if (!p) {
    p = tsharkCount(file);
    tsharkChecked.set(key, p);
  }
  return p;
}

const pageName = (prefix: string, n: number) => `pcap-data-${prefix}+${String(n).padStart(4, '0')}.pcap`;

/** Lines of stderr other than notices/warnings. */
const summaryLines = (stderr: string) => stderr.split('\n').filter((l) => l !== '' && !/^pcap-query: warning:/.test(l));

for (const backend of ['hdfs', 'local'] as const) {
  describe(`Metron's query table (metron-compat §8.9) on ${backend === 'hdfs' ? 'HDFS (WebHDFS)' : 'the local back end'}`, {
    concurrency: 2,
  }, () => {
    let bp = '';
    let pathOnly = '';
    before(async () => {
      const out =
        backend === 'hdfs'
          ? `${ep.webhdfsUrl}/${uniqueName('query-metron')}/apps/metron/pcap/input`
          : join(mkdtempSync(join(work, 'store-')), 'apps/metron/pcap/input');
      await ingestSample(ep, sample, out);
      bp = storeUri(out);
      pathOnly = new URL(bp).pathname;
    });

    let rowNo = 0;
    for (const row of ROWS) {
      const n = ++rowNo;
      test(row.name, async () => {
        const dir = join(work, `${backend}-${n}`);
        const prefix = `row${n}`;
        const args = [...row.args, '-bp', bp, '-rpf', '1', '-pre', prefix, '-o', dir];
        const r = await pcapQuery(args);
        if (!Array.isArray(row.expect)) {
          assert.equal(r.code, 2, `exit status 2 for bad input (stderr: ${r.stderr})`);
          const lines = r.stderr.split('\n').filter((l) => l !== '');
          assert.equal(lines.length, 1, `exactly one line on stderr: ${r.stderr}`);
          assert.match(lines[0], row.expect.error);
          assert.deepEqual(safeList(dir), [], 'no files');
          return;
        }
        assert.equal(r.code, 0, `exit 0 (stderr: ${r.stderr})`);
        if (row.stderr) assert.match(r.stderr, row.stderr);
        const files = safeList(dir);
        assert.deepEqual(
          files,
          row.expect.map((_, k) => pageName(prefix, k + 1)),
          'page files, numbered from 0001, nothing else',
        );
        const summary = summaryLines(r.stderr);
        assert.equal(summary.length, 1, `one summary line: ${r.stderr}`);
        if (row.expect.length === 0) {
          assert.match(summary[0], /no packets matched.*no files written/);
          if (row.dateRange) assert.match(summary[0], /no results in the specified date range/i);
          else assert.doesNotMatch(summary[0], /date range/);
          return;
        }
        assert.match(
          summary[0],
          new RegExp(`^pcap-query: ${row.expect.length} packets written to ${row.expect.length} pages? in `),
        );
        let lastMicro = -1n;
        for (let k = 0; k < files.length; k++) {
          const path = join(dir, files[k]);
          const bytes = await readFile(path);
          const want = sample[row.expect[k]].value;
          assert.ok(bytes.equals(want), `page ${k + 1} is sample record ${row.expect[k]}, byte for byte`);
          const page = parsePcap(bytes, files[k]);
          assert.equal(page.packets.length, 1);
          assert.ok(page.packets[0].tsMicro >= lastMicro, `ts_micro does not decrease at page ${k + 1}`);
          lastMicro = page.packets[0].tsMicro;
          assert.equal(await tsharkOnce(path, bytes), 1, `tshark reads 1 packet from ${files[k]}`);
        }
      });
    }

    test('default -rpf (10000): one page of 20 packets, the records merged as Metron did, opens in tshark', async () => {
      const dir = join(work, `${backend}-merged`);
      const r = await pcapQuery(['query', ...WALL, '-bp', bp, '-pre', 'merged', '-o', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(safeList(dir), [pageName('merged', 1)]);
      const path = join(dir, pageName('merged', 1));
      const bytes = await readFile(path);
      // Metron's PcapMerger: the first record's global header, then every record's packet (LE headers).
      const want = Buffer.concat([sample[0].value.subarray(0, 24), ...sample.map((s) => s.value.subarray(24))]);
      assert.ok(bytes.equals(want), 'the page is the global header plus the 20 records, in time order');
      assert.equal(await tsharkCount(path), 20);
    });

    test('pages go to the current directory by default (Metron: CWD), -rpf 7 → 3 pages of 7, 7, 6', async () => {
      const cwd = mkdtempSync(join(work, `${backend}-cwd-`));
      const r = await pcapQuery(['fixed', ...WALL, '-bp', bp, '-rpf', '7', '-pre', 'cwd'], { cwd });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        safeList(cwd),
        [1, 2, 3].map((k) => pageName('cwd', k)),
      );
      let last = -1n;
      const counts: number[] = [];
      for (const f of safeList(cwd)) {
        const page = await readPcapChecked(join(cwd, f));
        counts.push(page.packets.length);
        for (const p of page.packets) {
          assert.ok(p.tsMicro >= last, 'time order across pages');
          last = p.tsMicro;
        }
        assert.equal(await tsharkCount(join(cwd, f)), page.packets.length, `tshark count of ${f}`);
      }
      assert.deepEqual(counts, [7, 7, 6]);
    });

    test('a plain -bp path reads the store named by $PCAPLINE_STORE', async () => {
      const dir = join(work, `${backend}-plain`);
      const store = backend === 'hdfs' ? `${ep.webhdfsUrl}/` : 'file:///';
      const r = await pcapQuery(['fixed', ...W45, '-bp', pathOnly, '-rpf', '1', '-pre', 'plain', '-o', dir], {
        env: { ...process.env, PCAPLINE_STORE: store },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(safeList(dir), [pageName('plain', 1), pageName('plain', 2)]);
      assert.ok((await readFile(join(dir, pageName('plain', 2)))).equals(sample[5].value));
    });

    test('pcap-query ... -o - | tshark -r - (a shell pipe) reads every packet', async () => {
      const cmd = `${pcapQueryCommand(['query', ...WALL, '-bp', bp, '-q', 'ip_dst_port == 22', '-o', '-', '--quiet'])} | tshark -r - -n -T fields -e frame.time_epoch -e tcp.dstport`;
      const r = await run('bash', ['-o', 'pipefail', '-c', cmd]);
      assert.equal(r.code, 0, `pipeline exits 0: ${tsharkNoise(r.stderr)}`);
      assert.equal(tsharkNoise(r.stderr), '', 'no complaints from either side');
      const lines = r.stdout
        .toString()
        .split('\n')
        .filter((l) => l !== '');
      assert.equal(lines.length, DST_22.length);
      lines.forEach((l, k) => {
        const [epoch, port] = l.split('\t');
        assert.equal(port, '22');
        const want = ts(DST_22[k]);
        assert.equal(
          epoch,
          `${want / 1_000_000_000n}.${String(want % 1_000_000_000n).padStart(9, '0')}`,
          `packet ${k} time`,
        );
      });
    });

    test('-o - with no match writes an empty capture; piped into tshark -r - it reads 0 packets', async () => {
      const args = ['fixed', ...W01, '-bp', bp, '-da', '207.28.210.1', '-o', '-'];
      const r = await pcapQuery(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parsePcap(r.stdout, 'stdout').packets.length, 0, 'a valid pcap with no packets');
      // Through a real pipe (tshark refuses a socket on stdin, which is what node would hand it).
      const t = await run('bash', [
        '-o',
        'pipefail',
        '-c',
        `${pcapQueryCommand([...args, '--quiet'])} | tshark -r - -T fields -e frame.number`,
      ]);
      assert.equal(t.code, 0, tsharkNoise(t.stderr));
      assert.equal(t.stdout.toString().trim(), '');
    });
  });
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

async function readPcapChecked(path: string) {
  return parsePcap(await readFile(path), path);
}
