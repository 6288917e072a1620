import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { ByteWriter, IndexFormatError, parseContainerHeader } from '../../src/formats/index/avro-binary.js';
import { IndexBuilder } from '../../src/formats/index/packet-index.js';
import type { IndexSummary } from '../../src/formats/index/packet-index-format.js';
import { decodeIndex, readIndexColumns } from '../../src/formats/index/packet-index-reader.js';
import {
  chunkExtent,
  chunkFirstTs,
  decodeDirectory,
  type DirectoryInput,
  encodeDirectory,
} from '../../src/formats/index/v2/format.js';
import { bufferSource, IndexV2 } from '../../src/formats/index/v2/reader.js';
import { addressTextToBytes, compareTerms, flowTerm, fnv1a } from '../../src/formats/index/v2/terms.js';
import { decodeFrame } from '../../src/packet/decode.js';
import { createPacketFields } from '../../src/packet/packet-fields.js';
import { summaryOf } from '../support/index-summary.js';
import { SyntheticCapture } from '../support/synthetic.js';

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of gen) parts.push(c);
  return Buffer.concat(parts);
}

/** An index of `n` synthetic packets (positions as a writer would give them), both versions. */
async function synthetic(
  n: number,
  flows = 200,
): Promise<{ v1: Buffer; v2: Buffer; builder: IndexBuilder; summary: IndexSummary }> {
  const gen = new SyntheticCapture({ seed: 11, flows });
  const b = new IndexBuilder();
  const f = createPacketFields();
  let pos = 95;
  for (let i = 0; i < n; i++) {
    const p = gen.next();
    decodeFrame(p.frame, 0, p.frame.length, 1, f);
    const len = 60 + p.frame.length;
    b.add(p.tsNs, pos, len, f.protocol, f.srcAddr, f.dstAddr, f.srcPort, f.dstPort, f.vlan);
    pos += len + (i % 17 === 16 ? 20 : 0); // a sync escape now and then
  }
  const summary = summaryOf(b, pos);
  return { v1: await collect(b.encodeV1(summary)), v2: await collect(b.encode(summary)), builder: b, summary };
}

test('index v2 decodes to exactly the packets v1 holds (times, positions, lengths, every field)', async () => {
  const { v1, v2 } = await synthetic(6000);
  const a = readIndexColumns(v1);
  const b = await decodeIndex(v2);
  assert.equal(b.summary.version, 2);
  assert.equal(b.summary.timeOrdered, true);
  assert.equal(b.columns.count, a.columns.count);
  const addr = (d: typeof a, id: number) => (id < 0 ? null : d.addresses[id]);
  for (let i = 0; i < a.columns.count; i++) {
    const x = a.columns;
    const y = b.columns;
    const same =
      x.ts[i] === y.ts[i] &&
      x.pos[i] === y.pos[i] &&
      x.len[i] === y.len[i] &&
      x.protocol[i] === y.protocol[i] &&
      x.srcPort[i] === y.srcPort[i] &&
      x.dstPort[i] === y.dstPort[i] &&
      x.vlan[i] === y.vlan[i] &&
      addr(a, x.src[i]) === addr(b, y.src[i]) &&
      addr(a, x.dst[i]) === addr(b, y.dst[i]);
    if (!same) assert.fail(`packet ${i} differs between v1 and v2`);
  }
});

test('index v2 is no larger than v1 on synthetic traffic (bytes per packet)', async () => {
  const { v1, v2 } = await synthetic(20_000, 1000);
  assert.ok(
    v2.length <= v1.length,
    `v2 ${(v2.length / 20_000).toFixed(2)} B/packet, v1 ${(v1.length / 20_000).toFixed(2)}`,
  );
});

