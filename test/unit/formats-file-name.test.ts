import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPcapFileName, parsePcapFileName } from '../../src/formats/file-name.js';

describe('metron-compat §8.3 PcapFilenameHelper vectors', () => {
  const ts = 1494962815457986000n;
  const cases: Array<[string, string, bigint | null, number | null, string]> = [
    ['pcap_pcap128_1494962815457986000_18_pcap-63-1495027314', 'pcap128', ts, 18, 'pcap-63-1495027314'],
    ['pcap_pcap-128_1494962815457986000_18_pcap-63-1495027314', 'pcap-128', ts, 18, 'pcap-63-1495027314'],
    ['pcap_pcap_128_1494962815457986000_18_pcap-63-1495027314', 'pcap_128', ts, 18, 'pcap-63-1495027314'],
    ['pcap_pcap___128___1494962815457986000_18_pcap-63-1495027314', 'pcap___128__', ts, 18, 'pcap-63-1495027314'],
    ['pcap___pcap___128___1494962815457986000_18_pcap-63-1495027314', '__pcap___128__', ts, 18, 'pcap-63-1495027314'],
    ['pcap_pcap128_AAA4962815457986000_BB_pcap-63-1495027314', 'pcap128', null, null, 'pcap-63-1495027314'],
  ];
  for (const [name, topic, tsNs, partition, id] of cases) {
    it(name, () => assert.deepEqual(parsePcapFileName(name), { topic, tsNs, partition, id }));
  }
});

describe('file names', () => {
  it('round-trips through formatPcapFileName', () => {
    const n = formatPcapFileName('pcap_v1', 1494886105667571000n, 0, 'pcap-8-1494965816');
    assert.equal(n, 'pcap_pcap_v1_1494886105667571000_0_pcap-8-1494965816');
    assert.deepEqual(parsePcapFileName(n), {
      topic: 'pcap_v1',
      tsNs: 1494886105667571000n,
      partition: 0,
      id: 'pcap-8-1494965816',
    });
  });
  it('writes times >= 2^63 unsigned', () => {
    assert.equal(formatPcapFileName('t', 1n << 63n, 1, 'x'), `pcap_t_${1n << 63n}_1_x`);
    assert.equal(parsePcapFileName(`pcap_t_${(1n << 64n) - 1n}_1_x`)?.tsNs, (1n << 64n) - 1n);
    assert.equal(parsePcapFileName(`pcap_t_${1n << 64n}_1_x`)?.tsNs, null);
  });
  it('gives null for names that are not data files (Metron threw)', () => {
    for (const n of ['_SUCCESS', '.pcap_t_1_2_x.tmp', 'pcap', 'pcap_t_1_2', 'part-00000', '', 'pcap_a_b'])
      assert.equal(parsePcapFileName(n), null, n);
  });
  it('refuses ids that would not parse back', () => {
    assert.throws(() => formatPcapFileName('t', 1n, 0, 'a_b'), RangeError);
    assert.throws(() => formatPcapFileName('t', 1n, -1, 'a'), RangeError);
    assert.throws(() => formatPcapFileName('', 1n, 0, 'a'), RangeError);
  });
});
