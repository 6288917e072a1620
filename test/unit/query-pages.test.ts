import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  pageFileName,
  parsePageFileName,
  PageSplitter,
  splitIntoPages,
  paginate,
} from '../../src/query/engine/pages.js';

test('page names: pcap-data-<prefix>+NNNN.pcap, %04d growing past 9999', () => {
  const prefix = '201807181911-09855b4ae3204dee8b63760d65198da3';
  assert.equal(pageFileName(prefix, 1), 'pcap-data-201807181911-09855b4ae3204dee8b63760d65198da3+0001.pcap');
  assert.equal(pageFileName('p', 42), 'pcap-data-p+0042.pcap');
  assert.equal(pageFileName('p', 9999), 'pcap-data-p+9999.pcap');
  assert.equal(pageFileName('p', 10000), 'pcap-data-p+10000.pcap');
  assert.equal(pageFileName('p', 123456), 'pcap-data-p+123456.pcap');
  assert.throws(() => pageFileName('p', 0), RangeError);
  assert.deepEqual(parsePageFileName('pcap-data-a+b+0012.pcap'), { prefix: 'a+b', page: 12 });
  assert.equal(parsePageFileName('page-1.pcap'), null);
});

test('page names sort in page order up to 9999 pages (unlike Metron REST page-N)', () => {
  const names = Array.from({ length: 120 }, (_, k) => pageFileName('x', k + 1));
  assert.deepEqual([...names].sort(), names);
});

test('splitter: consecutive chunks of records_per_file, numbered from 1', () => {
  const s = new PageSplitter(3);
  const got = Array.from({ length: 7 }, (_, k) => ({ ...s.place(BigInt(k)) }));
  assert.deepEqual(
    got.map((g) => g.page),
    [1, 1, 1, 2, 2, 2, 3],
  );
  assert.deepEqual(
    got.map((g) => g.startsPage),
    [true, false, false, true, false, false, true],
  );
  assert.deepEqual(
    got.map((g) => g.index),
    [0, 1, 2, 0, 1, 2, 0],
  );
  assert.equal(s.pages, 3);
  assert.equal(s.packets, 7);
  assert.equal(s.outOfOrder, 0);
});

test('splitter: no packets means no pages; order violations are counted', () => {
  assert.equal(new PageSplitter(10).pages, 0);
  const s = new PageSplitter(10);
  s.place(5n);
  s.place(5n);
  s.place(4n);
  assert.equal(s.outOfOrder, 1);
  assert.throws(() => new PageSplitter(0), RangeError);
  assert.throws(() => new PageSplitter(1.5), RangeError);
});

test('records_per_file=1 gives one page per packet (as in the metron-compat §8.9 integration test)', () => {
  assert.deepEqual(splitIntoPages([1, 2, 3], 1), [[1], [2], [3]]);
  assert.deepEqual(splitIntoPages([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(splitIntoPages([], 10000), []);
});

test('paginate: async pages, one held at a time', async () => {
  async function* gen() {
    for (let k = 0; k < 5; k++) yield k;
  }
  const pages = [];
  for await (const p of paginate(gen(), 2)) pages.push(p);
  assert.deepEqual(pages, [
    { page: 1, items: [0, 1] },
    { page: 2, items: [2, 3] },
    { page: 3, items: [4] },
  ]);
  const none = [];
  for await (const p of paginate((async function* () {})(), 2)) none.push(p);
  assert.deepEqual(none, []);
});