test('a term lookup reads the header, one dictionary block and one posting list, not the index', async () => {
  const { v2 } = await synthetic(20_000, 1000);
  const reads: number[] = [];
  const source = bufferSource(v2);
  const index = await IndexV2.open({
    read: async (o, l) => {
      reads.push(l);
      return source.read(o, l);
    },
  });
  const decoded = await decodeIndex(v2);
  const target = decoded.addresses[decoded.columns.src[12_345]];
  const field = index.field('src')!;
  const t = addressTextToBytes(target);
  const entries = await index.terms(field, t, t);
  assert.equal(entries.length, 1);
  const ordinals = await index.postings(field, entries);
  const expected: number[] = [];
  for (let i = 0; i < decoded.columns.count; i++)
    if (decoded.addresses[decoded.columns.src[i]] === target) expected.push(i);
  assert.deepEqual([...ordinals], expected);
  const afterHeader = reads.slice(1).reduce((s, n) => s + n, 0);
  assert.ok(afterHeader < v2.length / 20, `read ${afterHeader} bytes past the header of a ${v2.length}-byte index`);
});

test('the flow term is the same for both directions and differs between flows', () => {
  const a = addressTextToBytes('10.0.0.1');
  const b = addressTextToBytes('2001:db8::1');
  const ha = fnv1a(a);
  const hb = fnv1a(b);
  assert.equal(flowTerm(6, a, ha, 1234, b, hb, 443), flowTerm(6, b, hb, 443, a, ha, 1234));
  assert.notEqual(flowTerm(6, a, ha, 1234, b, hb, 443), flowTerm(17, a, ha, 1234, b, hb, 443));
  assert.notEqual(flowTerm(6, a, ha, 1234, b, hb, 443), flowTerm(6, a, ha, 1235, b, hb, 443));
  assert.equal(flowTerm(6, new Uint8Array(0), 0, 1, b, hb, 2), -1);
});

test('a crafted v1 index block that would inflate without limit is refused at once', async () => {
  const { v1 } = await synthetic(100);
  const h = parseContainerHeader(v1)!;
  // One block claiming 1 entry whose deflated bytes expand to 64 MiB of zeros.
  const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024));
  const w = new ByteWriter();
  w.long(1);
  w.long(bomb.length);
  w.raw(bomb);
  w.raw(h.sync);
  const crafted = Buffer.concat([v1.subarray(0, h.dataStart), w.view()]);
  assert.throws(() => readIndexColumns(crafted), IndexFormatError);
});

test('a crafted v2 column chunk that would inflate without limit is refused', async () => {
  const { v2 } = await synthetic(300);
  const index = await IndexV2.open(bufferSource(v2));
  const chunk = chunkExtent(index.chunks, 0);
  const h = parseContainerHeader(v2)!;
  const bomb = Buffer.concat([Buffer.of(1), deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 1))]);
  // Point the index at a forged chunk: same directory, chunk 0's bytes replaced (lengths kept by padding).
  const forged = Buffer.from(v2);
  const start = h.dataStart + chunk.offset;
  assert.ok(bomb.length > chunk.length, 'the bomb is larger than the chunk; use a source that returns it');
  const evil = await IndexV2.open({
    read: async (o, l) => (o === start ? bomb : forged.subarray(o, o + l)),
  });
  await assert.rejects(evil.readChunks([0]), IndexFormatError);
});

test('a torn v2 index (cut short) is refused, never half-read', async () => {
  const { v2 } = await synthetic(3000);
  const torn = v2.subarray(0, Math.floor(v2.length * 0.6));
  const index = await IndexV2.open(bufferSource(torn));
  await assert.rejects(
    (async () => {
      await index.columns(0, index.chunks.length);
      for (const f of index.directory.fields) await index.postings(f, await index.terms(f));
    })(),
    IndexFormatError,
  );
});

