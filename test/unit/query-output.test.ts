import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { metronPcapValue } from '../../src/formats/pcap/pcap-record.js';
import type { MatchedPacket } from '../../src/query/engine/engine.js';
import { prepareOutputDir, writePages, writeStream } from '../../src/query/engine/output.js';
import { QueryError } from '../../src/query/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pcapline-output-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A packet with the given link type (the value's global header says the same). */
function packet(i: number, linkType: number): MatchedPacket {
  const value = metronPcapValue(1_700_000_000_000_000_000n + BigInt(i) * 1000n, Buffer.alloc(60, i));
  value.writeUInt32LE(linkType, 20);
  return {
    tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1000n,
    value,
    frameOffset: 40,
    frameLength: 60,
    origLength: 60,
    linkType,
    file: 'f',
  };
}

async function* from(ps: MatchedPacket[]): AsyncGenerator<MatchedPacket> {
  yield* ps;
}

test('pages of an earlier run with the same prefix are refused, or deleted with --clean', async () => {
  const out = join(dir, 'pages');
  await writePages(from([packet(1, 1), packet(2, 1), packet(3, 1)]), out, 'run', 2);
  assert.deepEqual(readdirSync(out).sort(), ['pcap-data-run+0001.pcap', 'pcap-data-run+0002.pcap']);
  await assert.rejects(
    prepareOutputDir(out, 'run', false),
    (e: unknown) => e instanceof QueryError && /--clean/.test(e.message),
  );
  writeFileSync(join(out, '.pcap-data-run+0003.pcap.part'), 'x');
  writeFileSync(join(out, 'pcap-data-other+0001.pcap'), 'x');
  assert.equal(await prepareOutputDir(out, 'run', true), 3);
  assert.deepEqual(readdirSync(out), ['pcap-data-other+0001.pcap'], 'only this prefix is deleted');
  assert.equal(await prepareOutputDir(out, 'run', false), 0);
});

test('a page holds one link type: a packet of another type starts a new page', async () => {
  const out = join(dir, 'links');
  const r = await writePages(
    from([packet(1, 1), packet(2, 1), packet(3, 101), packet(4, 101), packet(5, 1)]),
    out,
    'l',
    10,
  );
  assert.equal(r.packets, 5);
  const pages = readdirSync(out).sort();
  assert.deepEqual(pages, ['pcap-data-l+0001.pcap', 'pcap-data-l+0002.pcap', 'pcap-data-l+0003.pcap']);
  const linkOf = (n: string) => readFileSync(join(out, n)).readUInt32LE(20);
  assert.deepEqual(pages.map(linkOf), [1, 101, 1]);
});

test('a stream keeps its first link type and counts the packets it leaves out', async () => {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const r = await writeStream(from([packet(1, 1), packet(2, 101), packet(3, 1)]), sink);
  assert.equal(r.packets, 2);
  assert.equal(r.otherLinkTypes, 1);
  assert.equal(Buffer.concat(chunks).readUInt32LE(20), 1);
});
