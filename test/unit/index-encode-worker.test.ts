/**
 * The sink's index encoder on a worker thread: it must write exactly the bytes the ingest thread
 * would, hand back the same sketches, and turn every way the thread can fail into an error the seal
 * fails with (the partition then recovers and reads the records again), never a hang or a file
 * sealed without its index.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { BloomFilter } from '../../src/formats/index/bloom.js';
import { IndexBuilder } from '../../src/formats/index/packet-index.js';
import type { IndexSummary } from '../../src/formats/index/packet-index-format.js';
import { decodeIndex } from '../../src/formats/index/packet-index-reader.js';
import { encodeIndexV2 } from '../../src/formats/index/v2/writer.js';
import type { IndexEncoder } from '../../src/sink/index-encoding/index-encoder.js';
import { transferablePieces } from '../../src/sink/index-encoding/encode-job.js';
import { IndexEncodeError, WorkerIndexEncoder } from '../../src/sink/index-encoding/worker-encoder.js';
import { SinkLayout } from '../../src/sink/layout.js';
import { Ledger } from '../../src/sink/ledger.js';
import { PartitionSink } from '../../src/sink/partition-sink.js';
import { RecordEncoder } from '../../src/sink/record-encoder.js';
import { openStorage } from '../../src/storage/index.js';
import type { WriteBody } from '../../src/storage/types.js';
import { SyntheticCapture } from '../support/synthetic.js';

const MISBEHAVING = new URL('../helpers/index-encode-worker-misbehaving.ts', import.meta.url);

/** A builder of `n` packets of synthetic traffic (IPv4 and IPv6, VLANs, ICMP), some without addresses, some in ns. */
function builder(n: number, seed: number): IndexBuilder {
  const b = new IndexBuilder(Math.max(16, n >> 2)); // grows past its capacity, as large files do
  const gen = new SyntheticCapture({ seed, flows: 200, ipv6Share: 0.3, vlanShare: 0.2, icmpShare: 0.1 });
  let pos = 134;
  for (let i = 0; i < n; i++) {
    const p = gen.next();
    const f = p.flow;
    const len = p.frame.length + 60;
    const noAddress = i % 97 === 5;
    b.add(
      i % 13 === 0 ? p.tsNs + BigInt(i % 1000) : p.tsNs,
      pos,
      len,
      noAddress ? -1 : f.protocol,
      noAddress ? null : p.reverse ? f.dstAddr : f.srcAddr,
      noAddress ? null : p.reverse ? f.srcAddr : f.dstAddr,
      p.reverse ? f.dstPort : f.srcPort,
      p.reverse ? f.srcPort : f.dstPort,
      f.vlan,
    );
    pos += len + (i % 40 === 39 ? 20 : 0); // a sync escape now and then
  }
  return b;
}

const summaryOf = (b: IndexBuilder, name = 'pcap_t_1_0_x'): IndexSummary => ({
  version: 2,
  dataFile: name,
  topic: 't',
  partition: 0,
  firstOffset: '0',
  lastOffset: String(Math.max(0, b.count - 1)),
  minTsNs: b.minTsNs.toString(),
  maxTsNs: b.maxTsNs.toString(),
  count: b.count,
  dataLength: 1 << 30,
});

async function bytesOf(body: WriteBody): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const parts: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

const sketchBits = (m: Map<string, BloomFilter> | null) =>
  [...(m ?? [])].map(([name, f]) => [name, f.hashes, Buffer.from(f.bits).toString('hex')]);

describe('index encoding on a worker thread', () => {
  it('writes byte for byte what the ingest thread writes, with the same sketches', async () => {
    const sync = randomBytes(16);
    const encoder = new WorkerIndexEncoder({ deterministicSync: sync });
    try {
      for (const [n, seed] of [
        [0, 1],
        [1, 2],
        [3000, 3],
        [40_000, 4],
      ]) {
        const here = builder(n, seed);
        const out: { sketches?: Map<string, BloomFilter> } = {};
        const expected = Buffer.concat(
          encodeIndexV2(here.columns, here.addresses, summaryOf(here), out, { sync, trials: new Map() }),
        );
        const there = builder(n, seed);
        const got = await bytesOf(await encoder.encode(there, summaryOf(there)));
        assert.equal(got.length, expected.length, `${n} packets: length`);
        assert.ok(got.equals(expected), `${n} packets: the same bytes`);
        assert.deepEqual(sketchBits(there.sketches), sketchBits(out.sketches ?? null), `${n} packets: sketches`);
        // Handed over, not copied: the builder's columns now belong to the worker.
        if (n > 0) assert.equal(there.columns.ts.length, 0, 'the columns were transferred');
        const decoded = await decodeIndex(got);
        assert.equal(decoded.summary.count, n);
        for (let i = 0; i < n; i += 997) assert.equal(decoded.columns.ts[i], here.columns.ts[i], `time ${i}`);
      }
    } finally {
      await encoder.close();
    }
  });

  it('an encoding error in the worker rejects that file only', async () => {
    const encoder = new WorkerIndexEncoder({ deterministicSync: new Uint8Array(3) }); // a sync marker must be 16 bytes
    try {
      await assert.rejects(encoder.encode(builder(10, 5), summaryOf(builder(10, 5))), (err: unknown) => {
        assert.ok(err instanceof IndexEncodeError);
        assert.equal(err.code, 'PCAPLINE_INDEX_ENCODE');
        assert.match(err.message, /sync must be 16 bytes/);
        return true;
      });
    } finally {
      await encoder.close();
    }
  });

  for (const how of ['throw', 'exit'] as const) {
    it(`a worker that dies (${how}) fails every file it held, and the next file gets a new worker`, async () => {
      const encoder = new WorkerIndexEncoder({ entry: MISBEHAVING });
      try {
        const fine = builder(500, 6);
        const before = encoder.encode(fine, summaryOf(fine, 'before'));
        const dying = builder(500, 7);
        const crash = encoder.encode(dying, summaryOf(dying, how));
        const queued = builder(500, 8);
        const behind = encoder.encode(queued, summaryOf(queued, 'behind'));
        assert.equal((await decodeIndex(await bytesOf(await before))).summary.count, 500);
        await assert.rejects(crash, IndexEncodeError);
        await assert.rejects(behind, IndexEncodeError, 'a file queued behind the crash fails too');
        assert.equal(encoder.inFlight, 0);
        const next = builder(700, 9);
        const body = await bytesOf(await encoder.encode(next, summaryOf(next, 'after')));
        assert.equal((await decodeIndex(body)).summary.count, 700);
      } finally {
        await encoder.close();
      }
    });
  }

  it('closing fails what it still held instead of leaving the seal waiting', async () => {
    const encoder = new WorkerIndexEncoder({ entry: MISBEHAVING });
    const b = builder(10, 10);
    const hung = encoder.encode(b, summaryOf(b, 'hang'));
    const failed = assert.rejects(hung, IndexEncodeError);
    await new Promise((r) => setTimeout(r, 50));
    await encoder.close();
    await failed;
    await assert.rejects(encoder.encode(builder(5, 11), summaryOf(builder(5, 11))), IndexEncodeError);
  });
});