test('the directory decodes to what was written: chunks as arrays, dictionary blocks when first asked', () => {
  const input: DirectoryInput = {
    chunkPackets: 128,
    chunks: [
      { offset: 0, length: 700, firstTsOffset: 0 },
      { offset: 700, length: 90_000, firstTsOffset: 2 ** 40 },
      { offset: 90_700, length: 1, firstTsOffset: 2 ** 52 },
    ],
    fields: [
      {
        name: 'src',
        kind: 'addr',
        termCount: 300,
        postings: { offset: 5, length: 6 },
        blocks: [
          { firstTerm: Uint8Array.of(10, 0, 0, 1), offset: 1, length: 2, termCount: 128 },
          { firstTerm: Uint8Array.of(192, 0, 2, 1), offset: 3, length: 4, termCount: 172 },
        ],
      },
      {
        name: 'dstPort',
        kind: 'int',
        termCount: 2,
        postings: { offset: 0, length: 9 },
        blocks: [{ firstTerm: 443, offset: 7, length: 8, termCount: 2 }],
      },
    ],
    sketches: { offset: 11, length: 12 },
  };
  const d = decodeDirectory(encodeDirectory(input));
  assert.equal(d.chunks.length, 3);
  assert.deepEqual(
    input.chunks.map((_, i) => ({ ...chunkExtent(d.chunks, i), firstTsOffset: d.chunks.firstTsOffset[i] })),
    input.chunks,
  );
  assert.deepEqual(
    d.fields.map((f) => ({ ...f, blocks: f.blocks.map((b) => ({ ...b, firstTerm: b.firstTerm })) })),
    input.fields.map((f) => ({
      ...f,
      blocks: f.blocks.map((b) => ({
        ...b,
        firstTerm: typeof b.firstTerm === 'number' ? b.firstTerm : Buffer.from(b.firstTerm as Uint8Array),
      })),
    })),
  );
  assert.deepEqual(d.sketches, input.sketches);
  // A directory cut inside a field's block list is refused when it is decoded, not when a query
  // first asks for that field's blocks.
  const bytes = encodeDirectory(input);
  for (const cut of [bytes.length - 3, bytes.length - 12, 20])
    assert.throws(() => decodeDirectory(bytes.subarray(0, cut)), IndexFormatError);
  // A chunk table entry that is not a whole, non-negative number is refused when it is used.
  const tableAt = 4; // version (1 byte), chunk size 128 (2 bytes), chunk count (1 byte)
  for (const [at, value, use] of [
    [tableAt + 8, Number.NaN, 'extent'],
    [tableAt + 8, -1, 'extent'],
    [tableAt + 8, 2 ** 60, 'extent'],
    [tableAt + 24 + 8, 0.5, 'time'],
    [tableAt + 24 + 8, Number.POSITIVE_INFINITY, 'time'],
  ] as const) {
    const bad = Buffer.from(bytes);
    bad.writeDoubleLE(value, at);
    const table = decodeDirectory(bad).chunks;
    assert.throws(
      () => (use === 'extent' ? chunkExtent(table, 1) : chunkFirstTs(table, 1)),
      IndexFormatError,
      `${value} at ${at}`,
    );
    assert.doesNotThrow(() => chunkExtent(table, 2));
  }
});

/**
 * A dstPort field as directories before version 3 wrote it: no byte length before its block list
 * (one block: first term 443 at offset 7, 8 bytes, 2 terms).
 */
function writeLegacyPortField(w: ByteWriter): void {
  w.string('dstPort');
  w.uvarint(0); // int
  w.uvarint(2);
  w.uvarint(0);
  w.uvarint(9);
  w.uvarint(1);
  w.long(443);
  w.uvarint(7);
  w.uvarint(8);
  w.uvarint(2);
}

test('a version 1 directory (chunk table as varints, written before) still decodes', () => {
  const w = new ByteWriter(256);
  w.uvarint(1);
  w.uvarint(128);
  w.uvarint(2);
  for (const [delta, size, ts] of [
    [0, 700, 0],
    [700, 90_000, 2 ** 40],
  ]) {
    w.uvarint(delta);
    w.uvarint(size);
    w.uvarint(ts);
  }
  w.uvarint(1);
  writeLegacyPortField(w);
  w.uvarint(0);
  w.uvarint(0);
  const d = decodeDirectory(w.toBuffer());
  assert.deepEqual([...d.chunks.offset], [0, 700]);
  assert.deepEqual([...d.chunks.size], [700, 90_000]);
  assert.deepEqual([...d.chunks.firstTsOffset], [0, 2 ** 40]);
  assert.deepEqual(d.fields[0].blocks, [{ firstTerm: 443, offset: 7, length: 8, termCount: 2 }]);
  assert.equal(d.sketches, null);
});

