/**
 * Interop with Hadoop's own SequenceFile code, using the local stack's Hadoop jars:
 *  - a file we write is read by Hadoop (`FsShell -text`, i.e. `hadoop fs -text`): same keys, same
 *    value bytes, through many sync escapes;
 *  - a file Hadoop writes (SequenceFile.Writer, Hadoop 3 sync cadence) is read by our reader;
 *  - pcap-inspector reads a file from HDFS through a webhdfs:// URL.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ensureStack, hadoopClasspath, uniqueName } from '../helpers/stack.js';
import { main as inspector } from '../../src/cli/inspector.js';
import { metronPcapValue } from '../../src/formats/pcap/pcap-record.js';
import { SequenceFileReader, SequenceFileWriter, type SeqRecord } from '../../src/formats/sequencefile/index.js';
import { SyntheticCapture } from '../support/synthetic.js';
import type { Endpoints } from '../../src/lib/endpoints.js';
import { SAMPLE_PATH } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'pcapline-interop-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let ep: Endpoints;
let classpath: string;
before(() => {
  ep = ensureStack();
  classpath = hadoopClasspath(ep.hadoopClasspath);
});

/** BytesWritable.toString(): lower-case hex bytes separated by single spaces. */
const hadoopHex = (b: Buffer): string => (b.toString('hex').match(/../g) ?? []).join(' ');

describe('Hadoop reads our SequenceFiles', () => {
  it('FsShell -text prints our keys and value bytes exactly, across many sync escapes', () => {
    const chunks: Buffer[] = [];
    const w = new SequenceFileWriter({ write: (c) => void chunks.push(c) });
    const g = new SyntheticCapture({ seed: 11, flows: 30 });
    const expected: Array<{ key: bigint; value: Buffer }> = [];
    let syncsBefore = 0;
    for (let i = 0; i < 400; i++) {
      const p = g.next();
      const before = w.position;
      if (i % 5 === 4) {
        // FROM_VALUE path: a value stored as is.
        const v = metronPcapValue(p.tsNs, p.frame);
        if (w.appendValue(p.tsNs, v) !== before) syncsBefore++;
        expected.push({ key: p.tsNs, value: v });
      } else {
        if (w.appendFrame(p.tsNs, p.frame) !== before) syncsBefore++;
        expected.push({ key: p.tsNs, value: metronPcapValue(p.tsNs, p.frame) });
      }
    }
    // A time >= 2^63 is stored with the same bits; Hadoop shows LongWritable as signed.
    const big = (1n << 63n) + 12345n;
    w.appendFrame(big, Buffer.alloc(60, 0xab));
    expected.push({ key: big - (1n << 64n), value: metronPcapValue(big, Buffer.alloc(60, 0xab)) });
    assert.ok(syncsBefore >= 20, `sync escapes written: ${syncsBefore}`);
    const file = join(dir, 'ours.seq');
    writeFileSync(file, Buffer.concat(chunks));

    const out = execFileSync('java', ['-cp', classpath, 'org.apache.hadoop.fs.FsShell', '-text', `file://${file}`], {
      maxBuffer: 1 << 28,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
    const lines = out.split('\n').filter((l) => l.length > 0);
    assert.equal(lines.length, expected.length);
    lines.forEach((line, i) => {
      const want = `${expected[i].key}\t${hadoopHex(expected[i].value)}`;
      assert.ok(line === want, `record ${i}:\n got  ${line.slice(0, 120)}...\n want ${want.slice(0, 120)}...`);
    });
  });
});

describe('we read Hadoop-written SequenceFiles', () => {
  it('SequenceFile.Writer output (Hadoop 3 sync cadence) reads back record for record', async () => {
    const src = join(dir, 'WriteSeq.java');
    writeFileSync(
      src,
      `import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.*;
public class WriteSeq {
  public static void main(String[] a) throws Exception {
    Configuration conf = new Configuration();
    int n = Integer.parseInt(a[1]);
    try (SequenceFile.Writer w = SequenceFile.createWriter(conf,
        SequenceFile.Writer.file(new Path("file://" + a[0])),
        SequenceFile.Writer.keyClass(LongWritable.class),
        SequenceFile.Writer.valueClass(BytesWritable.class),
        SequenceFile.Writer.compression(SequenceFile.CompressionType.NONE))) {
      for (int i = 0; i < n; i++) {
        byte[] v = new byte[40 + (i * 131) % 1400];
        for (int j = 0; j < v.length; j++) v[j] = (byte) (i + j * 7);
        w.append(new LongWritable(1700000000000000000L + i * 1000L), new BytesWritable(v));
      }
    }
  }
}
`,
    );
    const file = join(dir, 'hadoop.seq');
    execFileSync('java', ['-cp', classpath, src, file, '800'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = new SequenceFileReader(createReadStream(file));
    const recs: SeqRecord[] = [];
    for await (const rec of r) recs.push({ ...rec, value: Buffer.from(rec.value) });
    assert.equal(recs.length, 800);
    recs.forEach((rec, i) => {
      assert.equal(rec.key, 1700000000000000000n + BigInt(i) * 1000n);
      const len = 40 + ((i * 131) % 1400);
      assert.equal(rec.value.length, len);
      for (const j of [0, len - 1]) assert.equal(rec.value[j], (i + j * 7) & 255);
    });
    assert.ok(r.summary.syncs >= 3, `syncs read: ${r.summary.syncs}`);
    assert.equal(r.summary.torn, false);
  });
});

describe('pcap-inspector over webhdfs://', () => {
  it('prints the same lines for a file in HDFS as for the local copy', async () => {
    const { openStorage } = await import('../../src/storage/index.js');
    const storage = openStorage(ep.webhdfsUrl);
    const path = `/tmp/${uniqueName('inspector')}/PCAPExampleOutput`;
    try {
      await storage.mkdirs(path.slice(0, path.lastIndexOf('/')));
      const sample = execFileSync('cat', [SAMPLE_PATH]);
      await storage.create(path, sample);
      const run = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
        let out = '';
        let err = '';
        const o = new Writable({
          write(c, _e, cb) {
            out += c.toString();
            cb();
          },
        });
        const e = new Writable({
          write(c, _e, cb) {
            err += c.toString();
            cb();
          },
        });
        return { code: await inspector(args, o, e), out, err };
      };
      const remote = await run(['-i', `${ep.webhdfsUrl}${path}`]);
      const local = await run(['-i', SAMPLE_PATH]);
      assert.equal(remote.code, 0, remote.err);
      assert.equal(remote.out, local.out);
      assert.equal(remote.out.split('\n').filter(Boolean).length, 20);
      const missing = await run(['-i', `${ep.webhdfsUrl}${path}.nope`]);
      assert.equal(missing.code, 2);
      assert.equal(missing.err.split('\n').filter(Boolean).length, 1);
    } finally {
      await storage.delete(path.slice(0, path.lastIndexOf('/')), true).catch(() => undefined);
      await storage.close();
    }
  });
});
