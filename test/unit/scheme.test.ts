import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_TIMESTAMP_RANGE,
  MISSING_KEY_MESSAGE,
  REJECT_REASONS,
  appendToSequenceFile,
  createScheme,
  parseTsGranularity,
  parseTsScheme,
  recordLengthOf,
  type SchemeResult,
} from '../../src/scheme/index.js';
import { SequenceFileWriter, isRecordProblem, parseRecordAt } from '../../src/formats/sequencefile/index.js';
import { metronPcapValue } from '../../src/formats/pcap/pcap-record.js';

const key = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const FRAME = Buffer.from('0a00270000000800279 6a47a0800'.replace(/ /g, ''), 'hex');

function rejected(r: SchemeResult): { reason: string; detail: string } {
  assert.equal(r.ok, false, 'expected a rejection');
  if (r.ok) throw new Error('unreachable');
  assert.ok((REJECT_REASONS as readonly string[]).includes(r.reason));
  return r;
}

describe('FROM_KEY (metron-compat §1.6, §8.1)', () => {
  it("metron-compat §8.1: a null key with NANOSECONDS is refused with Metron's message", () => {
    const r = rejected(createScheme('FROM_KEY', 'NANOSECONDS')(null, FRAME));
    assert.equal(r.reason, 'missing-key');
    assert.equal(r.detail, MISSING_KEY_MESSAGE);
    assert.equal(r.detail, 'Expected a key but none provided');
    assert.equal(rejected(createScheme('FROM_KEY', 'NANOSECONDS')(undefined, FRAME)).reason, 'missing-key');
  });

  const table: Array<['MILLISECONDS' | 'MICROSECONDS' | 'NANOSECONDS', bigint, bigint]> = [
    ['MILLISECONDS', 1458240269373n, 1458240269373000000n],
    ['MICROSECONDS', 1458240269373968n, 1458240269373968000n],
    ['NANOSECONDS', 1458240269373968000n, 1458240269373968000n],
  ];
  for (const [g, k, ns] of table) {
    it(`${g}: ${k} → ${ns} ns`, () => {
      const r = createScheme('FROM_KEY', g)(key(k), FRAME);
      assert.ok(r.ok);
      assert.equal(r.tsNs, ns);
      assert.equal(r.kind, 'frame');
      assert.equal(r.data, FRAME);
      assert.equal(r.frameOffset, 0);
      assert.equal(r.frameLength, FRAME.length);
      assert.equal(r.linkType, 1);
    });
  }

  it('pycapa key bytes example (metron-compat §1.2)', () => {
    const r = createScheme('FROM_KEY', 'MICROSECONDS')(Buffer.from('00052e430540d210', 'hex'), FRAME);
    assert.ok(r.ok && r.tsNs === 1458240269373968000n);
  });

  it('refuses keys that are not 8 bytes (Metron read them as other numbers)', () => {
    const s = createScheme('FROM_KEY', 'MICROSECONDS');
    for (const n of [0, 1, 7, 9, 16])
      assert.equal(rejected(s(Buffer.alloc(n, 1), FRAME)).reason, 'bad-key-length', `${n} bytes`);
  });

  it('refuses null or empty values', () => {
    const s = createScheme('FROM_KEY', 'MICROSECONDS');
    assert.equal(rejected(s(key(1458240269373968n), null)).reason, 'empty-value');
    assert.equal(rejected(s(key(1458240269373968n), Buffer.alloc(0))).reason, 'empty-value');
  });

  it('refuses absurd times, including ones the unit conversion would wrap', () => {
    const s = createScheme('FROM_KEY', 'MICROSECONDS');
    assert.equal(rejected(s(key(0n), FRAME)).reason, 'timestamp-out-of-range');
    // ns keys configured as µs: 1.4e18 µs = year 46 000+.
    assert.equal(rejected(s(key(1458240269373968000n), FRAME)).reason, 'timestamp-out-of-range');
    assert.equal(rejected(s(key((1n << 64n) - 1n), FRAME)).reason, 'timestamp-out-of-range');
    const ms = createScheme('FROM_KEY', 'MILLISECONDS');
    assert.equal(rejected(ms(key(7258118400000n), FRAME)).reason, 'timestamp-out-of-range'); // 2200-01-01 exactly
    assert.ok(ms(key(7258118399999n), FRAME).ok);
    assert.ok(createScheme('FROM_KEY', 'NANOSECONDS')(key(1n), FRAME).ok);
  });

  it('reads times exactly on both sides of 2^53 units (read as numbers below it, as a BigInt above)', () => {
    const range = { minExclusiveNs: 0n, maxExclusiveNs: 1n << 80n };
    for (const [unit, factor] of [
      ['NANOSECONDS', 1n],
      ['MICROSECONDS', 1000n],
    ] as const) {
      const s = createScheme('FROM_KEY', unit, range);
      for (const units of [
        1n,
        0xffffffffn,
        0x1_0000_0000n,
        1_700_000_000_123_456n,
        (1n << 53n) - 1n,
        1n << 53n,
        (1n << 53n) + 1n,
        0x1234_5678_9abc_def1n,
        (1n << 64n) - 1n,
      ]) {
        const r = s(key(units), FRAME);
        assert.ok(r.ok, `${unit} ${units}`);
        assert.equal(r.tsNs, units * factor, `${unit} ${units}`);
      }
    }
  });

  it('documents its default range: (1970-01-01, 2200-01-01)', () => {
    assert.equal(DEFAULT_TIMESTAMP_RANGE.minExclusiveNs, 0n);
    assert.equal(DEFAULT_TIMESTAMP_RANGE.maxExclusiveNs, BigInt(Date.UTC(2200, 0, 1)) * 1_000_000n);
  });

  it('takes a custom range', () => {
    const s = createScheme('FROM_KEY', 'NANOSECONDS', { minExclusiveNs: 10n, maxExclusiveNs: 20n });
    assert.ok(s(key(15n), FRAME).ok);
    assert.equal(rejected(s(key(10n), FRAME)).reason, 'timestamp-out-of-range');
  });
});

