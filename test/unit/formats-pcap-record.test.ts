import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { describe, it } from 'node:test';
import { SequenceFileReader } from '../../src/formats/sequencefile/index.js';
import {
  METRON_GLOBAL_HEADER,
  comparePcapValues,
  isPcapValueProblem,
  metronPcapValue,
  parsePcapValue,
  pcapValueTimeNs,
  writeMetronHeaders,
  writePcapPacketHeaderWords,
} from '../../src/formats/pcap/pcap-record.js';
import { SAMPLE_PATH } from '../helpers/fixtures.js';

const SAMPLE = SAMPLE_PATH;

async function sampleValues(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const r of new SequenceFileReader(createReadStream(SAMPLE))) out.push(Buffer.from(r.value));
  return out;
}

describe('Metron pcap headers (metron-compat §2.1)', () => {
  it('global header bytes', () => {
    assert.equal(METRON_GLOBAL_HEADER.toString('hex'), 'd4c3b2a1020004000000000000000000ffff000001000000');
  });

  it('worked example: sample record #0 headers', () => {
    const b = Buffer.alloc(40);
    writeMetronHeaders(b, 0, 1458240269373968000n, 722);
    assert.equal(
      b.toString('hex'),
      'd4c3b2a1020004000000000000000000ffff000001000000' + '0dfbea56d0b40500d2020000d2020000',
    );
  });

  it('metron-compat §8.2 LE headerization round trip over all 20 sample records', async () => {
    const values = await sampleValues();
    assert.equal(values.length, 20);
    for (const v of values) {
      const ts = pcapValueTimeNs(v);
      assert.ok(ts !== null);
      const rebuilt = metronPcapValue(ts, v.subarray(40));
      assert.ok(rebuilt.equals(v));
    }
  });

  it('the word form (no BigInt division) writes the same header as the BigInt arithmetic, at every boundary', () => {
    const reference = (ns: bigint): string => {
      const us = ns / 1000n;
      const b = Buffer.alloc(16);
      b.writeUInt32LE(Number(BigInt.asUintN(32, us / 1_000_000n)), 0);
      b.writeUInt32LE(Number(us % 1_000_000n), 4);
      b.writeUInt32LE(60, 8);
      b.writeUInt32LE(64, 12);
      return b.toString('hex');
    };
    const cases = [0n, 999n, 1000n, 1001n, 1458240269373968000n, 1458240269373968999n, (1n << 64n) - 1n];
    // Around the fast path's limit (2^21 - 1 high words of µs) and µs/s boundaries near it.
    for (const us of [((1n << 21n) - 1n) << 32n, 1n << 53n, 9_007_199_254_000_000n])
      for (const d of [-1001n, -1000n, -999n, -1n, 0n, 1n, 999n, 1000n]) cases.push(us * 1000n + d);
    let x = 0x9e3779b97f4a7c15n;
    for (let i = 0; i < 20000; i++) {
      x = BigInt.asUintN(64, x * 6364136223846793005n + 1442695040888963407n);
      cases.push(i % 2 ? x : x % 7_258_118_400_000_000_000n); // anywhere, and inside the accepted range
    }
    const b = Buffer.alloc(16);
    for (const ns of cases) {
      if (ns < 0n || ns >= 1n << 64n) continue;
      writePcapPacketHeaderWords(b, 0, Number(ns >> 32n), Number(ns & 0xffffffffn), 60, 64);
      assert.equal(b.toString('hex'), reference(ns), `${ns} ns`);
    }
  });

  it('drops sub-µs digits in the header and truncates seconds to 32 bits', () => {
    const v = metronPcapValue(1458240269373968999n, Buffer.alloc(1));
    assert.equal(v.readUInt32LE(28), 373968);
    const far = (2n ** 32n + 5n) * 1_000_000_000n; // ts_sec beyond 32 bits
    assert.equal(metronPcapValue(far, Buffer.alloc(1)).readUInt32LE(24), 5);
  });
});