describe('the encoded file handed back in pieces', () => {
  it('keeps every byte in order; large parts owning their buffer go as they are, small or shared ones are copied', () => {
    const slab = new Uint8Array(300_000).map((_, i) => i % 251);
    const own = new Uint8Array(100_000).fill(7);
    const parts = [
      Buffer.from('header'),
      slab.subarray(0, 10),
      own,
      slab.subarray(10, 90_010), // large but a slice of a shared buffer: copied
      Buffer.from([1, 2, 3]),
      new Uint8Array(70_000).fill(9),
    ];
    const pieces = transferablePieces(parts);
    assert.ok(
      Buffer.concat(pieces).equals(Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.length)))),
    );
    assert.equal(pieces.length, 4);
    assert.equal(pieces[1], own, 'an owned large part is not copied');
    assert.ok(
      pieces.every((p) => p.byteOffset === 0 && p.byteLength === p.buffer.byteLength),
      'all transferable',
    );
    assert.ok(!pieces.some((p) => p.buffer === slab.buffer), 'the shared slab is never handed over');
    assert.deepEqual(transferablePieces([]), []);
  });
});

describe('a seal whose index thread crashes', () => {
  const dirs: string[] = [];
  after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('fails like an encoding error: nothing claimed, published or committed; the next seal succeeds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pcapline-index-worker-'));
    dirs.push(dir);
    const storage = openStorage(`file://${dir}`);
    const layout = new SinkLayout('/out');
    const ledger = new Ledger(storage, layout);
    const commits: bigint[] = [];
    const sealed: string[] = [];
    const crashing = new WorkerIndexEncoder({ entry: MISBEHAVING });
    const working = new WorkerIndexEncoder();
    // First the stand-in worker, told to exit on this file; then a working one.
    let encoder: IndexEncoder = {
      encode: (index, summary) => crashing.encode(index, { ...summary, dataFile: 'exit' }),
    };
    const sink = new PartitionSink({
      storage,
      layout,
      ledger,
      topic: 't',
      partition: 0,
      instanceId: 'test',
      policy: { numPackets: 1000, maxTimeNs: 0n },
      chunkBytes: 1 << 16,
      replication: 1,
      commit: async (o) => void commits.push(o),
      onSealed: (f) => void sealed.push(f.dataPath),
      beforeCommit: async () => {},
      indexEncoder: { encode: (index, summary) => encoder.encode(index, summary) },
    });
    const records = new RecordEncoder('FROM_KEY', 'MICROSECONDS');
    const gen = new SyntheticCapture({ seed: 12 });
    const fill = async (from: bigint, n: number) => {
      for (let i = 0; i < n; i++) {
        const p = gen.next();
        const key = Buffer.alloc(8);
        key.writeBigUInt64BE(p.tsNs / 1000n);
        assert.equal(records.check(key, p.frame), null);
        const offset = from + BigInt(i);
        records.append(await sink.fileFor(offset, records.tsNs));
        await sink.appended(offset);
      }
    };
    try {
      sink.begin(1n, 0n, null);
      await fill(0n, 300);
      await assert.rejects(sink.seal(), IndexEncodeError);
      assert.deepEqual(commits, []);
      assert.deepEqual(sealed, []);
      const files = (await readdir(join(dir, 'out'), { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name));
      assert.deepEqual(
        files.filter((f) => /\.(seq|idx|avro)$/.test(f) || !f.includes('_ledger')),
        [],
        'no data, in-progress or index file left',
      );
      assert.deepEqual((await ledger.names('t', 0)).markers, [], 'no claim made');
      // Recovery would begin a new epoch at the committed offset and read the records again.
      encoder = working;
      sink.begin(2n, 0n, null);
      await fill(0n, 300);
      const file = await sink.seal();
      assert.ok(file);
      assert.deepEqual(commits, [300n]);
      assert.equal(file.count, 300);
      assert.ok(file.sketches && file.sketches.size > 0, 'sketches came back from the worker');
      const index = await decodeIndex(await storage.readBuffer(file.indexPath));
      assert.equal(index.summary.count, 300);
    } finally {
      await crashing.close();
      await working.close();
    }
  });
});
