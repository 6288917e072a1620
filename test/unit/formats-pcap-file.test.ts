import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import {
  PcapFileError,
  PcapFileReader,
  PcapFileWriter,
  encodePcapFile,
  type PcapPacket,
} from '../../src/formats/pcap/pcap-file.js';

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, Math.min(buf.length, i + size));
}

async function readAll(r: PcapFileReader): Promise<PcapPacket[]> {
  const out: PcapPacket[] = [];
  for await (const p of r) out.push(p);
  return out;
}

/** A pcap file in any byte order / precision (the writer only makes LE µs). */
function craft(
  le: boolean,
  nanos: boolean,
  packets: Array<{ sec: number; frac: number; data: Buffer; orig?: number }>,
  linkType = 1,
): Buffer {
  const parts: Buffer[] = [];
  const g = Buffer.alloc(24);
  const w32 = (b: Buffer, v: number, o: number): void => void (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  w32(g, nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  le ? g.writeUInt16LE(2, 4) : g.writeUInt16BE(2, 4);
  le ? g.writeUInt16LE(4, 6) : g.writeUInt16BE(4, 6);
  w32(g, 262144, 16);
  w32(g, linkType, 20);
  parts.push(g);
  for (const p of packets) {
    const h = Buffer.alloc(16);
    w32(h, p.sec, 0);
    w32(h, p.frac, 4);
    w32(h, p.data.length, 8);
    w32(h, p.orig ?? p.data.length, 12);
    parts.push(h, p.data);
  }
  return Buffer.concat(parts);
}

const pk = (n: number, len: number): Buffer => Buffer.alloc(len, n);

describe('pcap file reader', () => {
  for (const le of [true, false]) {
    for (const nanos of [false, true]) {
      it(`${le ? 'little' : 'big'}-endian ${nanos ? 'ns' : 'µs'}`, async () => {
        const file = craft(
          le,
          nanos,
          [
            { sec: 1700000000, frac: nanos ? 123456789 : 123456, data: pk(1, 60), orig: 1500 },
            { sec: 1700000001, frac: 5, data: pk(2, 1514) },
            { sec: 1700000002, frac: 0, data: pk(3, 0) },
          ],
          113,
        );
        for (const size of [3, 64, 100000]) {
          const r = new PcapFileReader(chunks(file, size));
          const h = await r.header();
          assert.deepEqual([h.littleEndian, h.nanos, h.linkType, h.snaplen], [le, nanos, 113, 262144]);
          const ps = await readAll(r);
          assert.equal(ps.length, 3);
          assert.equal(ps[0].tsNs, nanos ? 1700000000123456789n : 1700000000123456000n);
          assert.equal(ps[1].tsNs, 1700000001000000000n + (nanos ? 5n : 5000n));
          assert.deepEqual(
            ps.map((p) => [p.inclLen, p.origLen, p.data.length, p.linkType, p.index]),
            [
              [60, 1500, 60, 113, 0],
              [1514, 1514, 1514, 113, 1],
              [0, 0, 0, 113, 2],
            ],
          );
          assert.deepEqual(ps[1].data, pk(2, 1514));
          assert.deepEqual(
            ps.map((p) => p.position),
            [24, 24 + 16 + 60, 24 + 32 + 60 + 1514],
          );
          assert.deepEqual(r.summary, { packets: 3, torn: false, tornBytes: 0, validEnd: file.length });
        }
      });
    }
  }

  it('stops at a torn last packet and reports it', async () => {
    const file = craft(true, false, [
      { sec: 1, frac: 0, data: pk(1, 100) },
      { sec: 2, frac: 0, data: pk(2, 100) },
    ]);
    for (let cut = 24; cut <= file.length; cut++) {
      const r = new PcapFileReader(chunks(file.subarray(0, cut), 50));
      const n = (await readAll(r)).length;
      assert.equal(n, cut >= file.length ? 2 : cut >= 24 + 116 ? 1 : 0, `cut ${cut}`);
      assert.equal(r.summary.torn, cut !== 24 && cut !== 140 && cut !== file.length, `cut ${cut}`);
    }
  });

  it('refuses pcapng, unknown magic, short files and absurd lengths', async () => {
    const ng = Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex');
    await assert.rejects(
      readAll(new PcapFileReader(chunks(ng, 10))),
      (e: unknown) => e instanceof PcapFileError && e.reason === 'pcapng',
    );
    await assert.rejects(
      readAll(new PcapFileReader(chunks(Buffer.alloc(40, 7), 10))),
      (e: unknown) => e instanceof PcapFileError && e.reason === 'bad-magic',
    );
    await assert.rejects(
      readAll(new PcapFileReader(chunks(Buffer.from('d4c3b2a10200', 'hex'), 10))),
      (e: unknown) => e instanceof PcapFileError && e.reason === 'truncated-header',
    );
    const bad = craft(true, false, [{ sec: 1, frac: 0, data: pk(1, 10) }]);
    bad.writeUInt32LE(0x7fffffff, 24 + 8);
    await assert.rejects(
      readAll(new PcapFileReader(chunks(bad, 10))),
      (e: unknown) => e instanceof PcapFileError && e.reason === 'bad-packet-length',
    );
  });

  it('refuses ts_usec >= 10^6 and ts_nsec >= 10^9 (a damaged header, not a packet seconds late)', async () => {
    for (const [nanos, frac] of [
      [false, 1_000_000],
      [false, 5_999_999],
      [true, 1_000_000_000],
    ] as const) {
      const file = craft(true, nanos, [
        { sec: 1, frac: 0, data: pk(1, 10) },
        { sec: 1, frac, data: pk(2, 10) },
      ]);
      await assert.rejects(
        readAll(new PcapFileReader(chunks(file, 10))),
        (e: unknown) =>
          e instanceof PcapFileError && e.reason === 'bad-timestamp' && /packet 1 at offset 50/.test(e.message),
      );
    }
    const edge = craft(true, false, [{ sec: 1, frac: 999_999, data: pk(1, 10) }]);
    assert.equal((await readAll(new PcapFileReader(chunks(edge, 10))))[0].tsNs, 1_999_999_000n);
  });
});

describe('pcap file writer', () => {
  it('writes little-endian µs with the global header once; equals encodePcapFile', async () => {
    const got: Buffer[] = [];
    const out = new Writable({
      write(c, _e, cb) {
        got.push(c);
        cb();
      },
    });
    const w = new PcapFileWriter(out);
    const packets = [
      { tsNs: 1458240269373968999n, data: pk(1, 66) },
      { tsNs: 1458240270000000000n, data: pk(2, 1514), origLen: 9000 },
    ];
    for (const p of packets) await w.writePacket(p.tsNs, p.data, p.origLen);
    await w.end();
    const file = Buffer.concat(got);
    assert.deepEqual(file, encodePcapFile(packets));
    assert.equal(file.subarray(0, 24).toString('hex'), 'd4c3b2a1020004000000000000000000ffff000001000000');
    assert.equal(file.readUInt32LE(24), 1458240269);
    assert.equal(file.readUInt32LE(28), 373968);
    assert.equal(file.readUInt32LE(24 + 16 + 66 + 12), 9000);
    assert.equal(w.packets, 2);
    assert.equal(w.bytes, file.length);
  });

  it('respects backpressure from a slow stream and keeps order', async () => {
    const got: Buffer[] = [];
    let pendingMax = 0;
    const out = new Writable({
      highWaterMark: 1024,
      write(c, _e, cb) {
        got.push(c);
        pendingMax = Math.max(pendingMax, out.writableLength);
        setImmediate(cb);
      },
    });
    const w = new PcapFileWriter(out, { batchBytes: 2048 });
    const packets = Array.from({ length: 500 }, (_, i) => ({
      tsNs: BigInt(1e18) + BigInt(i) * 1000n,
      data: pk(i & 255, 40 + ((i * 97) % 3000)),
    }));
    for (const p of packets) await w.writePacket(p.tsNs, p.data);
    await w.end();
    assert.deepEqual(Buffer.concat(got), encodePcapFile(packets));
    assert.ok(pendingMax <= 2048 + 3100, `buffered at most about one batch (${pendingMax})`);
  });

  it('copies frames: the caller may reuse its buffer after the await', async () => {
    const got: Buffer[] = [];
    const out = new Writable({
      write(c, _e, cb) {
        got.push(c);
        cb();
      },
    });
    const w = new PcapFileWriter(out);
    const buf = pk(1, 100);
    await w.writePacket(1000n, buf);
    buf.fill(9);
    await w.writePacket(2000n, buf);
    await w.end();
    const ps = await readAll(new PcapFileReader(chunks(Buffer.concat(got), 4096)));
    assert.deepEqual(
      ps.map((p) => p.data[0]),
      [1, 9],
    );
  });
});