test('a version 2 directory (block lists without their byte length, written before) still decodes', () => {
  const table = Buffer.alloc(20);
  table.writeDoubleLE(0, 0);
  table.writeDoubleLE(5, 8);
  table.writeUInt32LE(700, 16);
  const w = new ByteWriter(256);
  w.uvarint(2);
  w.uvarint(128);
  w.uvarint(1);
  w.raw(table);
  w.uvarint(2);
  writeLegacyPortField(w);
  w.string('src');
  w.uvarint(1); // bytes
  w.uvarint(1);
  w.uvarint(9);
  w.uvarint(5);
  w.uvarint(1);
  w.bytes(Buffer.from([10, 0, 0, 1]));
  w.uvarint(30);
  w.uvarint(6);
  w.uvarint(1);
  w.uvarint(0);
  w.uvarint(0);
  const d = decodeDirectory(w.toBuffer());
  assert.deepEqual([...d.chunks.size], [700]);
  assert.deepEqual(d.fields[0].blocks, [{ firstTerm: 443, offset: 7, length: 8, termCount: 2 }]);
  assert.deepEqual([...(d.fields[1].blocks[0].firstTerm as Uint8Array)], [10, 0, 0, 1]);
  assert.equal(d.fields[1].blocks[0].offset, 30);
});

test('a version 3 block list whose byte length lies is refused', () => {
  const dir = {
    chunkPackets: 128,
    chunks: [{ offset: 0, length: 10, firstTsOffset: 0 }],
    fields: [
      {
        name: 'dstPort',
        kind: 'int' as const,
        termCount: 2,
        postings: { offset: 0, length: 9 },
        blocks: [{ firstTerm: 443, offset: 7, length: 8, termCount: 2 }],
      },
    ],
    sketches: null,
  };
  const good = encodeDirectory(dir);
  assert.deepEqual(decodeDirectory(good).fields[0].blocks, dir.fields[0].blocks);
  // The list is 5 bytes (443 takes two), its length byte just before it, two sketch varints after.
  const at = good.length - 2 - 5 - 1;
  assert.equal(good[at], 5);
  for (const [length, when] of [
    [4, 'use'],
    [3, 'open'],
    [6, 'open'],
    [200, 'open'],
  ] as const) {
    const bad = Buffer.from(good);
    bad[at] = length;
    if (when === 'open') assert.throws(() => decodeDirectory(bad), IndexFormatError, `length ${length}`);
    else assert.throws(() => decodeDirectory(bad).fields[0].blocks, IndexFormatError, `length ${length}`);
  }
});

test('column chunks decoded only as far as asked give the same leading packets as whole ones', async () => {
  const { v2 } = await synthetic(1000);
  const index = await IndexV2.open(bufferSource(v2));
  const ids = [7, 0, 3];
  const whole = await index.readChunks(ids);
  const part = await index.readChunks(ids, [1, 128, 40]);
  assert.deepEqual(
    part.map((s) => s.count),
    [1, 128, 40],
  );
  part.forEach((s, k) => {
    assert.equal(s.first, whole[k].first);
    assert.deepEqual(s.tsOffset, whole[k].tsOffset.subarray(0, s.count));
    assert.deepEqual(s.pos, whole[k].pos.subarray(0, s.count));
    assert.deepEqual(s.len, whole[k].len.subarray(0, s.count));
  });
  // The last chunk holds 1000 - 7 * 128 = 104 packets: asking for more gives what there is.
  assert.equal((await index.readChunks([7], [500]))[0].count, 104);
});

