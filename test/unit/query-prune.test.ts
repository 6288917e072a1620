import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectFiles, isHiddenPath, type ListedFile } from '../../src/query/engine/prune.js';

const UUID = 'pcap-9-1495134910';
const f = (
  ts: bigint | string,
  partition = 0,
  dir = '/apath',
  topic = 'pcap5',
  extra: Partial<ListedFile> = {},
): ListedFile => {
  const name = `pcap_${topic}_${ts}_${partition}_${UUID}`;
  return { path: `${dir}/${name}`, name, length: 100, ...extra };
};
const names = (r: ReturnType<typeof selectFiles>) => r.selected.map((s) => s.name);
const ALL = { startNs: 0n, endNs: (1n << 64n) - 1n };

// FileFilterUtilTest (metron-compat §8.6).
test('metron-compat §8.6 five single-file partitions in range: all 5, in partition order 0..4', () => {
  const files = [
    f(1495135372055519000n, 2),
    f(1495135372168719000n, 1),
    f(1495135377055375000n, 0),
    f(1495135512102506000n, 4),
    f(1495135512123943000n, 3),
  ];
  const r = selectFiles(files, { startNs: 1495135377055375000n, endNs: 1495135512124943000n });
  assert.deepEqual(
    r.selected.map((s) => s.partition),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(
    r.selected.map((s) => s.nameTsNs),
    [1495135377055375000n, 1495135372168719000n, 1495135372055519000n, 1495135512123943000n, 1495135512102506000n],
  );
});

test('metron-compat §8.6 no files: empty result', () => {
  assert.deepEqual(selectFiles([], ALL).selected, []);
});

test('metron-compat §8.6 leftEdge: [0, second−1] over two files gives 1', () => {
  const first = 1461589332993573000n;
  const second = 1561589332993573000n;
  const r = selectFiles([f(first), f(second)], { startNs: 0n, endNs: second - 1n });
  assert.deepEqual(
    r.selected.map((s) => s.nameTsNs),
    [first],
  );
});

const ts1 = 1461589332993573000n;
const ts2 = 1461589333993573000n;
const ts3 = 1461589334993573000n;

test('metron-compat §8.6 rightEdge: [ts2−1, ts2+1] over ts1, ts2 gives 2', () => {
  assert.equal(selectFiles([f(ts1), f(ts2)], { startNs: ts2 - 1n, endNs: ts2 + 1n }).selected.length, 2);
});

test('metron-compat §8.6 rightEdge: [ts3−1, ts3+1] over ts1..ts3 gives 2 (ts2 as left-trailing, ts3)', () => {
  const r = selectFiles([f(ts3), f(ts1), f(ts2)], { startNs: ts3 - 1n, endNs: ts3 + 1n });
  assert.deepEqual(
    r.selected.map((s) => s.nameTsNs),
    [ts2, ts3],
  );
});

test('metron-compat §8.6 bothEdges: [0, ts3+1] gives 3', () => {
  assert.equal(selectFiles([f(ts1), f(ts2), f(ts3)], { startNs: 0n, endNs: ts3 + 1n }).selected.length, 3);
});

test('metron-compat §8.6 proposed vector, differs from Metron (0 files, the metron-compat §6.4 defect): [ts2+1, ts2+5] over ts1, ts2 gives the newest file', () => {
  assert.deepEqual(
    selectFiles([f(ts1), f(ts2)], { startNs: ts2 + 1n, endNs: ts2 + 5n }).selected.map((s) => s.nameTsNs),
    [ts2],
  );
});

test('a window entirely inside the newest file returns it (and only it)', () => {
  const r = selectFiles([f(ts1), f(ts2), f(ts3)], { startNs: ts3 + 10n, endNs: ts3 + 20n });
  assert.deepEqual(
    r.selected.map((s) => s.nameTsNs),
    [ts3],
  );
  assert.equal(r.excluded, 2);
});

test('a window inside one long middle file returns that file only (Metron: nothing)', () => {
  const r = selectFiles([f(ts1), f(ts2), f(ts3)], { startNs: ts2 + 10n, endNs: ts2 + 20n });
  assert.deepEqual(
    r.selected.map((s) => s.nameTsNs),
    [ts2],
  );
});

test('differs from Metron: a single file newer than the window is not read (it cannot hold older packets)', () => {
  assert.deepEqual(selectFiles([f(ts3)], { startNs: ts1, endNs: ts2 }).selected, []);
});

test('equal name times: both files are candidates for a window at that time', () => {
  const a = { ...f(ts2), path: `/apath/pcap_pcap5_${ts2}_0_a`, name: `pcap_pcap5_${ts2}_0_a` };
  const b = { ...f(ts2), path: `/apath/pcap_pcap5_${ts2}_0_b`, name: `pcap_pcap5_${ts2}_0_b` };
  assert.equal(selectFiles([a, b, f(ts3)], { startNs: ts2, endNs: ts2 }).selected.length, 2);
});

test('partitions and topics are separate timelines', () => {
  const files = [f(ts1, 0), f(ts3, 0), f(ts2, 1), f(ts1, 0, '/apath', 'other'), f(ts3, 0, '/apath', 'other')];
  const r = selectFiles(files, { startNs: ts2, endNs: ts2 + 1n });
  // p0: ts1 (successor ts3 ≥ start), p1: ts2, other/p0: ts1
  assert.deepEqual(
    r.selected.map((s) => `${s.topic}/${s.partition}/${s.nameTsNs}`),
    [`other/0/${ts1}`, `pcap5/0/${ts1}`, `pcap5/1/${ts2}`],
  );
});

test('index bounds decide exactly when present', () => {
  const files = [
    f(ts1, 0, '/d', 'pcap', { minTsNs: ts1, maxTsNs: ts1 + 500n }),
    f(ts2, 0, '/d', 'pcap', { minTsNs: ts2 - 100n, maxTsNs: ts2 + 500n }), // an earlier packet than its name: allowed in our files
    f(ts3, 0, '/d', 'pcap', { minTsNs: ts3, maxTsNs: ts3 + 10n }),
  ];
  assert.deepEqual(selectFiles(files, { startNs: ts1 + 501n, endNs: ts2 - 101n }).selected, []);
  assert.deepEqual(
    selectFiles(files, { startNs: ts2 - 100n, endNs: ts2 - 100n }).selected.map((s) => s.nameTsNs),
    [ts2],
  );
  assert.deepEqual(
    selectFiles(files, { startNs: ts3 + 5n, endNs: ts3 + 1000n }).selected.map((s) => [s.nameTsNs, s.byIndex]),
    [[ts3, true]],
  );
});

test('indexed and unindexed files mix within a partition', () => {
  const files = [f(ts1), f(ts2, 0, '/apath', 'pcap5', { minTsNs: ts2, maxTsNs: ts2 + 5n }), f(ts3)];
  const r = selectFiles(files, { startNs: ts1 + 1n, endNs: ts2 + 100n });
  assert.deepEqual(
    r.selected.map((s) => [s.nameTsNs, s.byIndex]),
    [
      [ts1, false],
      [ts2, true],
    ],
  );
});

test('hidden names and directories are ignored, unrecognized names are reported, nothing throws', () => {
  const files: ListedFile[] = [
    f(ts1),
    { path: '/apath/_SUCCESS', name: '_SUCCESS', length: 0 },
    { path: `/apath/.pcap_pcap5_${ts1}_0_x.crc`, name: `.pcap_pcap5_${ts1}_0_x.crc`, length: 8 },
    { path: `/apath/_index/pcap_pcap5_${ts1}_0_x.avro`, name: `pcap_pcap5_${ts1}_0_x.avro`, length: 8 },
    { path: `/apath/.inprogress/pcap_pcap5_${ts2}_0_x`, name: `pcap_pcap5_${ts2}_0_x`, length: 8 },
    { path: '/apath/abc', name: 'abc', length: 1 },
    { path: '/apath/pcap_x', name: 'pcap_x', length: 1 },
    {
      path: '/apath/pcap_pcap128_AAA4962815457986000_BB_pcap-63-1495027314',
      name: 'pcap_pcap128_AAA4962815457986000_BB_pcap-63-1495027314',
      length: 1,
    },
    { path: '/apath/sub', name: 'sub', length: 0, type: 'directory' },
    f(ts2, 3, '/apath/sub'),
  ];
  const r = selectFiles(files, ALL, { basePath: '/apath' });
  assert.deepEqual(names(r), [f(ts1).name, f(ts2, 3).name]);
  assert.equal(r.hidden, 4);
  assert.deepEqual(r.unrecognized, [
    '/apath/abc',
    '/apath/pcap_x',
    '/apath/pcap_pcap128_AAA4962815457986000_BB_pcap-63-1495027314',
  ]);
});

test('hidden directories above the base path do not hide everything', () => {
  assert.equal(isHiddenPath('/_apps/pcap/pcap_t_1_0_x', '/_apps/pcap'), false);
  assert.equal(isHiddenPath('/_apps/pcap/_tmp/pcap_t_1_0_x', '/_apps/pcap/'), true);
  assert.equal(isHiddenPath('/apps/pcap/.x', undefined), true);
});

test('topics with underscores and dashes (PcapFilenameHelperTest names) group correctly', () => {
  const mk = (topic: string, ts: bigint) => {
    const name = `pcap_${topic}_${ts}_18_pcap-63-1495027314`;
    return { path: `/p/${name}`, name, length: 1 };
  };
  const r = selectFiles(
    [mk('pcap_128', ts1), mk('pcap-128', ts1), mk('pcap___128__', ts1), mk('__pcap___128__', ts1)],
    ALL,
  );
  assert.deepEqual(
    r.selected.map((s) => s.topic).sort(),
    ['__pcap___128__', 'pcap-128', 'pcap_128', 'pcap___128__'].sort(),
  );
});
