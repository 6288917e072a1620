import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import {
  HADOOP2_SYNC_INTERVAL,
  SequenceFileError,
  SequenceFileReader,
  SequenceFileWriter,
  encodeHeader,
  isRecordProblem,
  parseHeader,
  parseRecordAt,
  recordLengthForFrame,
  recordLengthForValue,
  type SeqRecord,
} from '../../src/formats/sequencefile/index.js';
import { metronPcapValue, pcapValueTimeNs } from '../../src/formats/pcap/pcap-record.js';
import { SAMPLE_PATH } from '../helpers/fixtures.js';

const SAMPLE = SAMPLE_PATH;
const sample = readFileSync(SAMPLE);

/** Record offsets and ts_usec of the sample (metron-compat §9). */
const SAMPLE_OFFSETS = [
  94, 872, 994, 1564, 1814, 1936, 2078, 2328, 2450, 2604, 2726, 2880, 3002, 3156, 3278, 3592, 3810, 3932, 4202, 4388,
];
const SAMPLE_USEC = [
  373968, 412017, 414664, 417134, 419394, 423082, 425473, 429185, 431848, 462107, 594178, 596793, 598793, 600474,
  602212, 603972, 605660, 619717, 622385, 631498,
];
const SAMPLE_INCL = [722, 66, 514, 194, 66, 66, 194, 66, 98, 66, 98, 66, 98, 66, 258, 162, 66, 194, 130, 66];

/** Splits a buffer into chunks of `size` bytes, as an async iterable (exercises records across chunks). */
async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, Math.min(buf.length, i + size));
}

async function readAll(r: SequenceFileReader): Promise<SeqRecord[]> {
  const out: SeqRecord[] = [];
  for await (const rec of r) out.push(rec);
  return out;
}

/** Collects what a writer emits. */
function memorySink(): { write(c: Buffer): void; bytes(): Buffer; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  return { chunks, write: (c) => void chunks.push(c), bytes: () => Buffer.concat(chunks) };
}

const MARKER = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

describe('SequenceFile reader on Metron sample (metron-compat §9)', () => {
  it('reads the IntWritable header', async () => {
    const r = new SequenceFileReader(createReadStream(SAMPLE));
    const h = await r.header();
    assert.equal(h.keyType, 'int');
    assert.equal(h.keyClass, 'org.apache.hadoop.io.IntWritable');
    assert.equal(h.valueClass, 'org.apache.hadoop.io.BytesWritable');
    assert.equal(h.length, 94);
    assert.equal(h.syncMarker.toString('hex'), 'b13cdd2b5fc02f7782fc7c1f2b64f64e');
    await r.close();
  });

  it('reads 20 records at the documented offsets with times from the pcap headers', async () => {
    const r = new SequenceFileReader(createReadStream(SAMPLE));
    const recs = await readAll(r);
    assert.equal(recs.length, 20);
    assert.deepEqual(
      recs.map((x) => x.position),
      SAMPLE_OFFSETS,
    );
    assert.deepEqual(
      recs.map((x) => x.key),
      recs.map((_, i) => BigInt(i)),
    );
    assert.deepEqual(
      recs.map((x) => x.tsNs),
      SAMPLE_USEC.map((u) => 1458240269n * 1_000_000_000n + BigInt(u) * 1000n),
    );
    assert.deepEqual(
      recs.map((x) => x.value.length - 40),
      SAMPLE_INCL,
    );
    assert.deepEqual(r.summary, {
      records: 20,
      syncs: 2,
      torn: false,
      tornBytes: 0,
      validEnd: 4510,
      lastSyncEnd: 4202,
    });
  });

  it('gives the same records whatever the chunking (1, 7, 100 bytes)', async () => {
    const ref = (await readAll(new SequenceFileReader(createReadStream(SAMPLE)))).map((x) => [
      x.position,
      x.value.toString('hex'),
    ]);
    for (const size of [1, 7, 100]) {
      const got = (await readAll(new SequenceFileReader(chunks(sample, size)))).map((x) => [
        x.position,
        x.value.toString('hex'),
      ]);
      assert.deepEqual(got, ref, `chunk size ${size}`);
    }
  });

  it('parses single records at their positions (index-driven ranged reads)', () => {
    for (let i = 0; i < 20; i++) {
      const pos = SAMPLE_OFFSETS[i];
      const len = recordLengthForValue(40 + SAMPLE_INCL[i], 'int');
      const range = sample.subarray(pos, pos + len);
      const r = parseRecordAt(range, 0, 'int', { filePosition: pos });
      assert.ok(!isRecordProblem(r), `record ${i}`);
      assert.equal(r.record.position, pos);
      assert.equal(r.record.length, len);
      assert.equal(r.next, len);
      assert.equal(r.record.key, BigInt(i));
    }
  });

  it('walks the whole file with parseRecordAt, skipping and checking sync escapes', () => {
    const h = parseHeader(sample);
    assert.ok(!('need' in h));
    let p = h.length;
    let n = 0;
    let syncs = 0;
    while (p < sample.length) {
      const r = parseRecordAt(sample, p, 'int', { syncMarker: h.syncMarker });
      assert.ok(!isRecordProblem(r));
      if (r.afterSync) syncs++;
      assert.equal(r.record.position, SAMPLE_OFFSETS[n]);
      p = r.next;
      n++;
    }
    assert.equal(n, 20);
    assert.equal(syncs, 2);
    const wrong = parseRecordAt(sample, 2058, 'int', { syncMarker: MARKER });
    assert.ok(isRecordProblem(wrong) && wrong.problem === 'bad-sync');
  });
});

