/**
 * Seeded fuzzing: 100k random and mutated Kafka records through both schemes and the decoder.
 * Nothing may throw; every rejection carries a reason from the RejectReason union; every
 * accepted record and every decode stays within its buffer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, decodePcapValue, SUPPORTED_LINK_TYPES } from '../../src/packet/decode.js';
import { createPacketFields, type PacketFields } from '../../src/packet/packet-fields.js';
import { metronPcapValue } from '../../src/formats/pcap/pcap-record.js';
import { Prng } from '../support/prng.js';
import { isRecordProblem, parseRecordAt, SequenceFileWriter } from '../../src/formats/sequencefile/index.js';
import { SyntheticCapture } from '../support/synthetic.js';
import { REJECT_REASONS, createScheme, type RejectReason, type Scheme } from '../../src/scheme/index.js';

const ITERATIONS = 100_000;
const r = new Prng(20240601);

const synthetic = new SyntheticCapture({
  seed: 99,
  flows: 200,
  ipv6Share: 0.4,
  vlanShare: 0.2,
  qinqShare: 0.1,
  icmpShare: 0.15,
});
const seeds: Array<{ ts: bigint; frame: Buffer }> = [];
for (let i = 0; i < 500; i++) {
  const p = synthetic.next();
  seeds.push({ ts: p.tsNs, frame: p.frame });
}

/** A mutated copy: flipped bytes, cuts, extensions, and extreme values in 16/32-bit fields. */
function mutate(src: Buffer): Buffer {
  let b = Buffer.from(src);
  const n = r.int(1, 4);
  for (let k = 0; k < n; k++) {
    switch (r.int(0, 5)) {
      case 0:
        if (b.length > 0) b[r.int(0, b.length - 1)] = r.u32() & 255;
        break;
      case 1:
        b = b.subarray(0, r.int(0, b.length));
        break;
      case 2:
        b = Buffer.concat([b, r.bytes(r.int(1, 40))]);
        break;
      case 3:
        if (b.length >= 2)
          b.writeUInt16BE(
            r.pick([0, 1, 0xffff, 0x8100, 0x88a8, 0x86dd, 0x0800, 0x2c00, 0x3b00]),
            r.int(0, b.length - 2),
          );
        break;
      case 4:
        if (b.length >= 4)
          b.writeUInt32BE(r.pick([0, 0xffffffff, 0x7fffffff, 0xa1b2c3d4, 0x4d3cb2a1]), r.int(0, b.length - 4));
        break;
      default:
        if (b.length > 0) b[r.int(0, b.length - 1)] ^= 1 << r.int(0, 7);
    }
  }
  return b;
}

function randomKey(): Buffer | null {
  const k = r.int(0, 9);
  if (k === 0) return null;
  if (k === 1) return r.bytes(r.int(0, 16));
  const b = Buffer.alloc(8);
  if (k < 5) b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(r.u32()) * BigInt(r.u32()) * BigInt(r.int(1, 4_000_000))));
  else b.writeBigUInt64BE(1_700_000_000_000_000n + BigInt(r.u32())); // µs-ish
  return b;
}

function randomValue(): Buffer | null {
  const k = r.int(0, 19);
  const seed = r.pick(seeds);
  if (k === 0) return null;
  if (k <= 3) return r.bytes(r.int(0, 2000));
  if (k <= 8) return mutate(seed.frame);
  if (k <= 14) return mutate(metronPcapValue(seed.ts, seed.frame));
  if (k <= 17) return metronPcapValue(seed.ts, seed.frame);
  return Buffer.from(seed.frame);
}

function checkFields(f: PacketFields, bufLen: number, ok: boolean): void {
  assert.equal(ok, f.error === null);
  for (const o of [f.l3Offset, f.l4Offset, f.payloadOffset])
    assert.ok(o === -1 || (o >= 0 && o <= bufLen), `offset ${o} in ${bufLen}`);
  assert.ok(f.payloadLength >= 0 && (f.payloadOffset === -1 || f.payloadOffset + f.payloadLength <= bufLen));
  assert.ok(f.srcPort >= -1 && f.srcPort <= 65535 && f.dstPort >= -1 && f.dstPort <= 65535);
  assert.ok(f.protocol >= -1 && f.protocol <= 255);
  assert.ok(f.vlan >= -1 && f.vlan <= 4095 && f.innerVlan >= -1 && f.innerVlan <= 4095);
  if (f.ipVersion !== 0) assert.ok(typeof f.srcAddr === 'string' && typeof f.dstAddr === 'string');
  else assert.ok(f.srcAddr === null && f.dstAddr === null);
}

describe('fuzz: scheme and decoder', () => {
  it(`${ITERATIONS} records: no exception escapes, every rejection has a known reason`, () => {
    const schemes: Scheme[] = [
      createScheme('FROM_KEY', 'MILLISECONDS'),
      createScheme('FROM_KEY', 'MICROSECONDS'),
      createScheme('FROM_KEY', 'NANOSECONDS'),
      createScheme('FROM_VALUE'),
    ];
    const reasons = new Map<RejectReason, number>();
    const f = createPacketFields();
    const linkTypes = [...SUPPORTED_LINK_TYPES, 147, 9999];
    const sink = {
      n: 0,
      write(c: Buffer): void {
        this.n += c.length;
      },
    };
    const writer = new SequenceFileWriter(sink);
    let accepted = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const key = randomKey();
      const value = randomValue();
      const res = schemes[i & 3](key, value);
      if (res.ok) {
        accepted++;
        assert.ok(res.tsNs > 0n && res.tsNs < 7_258_118_400_000_000_000n);
        assert.ok(res.frameOffset >= 0 && res.frameOffset + res.frameLength <= res.data.length);
        // Accepted records must be writable and decodable.
        const pos =
          res.kind === 'frame' ? writer.appendFrame(res.tsNs, res.data) : writer.appendValue(res.tsNs, res.data);
        assert.ok(pos > 0);
        const ok = decodeFrame(res.data, res.frameOffset, res.frameLength, res.linkType, f);
        checkFields(f, res.data.length, ok);
      } else {
        assert.ok((REJECT_REASONS as readonly string[]).includes(res.reason), `unknown reason ${String(res.reason)}`);
        assert.ok(typeof res.detail === 'string' && res.detail.length > 0);
        reasons.set(res.reason, (reasons.get(res.reason) ?? 0) + 1);
      }
      if (value !== null) {
        const ok1 = decodePcapValue(value, f);
        checkFields(f, value.length, ok1);
        const lt = r.pick(linkTypes);
        const off = value.length > 0 ? r.int(0, Math.min(value.length - 1, 40)) : 0;
        const len = r.int(0, value.length + 10);
        const ok2 = decodeFrame(value, off, len, lt, f);
        checkFields(f, value.length, ok2);
        const rec = parseRecordAt(value, 0, r.chance(0.5) ? 'long' : 'int');
        if (!isRecordProblem(rec)) assert.ok(rec.next <= value.length);
      }
    }
    assert.ok(accepted > ITERATIONS / 10, `accepted ${accepted}`);
    for (const reason of REJECT_REASONS) assert.ok((reasons.get(reason) ?? 0) > 0, `reason ${reason} never produced`);
  });
});
