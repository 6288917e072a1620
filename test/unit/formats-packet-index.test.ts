import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeIndexWithAvsc, IndexBuilder } from '../../src/formats/index/packet-index.js';
import { indexFileName, parseIndexFileName, type IndexSummary } from '../../src/formats/index/packet-index-format.js';
import { decodeIndex } from '../../src/formats/index/packet-index-reader.js';

/** These tests are about index v1 (still written for files v2 cannot describe, and read forever). */
async function encode(builder: IndexBuilder, summary: IndexSummary): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of builder.encodeV1(summary)) parts.push(chunk);
  return Buffer.concat(parts);
}

test('an index of 200k entries round-trips exactly (entries are not overwritten under backpressure)', async () => {
  const b = new IndexBuilder();
  const n = 200_000;
  const base = 1_700_000_000_000_000_000n;
  for (let i = 0; i < n; i++) {
    b.add(
      base + BigInt(i) * 1000n + BigInt(i % 7),
      95 + i * 100,
      100,
      i % 3 === 0 ? 6 : 17,
      `10.0.${i % 250}.1`,
      i % 5 ? '2001:db8::1' : null,
      i % 65536,
      443,
      i % 11 ? -1 : 100,
    );
  }
  const summary: IndexSummary = {
    version: 1,
    dataFile: 'pcap_t_1_0_x',
    topic: 't',
    partition: 0,
    firstOffset: '0',
    lastOffset: String(n - 1),
    minTsNs: b.minTsNs.toString(),
    maxTsNs: b.maxTsNs.toString(),
    count: n,
    dataLength: 95 + n * 100,
  };
  const decoded = await decodeIndex(await encode(b, summary));
  assert.deepEqual(decoded.summary, summary);
  assert.equal(decoded.columns.count, n);
  for (let i = 0; i < n; i++) {
    const c = decoded.columns;
    if (
      c.ts[i] !== base + BigInt(i) * 1000n + BigInt(i % 7) ||
      c.pos[i] !== 95 + i * 100 ||
      c.srcPort[i] !== i % 65536
    ) {
      assert.fail(`entry ${i} differs: ts=${c.ts[i]} pos=${c.pos[i]} sport=${c.srcPort[i]}`);
    }
    assert.equal(decoded.addresses[c.src[i]], `10.0.${i % 250}.1`);
    assert.equal(c.dst[i] === -1 ? null : decoded.addresses[c.dst[i]], i % 5 ? '2001:db8::1' : null);
    assert.equal(c.vlan[i], i % 11 ? -1 : 100);
  }
  assert.equal(decoded.addresses.length, 251, 'addresses are interned');
});

test('the columnar index reader agrees with avsc on every entry, including large and negative numbers', async () => {
  const b = new IndexBuilder();
  const big = (1n << 62n) + 12345n; // > 2^53: must survive exactly
  const values = [1n, 2n ** 53n + 1n, big, 7_258_118_399_999_999_999n];
  for (let i = 0; i < 5000; i++)
    b.add(
      values[i % values.length] + BigInt(i),
      95 + i * 1500,
      1500,
      i % 256,
      `192.168.${i % 256}.1`,
      null,
      -1,
      i % 65536,
      -1,
    );
  const summary: IndexSummary = {
    version: 1,
    dataFile: 'f',
    topic: 't',
    partition: 0,
    firstOffset: '0',
    lastOffset: '4999',
    minTsNs: b.minTsNs.toString(),
    maxTsNs: b.maxTsNs.toString(),
    count: 5000,
    dataLength: 95 + 5000 * 1500,
  };
  const file = await encode(b, summary);
  const ours = await decodeIndex(file);
  const reference = await decodeIndexWithAvsc(file);
  assert.deepEqual(ours.summary, reference.summary);
  assert.deepEqual(ours.addresses, reference.addresses);
  assert.equal(ours.columns.count, reference.columns.count);
  for (const k of ['ts', 'pos', 'len', 'protocol', 'src', 'dst', 'srcPort', 'dstPort', 'vlan'] as const) {
    assert.deepEqual([...ours.columns[k].subarray(0, 5000)], [...reference.columns[k].subarray(0, 5000)], k);
  }
  assert.equal(ours.columns.ts[2], big + 2n);
  await assert.rejects(decodeIndex(file.subarray(0, file.length - 30)), /truncated|torn|sync/);
});

test('a torn index (count differs from the summary) is refused', async () => {
  const b = new IndexBuilder();
  b.add(5n, 95, 10, 6, '1.2.3.4', '5.6.7.8', 1, 2, -1);
  const summary: IndexSummary = {
    version: 1,
    dataFile: 'f',
    topic: 't',
    partition: 0,
    firstOffset: '0',
    lastOffset: '1',
    minTsNs: '5',
    maxTsNs: '5',
    count: 2,
    dataLength: 105,
  };
  await assert.rejects(decodeIndex(await encode(b, summary)), /torn index/);
});

test('index file names carry the exact time bounds, under the hour bucket of their first packet', () => {
  const name = indexFileName('pcap_pcap_1458240269373968000_0_a', 1458240269373968000n, 1458240269631498000n);
  assert.equal(name, '2016031718/pcap_pcap_1458240269373968000_0_a.1458240269373968000-1458240269631498000.avro');
  assert.equal(
    indexFileName('pcap_pcap_1458240269373968000_0_a', 1458240269373968000n, 1458250269373968000n).split('/')[0],
    'long',
    'a file spanning an hour or more goes to _index/long',
  );
  assert.deepEqual(parseIndexFileName(name), {
    dataFile: 'pcap_pcap_1458240269373968000_0_a',
    minTsNs: 1458240269373968000n,
    maxTsNs: 1458240269631498000n,
  });
  assert.equal(parseIndexFileName('pcap_x'), null);
});