describe('SequenceFile writer', () => {
  it('writes the 95-byte LongWritable/BytesWritable header', () => {
    const sink = memorySink();
    const w = new SequenceFileWriter(sink, { syncMarker: MARKER });
    const h = sink.bytes();
    assert.equal(h.length, 95);
    assert.equal(w.position, 95);
    assert.deepEqual(h, encodeHeader(MARKER));
    assert.deepEqual(w.header(), h);
    assert.equal(h.subarray(0, 4).toString('hex'), '53455106');
    assert.equal(h[4], 0x21);
    assert.equal(h.subarray(5, 38).toString(), 'org.apache.hadoop.io.LongWritable');
    assert.equal(h[38], 0x22);
    assert.equal(h.subarray(39, 73).toString(), 'org.apache.hadoop.io.BytesWritable');
    assert.equal(h.subarray(73, 79).toString('hex'), '000000000000');
    assert.deepEqual(h.subarray(79), MARKER);
  });

  it('re-ingest vector (metron-compat §9): frames with ns keys give values byte-identical to the sample', async () => {
    const values = (await readAll(new SequenceFileReader(createReadStream(SAMPLE)))).map((r) => Buffer.from(r.value));
    const sink = memorySink();
    const w = new SequenceFileWriter(sink, { syncMarker: MARKER });
    const positions: number[] = [];
    for (const v of values) positions.push(w.appendFrame(pcapValueTimeNs(v)!, v.subarray(40)));
    const file = sink.bytes();
    assert.equal(file.length, w.position);
    assert.equal(w.records, 20);
    const recs = await readAll(new SequenceFileReader(chunks(file, 333)));
    assert.equal(recs.length, 20);
    recs.forEach((r, i) => {
      assert.equal(r.position, positions[i]);
      assert.deepEqual(r.value, values[i]);
      assert.equal(r.key, pcapValueTimeNs(values[i]));
      assert.equal(r.tsNs, r.key);
    });
  });

  it('emits sync escapes with Hadoop 2 cadence (position >= lastSync + 2000, lastSync from 0)', () => {
    const sink = memorySink();
    const w = new SequenceFileWriter(sink, { syncMarker: MARKER });
    const frames = Array.from({ length: 300 }, (_, i) => Buffer.alloc(60 + ((i * 37) % 1400), i & 255));
    const positions = frames.map((f, i) => w.appendFrame(1_700_000_000_000_000_000n + BigInt(i), f));
    const file = sink.bytes();
    // Independent model of Hadoop's checkAndWriteSync.
    let pos = 95;
    let lastSync = 0;
    const expectSyncs: number[] = [];
    frames.forEach((f, i) => {
      if (pos >= lastSync + HADOOP2_SYNC_INTERVAL) {
        expectSyncs.push(pos);
        pos += 20;
        lastSync = pos;
      }
      assert.equal(positions[i], pos, `record ${i}`);
      pos += recordLengthForFrame(f.length);
    });
    assert.ok(expectSyncs.length > 50);
    for (const s of expectSyncs) {
      assert.equal(file.readInt32BE(s), -1);
      assert.deepEqual(file.subarray(s + 4, s + 20), MARKER);
    }
    assert.equal(file.length, pos);
  });

  it('returns positions so that [position, position+recordLength) is exactly one record', () => {
    const sink = memorySink();
    const w = new SequenceFileWriter(sink);
    const items: Array<{ pos: number; len: number; ts: bigint; value: Buffer }> = [];
    for (let i = 0; i < 200; i++) {
      const ts = 1_600_000_000_123_456_789n + BigInt(i) * 1000n;
      if (i % 3 === 0) {
        const value = metronPcapValue(ts, Buffer.alloc(100 + i, 7));
        items.push({ pos: w.appendValue(ts, value), len: recordLengthForValue(value.length), ts, value });
      } else {
        const frame = Buffer.alloc(64 + i * 5, i);
        items.push({
          pos: w.appendFrame(ts, frame),
          len: recordLengthForFrame(frame.length),
          ts,
          value: metronPcapValue(ts, frame),
        });
      }
    }
    const file = sink.bytes();
    for (const it of items) {
      const r = parseRecordAt(file.subarray(it.pos, it.pos + it.len), 0, 'long', { filePosition: it.pos });
      assert.ok(!isRecordProblem(r));
      assert.equal(r.afterSync, false);
      assert.equal(r.next, it.len);
      assert.equal(r.record.key, it.ts);
      assert.deepEqual(r.record.value, it.value);
    }
  });

  it('passes frame and value buffers through without copying, and never reuses header chunks', () => {
    const sink = memorySink();
    const w = new SequenceFileWriter(sink);
    const frame = Buffer.alloc(100, 1);
    w.appendFrame(1n, frame);
    assert.equal(sink.chunks[sink.chunks.length - 1], frame);
    const hdr1 = Buffer.from(sink.chunks[1]);
    for (let i = 0; i < 3000; i++) w.appendFrame(BigInt(i + 2), frame);
    assert.deepEqual(sink.chunks[1], hdr1, 'first header chunk unchanged after many appends');
  });

  it('stores keys >= 2^63 with the same bits (they read back as negative signed longs, unsigned tsNs)', async () => {
    const sink = memorySink();
    const w = new SequenceFileWriter(sink);
    const big = (1n << 63n) + 5n;
    w.appendFrame(big, Buffer.alloc(60));
    const [rec] = await readAll(new SequenceFileReader(chunks(sink.bytes(), 4096)));
    assert.equal(rec.key, -(1n << 63n) + 5n);
    assert.equal(rec.tsNs, big);
  });

  it('resumes a file: writer state from a reader summary continues the same cadence', async () => {
    const frames = Array.from({ length: 100 }, (_, i) => Buffer.alloc(70 + i * 11, i));
    const one = memorySink();
    const w1 = new SequenceFileWriter(one, { syncMarker: MARKER });
    for (const [i, f] of frames.entries()) w1.appendFrame(BigInt(i + 1), f);

    const a = memorySink();
    const wa = new SequenceFileWriter(a, { syncMarker: MARKER });
    for (const [i, f] of frames.slice(0, 40).entries()) wa.appendFrame(BigInt(i + 1), f);
    const r = new SequenceFileReader(chunks(a.bytes(), 1000));
    await readAll(r);
    const h = await r.header();
    const b = memorySink();
    const wb = new SequenceFileWriter(b, {
      syncMarker: h.syncMarker,
      resume: { position: r.summary.validEnd, lastSyncPosition: r.summary.lastSyncEnd },
    });
    assert.equal(b.chunks.length, 0, 'no header when resuming');
    for (const [i, f] of frames.slice(40).entries()) wb.appendFrame(BigInt(i + 41), f);
    assert.deepEqual(Buffer.concat([a.bytes(), b.bytes()]), one.bytes());
  });
});