describe('parsePcapValue: any magic and byte order', () => {
  const frame = Buffer.from('00112233445566778899aabb0800', 'hex');
  const build = (
    magic: number,
    le: boolean,
    sec: number,
    frac: number,
    incl = frame.length,
    orig = incl,
    extra = 0,
  ): Buffer => {
    const b = Buffer.alloc(40 + frame.length + extra);
    const w32 = (v: number, o: number): void => void (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
    const w16 = (v: number, o: number): void => void (le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
    w32(magic, 0);
    w16(2, 4);
    w16(4, 6);
    w32(65535, 16);
    w32(1, 20);
    w32(sec, 24);
    w32(frac, 28);
    w32(incl, 32);
    w32(orig, 36);
    frame.copy(b, 40);
    return b;
  };
  const cases: Array<[string, number, boolean, number, bigint]> = [
    ['µs LE', 0xa1b2c3d4, true, 123456, 1458240269123456000n],
    ['µs BE', 0xa1b2c3d4, false, 123456, 1458240269123456000n],
    ['ns LE (Metron misreads this one)', 0xa1b23c4d, true, 123456789, 1458240269123456789n],
    ['ns BE', 0xa1b23c4d, false, 123456789, 1458240269123456789n],
  ];
  for (const [name, magic, le, frac, ts] of cases) {
    it(name, () => {
      const v = build(magic, le, 1458240269, frac);
      const info = parsePcapValue(v);
      assert.ok(!isPcapValueProblem(info));
      assert.equal(info.tsNs, ts);
      assert.equal(info.inclLen, frame.length);
      assert.equal(info.linkType, 1);
      assert.equal(info.frameOffset, 40);
      assert.equal(info.trailing, 0);
      assert.equal(pcapValueTimeNs(v), ts);
    });
  }
  it('reports problems as values', () => {
    const p = (b: Buffer): string => {
      const r = parsePcapValue(b);
      return isPcapValueProblem(r) ? r.problem : 'ok';
    };
    assert.equal(p(Buffer.alloc(10)), 'truncated-pcap');
    assert.equal(p(Buffer.alloc(40)), 'bad-pcap-magic');
    assert.equal(p(build(0xa1b2c3d4, true, 1, 0).subarray(0, 30)), 'truncated-pcap');
    assert.equal(p(build(0xa1b2c3d4, true, 1, 0, 100)), 'truncated-pcap');
    assert.equal(p(build(0xa1b2c3d4, true, 1, 0, frame.length, 3)), 'inconsistent-pcap');
    assert.equal(p(build(0xa1b2c3d4, true, 1, 1_000_000)), 'inconsistent-pcap');
    const v = build(0xa1b2c3d4, true, 1, 0);
    v.writeUInt16LE(3, 4);
    assert.equal(p(v), 'inconsistent-pcap');
    const t = parsePcapValue(build(0xa1b2c3d4, true, 1, 0, frame.length, frame.length, 5));
    assert.ok(!isPcapValueProblem(t) && t.trailing === 5);
  });
});

describe('metron-compat §8.5 comparator on (ts_sec, ts_usec)', () => {
  const base = BigInt(Date.UTC(2016, 6, 26, 8, 21, 13)) * 1_000_000n;
  const v = (ns: bigint): Buffer => metronPcapValue(ns, Buffer.alloc(14));
  const S = 1_000_000_000n;
  const US = 1000n;
  it('equal instants compare as 0', () => assert.equal(comparePcapValues(v(base), v(base)), 0));
  const later: Array<[string, bigint]> = [
    ['+1 s', S],
    ['+1 µs', US],
    ['+1 s +1 µs', S + US],
    ['+20 years +999999 µs', 20n * 365n * 86400n * S + 999999n * US],
  ];
  for (const [name, d] of later) {
    it(`${name} is later`, () => {
      assert.ok(comparePcapValues(v(base + d), v(base)) > 0);
      assert.ok(comparePcapValues(v(base), v(base + d)) < 0);
    });
  }
});