test('an index without a sketch section gives, from its dictionaries, the filters the writer handed the catalog', async () => {
  const { v2, builder } = await synthetic(5000, 900);
  const index = await IndexV2.open(bufferSource(v2));
  assert.equal(index.directory.sketches, null);
  const rebuilt = await index.sketches();
  const written = builder.sketches!;
  assert.deepEqual([...rebuilt.keys()], [...written.keys()]);
  for (const [name, filter] of written) {
    assert.equal(rebuilt.get(name)?.hashes, filter.hashes, name);
    assert.deepEqual(rebuilt.get(name)?.bits, filter.bits, name);
  }
});

test('dictionary lookups with bounds give exactly the entries of the whole dictionary within them', async () => {
  const { v2 } = await synthetic(6000, 700);
  const index = await IndexV2.open(bufferSource(v2));
  for (const name of ['src', 'dstPort', 'flow']) {
    const field = index.field(name)!;
    const all = await index.terms(field);
    assert.equal(all.length, field.termCount);
    const cmp = (a: (typeof all)[0]['term'], b: (typeof all)[0]['term']) => compareTerms(field.kind, a, b);
    for (const [i, j] of [
      [0, 0],
      [5, 5],
      [3, 200],
      [all.length - 1, all.length - 1],
      [130, all.length - 1],
    ]) {
      const lo = all[Math.min(i, all.length - 1)].term;
      const hi = all[Math.min(j, all.length - 1)].term;
      const got = await index.terms(field, lo, hi);
      const want = all.filter((e) => cmp(e.term, lo) >= 0 && cmp(e.term, hi) <= 0);
      assert.deepEqual(
        got.map((e) => [
          Buffer.from(typeof e.term === 'number' ? [] : e.term).toString('hex'),
          e.term,
          e.count,
          e.postingOffset,
        ]),
        want.map((e) => [
          Buffer.from(typeof e.term === 'number' ? [] : e.term).toString('hex'),
          e.term,
          e.count,
          e.postingOffset,
        ]),
        `${name} [${i}, ${j}]`,
      );
    }
    // Bounds between terms, and outside the dictionary.
    if (field.kind === 'int') {
      assert.deepEqual(await index.terms(field, -1e9, -1e9 + 1), []);
      assert.equal((await index.terms(field, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)).length, all.length);
    }
  }
});

test('column chunks keep numbers of every width: long records, long pauses, a clock step back, gaps', async () => {
  const b = new IndexBuilder();
  const want: { ts: bigint; pos: number; len: number }[] = [];
  let pos = 95;
  let ts = 1_700_000_000_000_000_000n;
  for (let i = 0; i < 700; i++) {
    // Lengths of 1, 2 and 3 varint bytes (×2 + flag), time deltas from 1 µs to minutes and one negative.
    const len = [61, 900, 9_000, 70_000, 200][i % 5];
    ts += i === 350 ? -5_000_000n : BigInt([1_000, 90_000, 20_000_000, 300_000_000_000, 7, 64_000, 8_191_000][i % 7]);
    want.push({ ts, pos, len });
    b.add(ts, pos, len, 6, '10.0.0.1', '10.0.0.2', 1000 + (i % 3), 80, 0);
    pos += len + (i % 11 === 10 ? 20 + i : 0);
  }
  const index = await IndexV2.open(bufferSource(await collect(b.encode(summaryOf(b, pos)))));
  const ids = Array.from({ length: index.chunks.length }, (_, c) => c);
  for (const need of [undefined, ids.map((c) => (c * 37) % 129)]) {
    const spans = await index.readChunks(ids, need);
    for (const s of spans)
      for (let j = 0; j < s.count; j++) {
        const w = want[s.first + j];
        assert.equal(index.minTsNs + BigInt(s.tsOffset[j]), w.ts, `time of packet ${s.first + j}`);
        assert.equal(s.pos[j], w.pos, `position of packet ${s.first + j}`);
        assert.equal(s.len[j], w.len, `length of packet ${s.first + j}`);
      }
  }
});