describe('FROM_VALUE / FROM_PACKET (metron-compat §1.7)', () => {
  const pcap = (magic: number, le: boolean, sec: number, frac: number, frame = FRAME, linkType = 1): Buffer => {
    const b = Buffer.alloc(40 + frame.length);
    const w32 = (v: number, o: number): void => void (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
    w32(magic, 0);
    le ? b.writeUInt16LE(2, 4) : b.writeUInt16BE(2, 4);
    le ? b.writeUInt16LE(4, 6) : b.writeUInt16BE(4, 6);
    w32(65535, 16);
    w32(linkType, 20);
    w32(sec, 24);
    w32(frac, 28);
    w32(frame.length, 32);
    w32(frame.length, 36);
    frame.copy(b, 40);
    return b;
  };
  const s = createScheme('FROM_VALUE');

  for (const [name, magic, le, frac, ns] of [
    ['µs LE', 0xa1b2c3d4, true, 373968, 1458240269373968000n],
    ['µs BE', 0xa1b2c3d4, false, 373968, 1458240269373968000n],
    ['ns LE', 0xa1b23c4d, true, 373968123, 1458240269373968123n],
    ['ns BE', 0xa1b23c4d, false, 373968123, 1458240269373968123n],
  ] as Array<[string, number, boolean, number, bigint]>) {
    it(`time from the packet header: ${name}; value kept unchanged`, () => {
      const v = pcap(magic, le, 1458240269, frac);
      const r = s(null, v);
      assert.ok(r.ok);
      assert.equal(r.tsNs, ns);
      assert.equal(r.kind, 'pcap');
      assert.equal(r.data, v);
      assert.equal(r.frameOffset, 40);
      assert.equal(r.frameLength, FRAME.length);
    });
  }

  it('keeps the link type of the value (raw IP, Linux cooked)', () => {
    const r = s(null, pcap(0xa1b2c3d4, true, 1458240269, 0, FRAME, 113));
    assert.ok(r.ok && r.linkType === 113);
  });

  it('accepts the names FROM_VALUE and FROM_PACKET, case-insensitive; nothing else', () => {
    assert.equal(parseTsScheme('FROM_PACKET'), 'FROM_VALUE');
    assert.equal(parseTsScheme('from_value'), 'FROM_VALUE');
    assert.equal(parseTsScheme('From_Key'), 'FROM_KEY');
    assert.equal(parseTsScheme('FROM_WHATEVER'), null);
    assert.equal(parseTsGranularity('microseconds'), 'MICROSECONDS');
    assert.equal(parseTsGranularity('SECONDS'), null);
  });

  it('refuses bad values with a reason', () => {
    const ok = pcap(0xa1b2c3d4, true, 1458240269, 1);
    const cases: Array<[Buffer | null, string]> = [
      [null, 'empty-value'],
      [Buffer.alloc(0), 'empty-value'],
      [ok.subarray(0, 20), 'truncated-pcap'],
      [ok.subarray(0, 39), 'truncated-pcap'],
      [ok.subarray(0, ok.length - 1), 'truncated-pcap'],
      [Buffer.concat([Buffer.from('0a0d0d0a', 'hex'), ok.subarray(4)]), 'bad-pcap-magic'],
      [Buffer.concat([Buffer.alloc(4), ok.subarray(4)]), 'bad-pcap-magic'],
      [Buffer.concat([ok, Buffer.alloc(3)]), 'inconsistent-pcap'],
      [pcap(0xa1b2c3d4, true, 1458240269, 1_000_000), 'inconsistent-pcap'],
      [pcap(0xa1b2c3d4, true, 0, 0), 'timestamp-out-of-range'],
    ];
    for (const [v, reason] of cases) assert.equal(rejected(s(Buffer.from('k'), v)).reason, reason, reason);
    // 32-bit seconds cannot pass 2106, so the upper bound matters only with a tighter range.
    const tight = createScheme('FROM_VALUE', 'MICROSECONDS', {
      minExclusiveNs: 0n,
      maxExclusiveNs: 1_500_000_000n * 1_000_000_000n,
    });
    assert.equal(rejected(tight(null, pcap(0xa1b23c4d, false, 0xffffffff, 0))).reason, 'timestamp-out-of-range');
  });
});

describe('scheme → SequenceFile writer', () => {
  it('appends frames and values, with recordLengthOf giving the record range', () => {
    const chunks: Buffer[] = [];
    const w = new SequenceFileWriter({ write: (c) => void chunks.push(c) });
    const fk = createScheme('FROM_KEY', 'NANOSECONDS');
    const fv = createScheme('FROM_VALUE');
    const a = fk(key(1458240269373968123n), FRAME);
    const b = fv(null, metronPcapValue(1458240269400000000n, FRAME));
    assert.ok(a.ok && b.ok);
    const pa = appendToSequenceFile(w, a);
    const pb = appendToSequenceFile(w, b);
    const file = Buffer.concat(chunks);
    for (const [pos, rec] of [
      [pa, a],
      [pb, b],
    ] as const) {
      const len = recordLengthOf(rec);
      const r = parseRecordAt(file.subarray(pos, pos + len), 0, 'long');
      assert.ok(!isRecordProblem(r));
      assert.equal(r.record.tsNs, rec.tsNs);
      assert.deepEqual(r.record.value, metronPcapValue(rec.tsNs, FRAME));
    }
  });
});