describe('SequenceFile reader: torn and corrupt files', () => {
  const sink = memorySink();
  const w = new SequenceFileWriter(sink, { syncMarker: MARKER });
  const ends: number[] = [];
  const boundaries = new Set<number>([95]);
  for (let i = 0; i < 30; i++) {
    const before = w.position;
    const pos = w.appendFrame(BigInt(i + 1) * 1_000_000_000n, Buffer.alloc(40 + ((i * 53) % 300), i));
    if (pos !== before) boundaries.add(pos); // just after a sync escape
    ends.push(w.position);
    boundaries.add(w.position);
  }
  const file = sink.bytes();

  it('stops cleanly at every possible cut, reporting the torn tail', async () => {
    for (let cut = 95; cut <= file.length; cut++) {
      const r = new SequenceFileReader(chunks(file.subarray(0, cut), 512));
      const recs = await readAll(r);
      const complete = ends.filter((e) => e <= cut).length;
      assert.equal(recs.length, complete, `cut ${cut}`);
      const validEnd = complete === 0 ? 95 : ends[complete - 1];
      assert.equal(r.summary.validEnd, validEnd, `cut ${cut}`);
      assert.equal(r.summary.torn, !boundaries.has(cut), `cut ${cut}`);
      if (r.summary.torn) assert.ok(r.summary.tornBytes > 0 && r.summary.tornBytes <= cut - validEnd);
    }
  });

  it("throws on a torn record with onTorn: 'error'", async () => {
    const r = new SequenceFileReader(chunks(file.subarray(0, file.length - 3), 512), { onTorn: 'error' });
    await assert.rejects(readAll(r), (e: unknown) => e instanceof SequenceFileError && e.reason === 'truncated-record');
  });

  it('rejects a wrong sync marker as corruption, with its position', async () => {
    const bad = Buffer.from(file);
    const s = bad.indexOf(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), MARKER]), 95);
    assert.ok(s > 0);
    bad[s + 10] ^= 0xff;
    await assert.rejects(
      readAll(new SequenceFileReader(chunks(bad, 700))),
      (e: unknown) => e instanceof SequenceFileError && e.reason === 'bad-sync' && e.position === s,
    );
  });

  it('rejects absurd record lengths and mismatched key/value lengths', async () => {
    const a = Buffer.from(file);
    a.writeInt32BE(-7, 95);
    await assert.rejects(
      readAll(new SequenceFileReader(chunks(a, 700))),
      (e: unknown) => e instanceof SequenceFileError && e.reason === 'bad-record-length',
    );
    const b = Buffer.from(file);
    b.writeInt32BE(4, 99);
    await assert.rejects(
      readAll(new SequenceFileReader(chunks(b, 700))),
      (e: unknown) => e instanceof SequenceFileError && e.reason === 'bad-key-length',
    );
    const c = Buffer.from(file);
    c.writeInt32BE(c.readInt32BE(111) + 1, 111);
    await assert.rejects(
      readAll(new SequenceFileReader(chunks(c, 700))),
      (e: unknown) => e instanceof SequenceFileError && e.reason === 'bad-value-length',
    );
  });

  it('rejects non-SequenceFiles and unsupported variants clearly', async () => {
    const cases: Array<[Buffer, string]> = [
      [Buffer.from('PK\x03\x04 not a sequence file at all'), 'bad-magic'],
      [Buffer.from('SEQ'), 'truncated-header'],
      [file.subarray(0, 60), 'truncated-header'],
      [Buffer.concat([Buffer.from('SEQ\x05'), file.subarray(4)]), 'unsupported-version'],
      [Buffer.concat([file.subarray(0, 73), Buffer.from([1]), file.subarray(74)]), 'compressed'],
      [Buffer.concat([Buffer.from('SEQ\x06\x04TextX'), file.subarray(38)]), 'unsupported-key-class'],
    ];
    for (const [bytes, code] of cases) {
      await assert.rejects(
        readAll(new SequenceFileReader(chunks(bytes, 10))),
        (e: unknown) => e instanceof SequenceFileError && e.reason === code,
        code,
      );
    }
  });

  it('reads from a Node Readable and can stop early (close releases the stream)', async () => {
    const stream = Readable.from(chunks(file, 4096));
    const r = new SequenceFileReader(stream);
    let n = 0;
    for await (const _ of r) if (++n === 3) break;
    assert.equal(n, 3);
    assert.ok(stream.destroyed);
  });
});
