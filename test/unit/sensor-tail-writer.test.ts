import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { metronPcapValue } from '../../src/formats/pcap/pcap-record.js';
import { createScheme, type TsGranularity } from '../../src/scheme/index.js';
import { ReorderBuffer } from '../../src/sensor/tail/reorder-buffer.js';
import { type MalformedReason, TAIL_SNAPLEN, TailWriter } from '../../src/sensor/tail/tail-writer.js';
import { parsePcap } from '../helpers/query.js';
import { udpFrame } from '../helpers/ingest.js';

class Sink extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    cb();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const TS_NS = 1_700_000_000_123_456_789n;
const UNIT: Record<TsGranularity, bigint> = { MILLISECONDS: 1_000_000n, MICROSECONDS: 1000n, NANOSECONDS: 1n };
const keyOf = (tsNs: bigint, g: TsGranularity): Buffer => {
  const k = Buffer.alloc(8);
  k.writeBigUInt64BE(tsNs / UNIT[g]);
  return k;
};

function writer(
  o: { scheme?: 'FROM_KEY' | 'FROM_VALUE'; granularity?: TsGranularity; nanos?: boolean; max?: number } = {},
) {
  const out = new Sink();
  const skipped: MalformedReason[] = [];
  const reorder = new ReorderBuffer({ latenessNs: 0n, maxBytes: 1 << 20, partitions: [0] });
  const w = new TailWriter({
    out,
    scheme: createScheme(o.scheme ?? 'FROM_KEY', o.granularity ?? 'MICROSECONDS'),
    reorder,
    nanos: o.nanos ?? false,
    maxPackets: o.max,
    onMalformed: (reason) => skipped.push(reason),
  });
  return { out, w, skipped, reorder };
}

describe('TailWriter (records → one pcap stream)', () => {
  for (const g of ['MILLISECONDS', 'MICROSECONDS', 'NANOSECONDS'] as const) {
    it(`FROM_KEY ${g}: the key's time, the frame as is (ns output keeps every digit the key has)`, async () => {
      const { out, w, reorder } = writer({ granularity: g, nanos: true });
      const frames = [udpFrame('a'), udpFrame('b')];
      w.accept(0, 0n, keyOf(TS_NS, g), frames[0], 0);
      w.accept(0, 1n, keyOf(TS_NS + 5_000_000n, g), frames[1], 0);
      reorder.close(0);
      await w.writeAll();
      await w.end(false);
      const pcap = parsePcap(out.bytes);
      assert.equal(pcap.nanos, true);
      assert.equal(pcap.snaplen, TAIL_SNAPLEN);
      assert.equal(pcap.linkType, 1);
      const expected = (TS_NS / UNIT[g]) * UNIT[g];
      assert.deepEqual(
        pcap.packets.map((p) => p.tsNs),
        [expected, ((TS_NS + 5_000_000n) / UNIT[g]) * UNIT[g]],
      );
      assert.ok(pcap.packets[0].data.equals(frames[0]));
      assert.ok(pcap.packets[1].data.equals(frames[1]));
    });
  }

  it('µs output (the default) truncates to the µs, as tcpdump does', async () => {
    const { out, w } = writer({ granularity: 'NANOSECONDS' });
    w.accept(0, 0n, keyOf(TS_NS, 'NANOSECONDS'), udpFrame('a'), 0);
    await w.writeAll();
    await w.end(false);
    const pcap = parsePcap(out.bytes);
    assert.equal(pcap.nanos, false);
    assert.equal(pcap.packets[0].tsMicro, TS_NS / 1000n);
  });

  it('FROM_VALUE: time and original length from the record’s own pcap header', async () => {
    const { out, w } = writer({ scheme: 'FROM_VALUE' });
    const frame = udpFrame('v');
    const value = metronPcapValue(TS_NS, frame);
    value.writeUInt32LE(1514, 24 + 12); // orig_len: the frame was cut by a snaplen
    w.accept(0, 0n, null, value, 0);
    await w.writeAll();
    await w.end(false);
    const [p] = parsePcap(out.bytes).packets;
    assert.equal(p.tsMicro, TS_NS / 1000n);
    assert.equal(p.origLen, 1514);
    assert.ok(p.data.equals(frame));
  });

  it('malformed records are counted by reason and skipped; the stream stays valid', async () => {
    const { out, w, skipped } = writer();
    const good = udpFrame('good');
    w.accept(0, 0n, keyOf(TS_NS, 'MICROSECONDS'), good, 0);
    w.accept(0, 1n, Buffer.alloc(4), good, 0);
    w.accept(0, 2n, null, good, 0);
    w.accept(0, 3n, keyOf(TS_NS, 'MICROSECONDS'), Buffer.alloc(0), 0);
    w.accept(0, 4n, keyOf(0n, 'MICROSECONDS'), good, 0);
    w.accept(0, 5n, keyOf(TS_NS, 'MICROSECONDS'), Buffer.alloc(TAIL_SNAPLEN + 1), 0);
    w.accept(0, 6n, keyOf(TS_NS + 1000n, 'MICROSECONDS'), good, 0);
    await w.writeAll();
    await w.end(false);
    assert.deepEqual(skipped, [
      'bad-key-length',
      'missing-key',
      'empty-value',
      'timestamp-out-of-range',
      'frame-too-large',
    ]);
    assert.equal(w.malformedTotal, 5);
    assert.equal(w.malformed.get('bad-key-length'), 1);
    assert.equal(parsePcap(out.bytes).packets.length, 2);
    assert.equal(w.written, 2);
  });

  it('FROM_VALUE: a truncated or non-pcap value is skipped', async () => {
    const { w, skipped } = writer({ scheme: 'FROM_VALUE' });
    const value = metronPcapValue(TS_NS, udpFrame('v'));
    w.accept(0, 0n, null, value.subarray(0, value.length - 3), 0);
    w.accept(0, 1n, null, Buffer.from('not a pcap at all, just some bytes here'), 0);
    assert.deepEqual(skipped, ['truncated-pcap', 'bad-pcap-magic']);
  });

  it('--max-packets: exactly N complete records, then full', async () => {
    const { out, w } = writer({ max: 3 });
    for (let i = 0; i < 10; i++)
      w.accept(0, BigInt(i), keyOf(TS_NS + BigInt(i) * 1000n, 'MICROSECONDS'), udpFrame(`p${i}`), 0);
    await w.writeAll();
    await w.end(false);
    assert.equal(w.full, true);
    assert.equal(parsePcap(out.bytes).packets.length, 3);
  });

  it('a reader that goes away (EPIPE) ends the writing quietly', async () => {
    const out = new Writable({
      write(_chunk, _enc, cb) {
        const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
        cb(err);
      },
    });
    const reorder = new ReorderBuffer({ latenessNs: 0n, maxBytes: 1 << 20, partitions: [0] });
    const w = new TailWriter({ out, scheme: createScheme('FROM_KEY', 'MICROSECONDS'), reorder, nanos: false });
    for (let i = 0; i < 5; i++) w.accept(0, BigInt(i), keyOf(TS_NS, 'MICROSECONDS'), udpFrame(`p${i}`), 0);
    await w.writeAll();
    await w.end(false);
    assert.equal(w.closed, true);
  });
});
