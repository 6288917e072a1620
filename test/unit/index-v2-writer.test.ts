/**
 * The v2 index writer's seal-time shortcuts: times taken from their 32-bit halves, term ids from a
 * table, deflate tried only where it has been paying, sketches handed to the catalog. Each must
 * leave what a reader decodes exactly as written.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IndexBuilder } from '../../src/formats/index/packet-index.js';
import { decodeIndex } from '../../src/formats/index/packet-index-reader.js';
import { bufferSource, IndexV2 } from '../../src/formats/index/v2/reader.js';
import { DeflateTrials } from '../../src/formats/index/v2/writer.js';
import { summaryOf } from '../support/index-summary.js';

async function encode(b: IndexBuilder): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of b.encode(summaryOf(b, 1 << 30))) parts.push(c);
  return Buffer.concat(parts);
}

test('times across 32-bit word boundaries, out of order and in ns, and edge field values decode exactly', async () => {
  const b = new IndexBuilder(16);
  // The earliest time's low word is near 2^32: offsets borrow from the high word.
  const base = 1_700_000_000n * 1_000_000_000n + 0xfffffff0n;
  const times = [base + 5n, base, base + 0x1_0000_0000n + 3n, base + 17n, base + 2n ** 40n + 999n, base + 1n];
  const ports = [-1, 0, 65535, 80, 443, 65535];
  const protocols = [-1, 6, 17, 1, 255, 6];
  const vlans = [-1, 0, 4095, 7, -1, 100];
  const addrs: (string | null)[] = ['10.0.0.1', null, '2001:db8::1', '192.168.1.1', '10.0.0.1', 'fe80::1'];
  let pos = 100;
  for (let i = 0; i < times.length; i++) {
    b.add(
      times[i],
      pos,
      60 + i,
      protocols[i],
      addrs[i],
      addrs[(i + 1) % addrs.length],
      ports[i],
      ports[5 - i],
      vlans[i],
    );
    pos += 60 + i;
  }
  const d = await decodeIndex(await encode(b));
  assert.equal(d.summary.timeOrdered, false);
  assert.equal(d.columns.count, times.length);
  for (let i = 0; i < times.length; i++) {
    assert.equal(d.columns.ts[i], times[i], `time ${i}`);
    assert.equal(d.columns.srcPort[i], ports[i]);
    assert.equal(d.columns.dstPort[i], ports[5 - i]);
    assert.equal(d.columns.protocol[i], protocols[i]);
    assert.equal(d.columns.vlan[i], vlans[i]);
    assert.equal(d.columns.src[i] < 0 ? null : d.addresses[d.columns.src[i]], addrs[i]);
  }
});

test('the sketches the builder hands over are the ones stored in the index', async () => {
  const b = new IndexBuilder(64);
  for (let i = 0; i < 64; i++)
    b.add(1_000_000n + BigInt(i), i * 100, 100, 6, `10.0.0.${i % 7}`, '10.1.1.1', 1000 + i, 80, -1);
  const file = await encode(b);
  const stored = await (await IndexV2.open(bufferSource(file), file)).sketches();
  assert.ok(b.sketches);
  assert.deepEqual([...b.sketches.keys()].sort(), [...stored.keys()].sort());
  for (const [field, f] of stored) {
    assert.equal(b.sketches.get(field)!.hashes, f.hashes);
    assert.deepEqual([...b.sketches.get(field)!.bits], [...f.bits], field);
  }
});

test('deflate trials: after a run of misses only every EVERYth piece (and any large one) is tried; a hit resets', () => {
  const t = new DeflateTrials();
  for (let i = 0; i < DeflateTrials.MISSES; i++) {
    assert.ok(t.worthTrying(500));
    t.record(false);
  }
  const tried = Array.from({ length: DeflateTrials.EVERY * 2 }, () => t.worthTrying(500)).filter(Boolean).length;
  assert.equal(tried, 2);
  assert.ok(t.worthTrying(DeflateTrials.ALWAYS), 'a large piece is always tried');
  t.record(true);
  assert.ok(t.worthTrying(500), 'tried again after a hit');
});

test('column chunks that compress are still deflated (equal lengths at a fixed interval)', async () => {
  const b = new IndexBuilder(50_000);
  for (let i = 0; i < 50_000; i++)
    b.add(1_000_000_000n + BigInt(i) * 1000n, i * 1514, 1514, 6, '10.0.0.1', '10.0.0.2', 40000, 443, -1);
  const file = await encode(b);
  // Raw, each packet's column entry is at least two bytes (time delta and length).
  assert.ok(file.length < 50_000, `index of ${file.length} bytes for 50,000 packets`);
  const d = await decodeIndex(file);
  assert.equal(d.columns.ts[49_999], 1_000_000_000n + 49_999n * 1000n);
});
