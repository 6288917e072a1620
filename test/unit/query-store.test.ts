/**
 * The query engine end to end on small local stores (no Kafka): index v2 postings, v1 indexes,
 * scans and catalog planning must return the same packets; the catalog finds files it was never
 * told about (a crash between publish and the catalog write) and skips files its sketches rule out;
 * pcap-reindex brings v1 and index-less files to v2; many overlapping files share one budget.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main as reindexMain } from '../../src/cli/pcap-reindex.js';
import { CatalogHook, compactBucket, listBucket, readStoreFacts } from '../../src/catalog/catalog-writer.js';
import { storeIsFullyIndexed } from '../../src/catalog/completeness.js';
import { rebuildCatalog } from '../../src/catalog/reindex.js';
import { QueryEngine, type MatchedPacket } from '../../src/query/engine/engine.js';
import { compileFixedFilter, type FixedFilterSpec } from '../../src/query/filter/fixed-filter.js';
import { compileQuery } from '../../src/query/filter/expr/compile.js';
import type { PacketFilter } from '../../src/query/filter/filter.js';
import { LocalStorage } from '../../src/storage/local.js';
import { listDataFiles } from '../../src/query/engine/listing.js';
import { evaluateTermPlan } from '../../src/query/engine/postings.js';
import { IndexV2 } from '../../src/formats/index/v2/reader.js';
import { SyntheticCapture, type SyntheticFlow } from '../support/synthetic.js';
import { type StorePacket, writeStoreFile } from '../support/store-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'pcapline-query-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const storage = new LocalStorage(`file://${dir}`);

const gen = new SyntheticCapture({ seed: 3, flows: 60, rate: 2000 });
const all: StorePacket[] = [];
const perFlow = new Map<number, number>();
for (let i = 0; i < 24_000; i++) {
  const p = gen.next();
  all.push({ tsNs: p.tsNs, frame: p.frame });
  perFlow.set(p.flow.id, (perFlow.get(p.flow.id) ?? 0) + 1);
}
const flows: readonly SyntheticFlow[] = gen.flows;
const first = all[0].tsNs;
const last = all[all.length - 1].tsNs;

/** Packets split over 2 partitions × 4 files each (time-overlapping across partitions). */
async function writeStore(root: string, index: 'v1' | 'v2' | 'none' | 'mixed'): Promise<void> {
  for (let part = 0; part < 2; part++) {
    const mine = all.filter((_, i) => i % 2 === part);
    for (let f = 0; f < 4; f++) {
      const slice = mine.slice(f * 3000, (f + 1) * 3000);
      const kind = index === 'mixed' ? (['v1', 'v2', 'none', 'v2'] as const)[f] : index;
      await writeStoreFile(root, slice, { partition: part, index: kind, firstOffset: f * 3000 });
    }
  }
}

async function query(
  root: string,
  filter: PacketFilter,
  o: { useIndex?: boolean; useCatalog?: boolean; memoryBytes?: number; startNs?: bigint; endNs?: bigint } = {},
): Promise<{ packets: MatchedPacket[]; engine: QueryEngine }> {
  const engine = new QueryEngine(storage, {
    basePath: root,
    startNs: o.startNs ?? first,
    endNs: o.endNs ?? last,
    filter,
    useIndex: o.useIndex ?? true,
    useCatalog: o.useCatalog,
    concurrency: 4,
    memoryBytes: o.memoryBytes,
  });
  const packets: MatchedPacket[] = [];
  for await (const p of engine.run()) packets.push({ ...p, value: Buffer.from(p.value) });
  return { packets, engine };
}

const key = (ps: MatchedPacket[]) => ps.map((p) => `${p.tsNs}:${p.value.toString('base64')}`);

// A small flow (a few dozen packets among 24,000).
const flow = flows
  .filter((f) => f.ipVersion === 4 && f.protocol === 6 && (perFlow.get(f.id) ?? 0) >= 20)
  .sort((a, b) => (perFlow.get(a.id) ?? 0) - (perFlow.get(b.id) ?? 0))[0];
const filters: [string, () => PacketFilter][] = [
  [
    'one flow both ways (fixed 5-tuple -ir)',
    () =>
      compileFixedFilter({
        srcAddr: flow.srcAddr,
        dstAddr: flow.dstAddr,
        srcPort: flow.srcPort,
        dstPort: flow.dstPort,
        protocol: 'tcp',
        includeReverse: true,
      } satisfies FixedFilterSpec),
  ],
  ['a CIDR and a port range', () => compileFixedFilter({ srcAddr: '10.0.0.0/9', dstPort: '20-500' })],
  ['udp to 53 or 123 (expression)', () => compileQuery('protocol == 17 and ip_dst_port in [53, 123]')],
  ['not tcp, with a vlan', () => compileQuery('not (protocol == 6) and vlan != null')],
  ['IPv6 link-local by text', () => compileQuery("STARTS_WITH(ip_src_addr, 'fe80:') or ip_dst_port < 100")],
  ['bytes and fields (unknown to the index)', () => compileQuery("protocol == 6 and BYTEARRAY_MATCHER('00', packet)")],
  ['everything', () => compileQuery('')],
];

describe('engine on a local store', () => {
  const root = '/v2';
  before(async () => {
    await writeStore(join(dir, 'v2'), 'v2');
    await writeStore(join(dir, 'v1'), 'v1');
    await writeStore(join(dir, 'mixed'), 'mixed');
  });

  for (const [name, make] of filters) {
    test(`${name}: v2 postings = v1 entries = mixed = scan, in time order`, async () => {
      const filter = make();
      const v2 = await query(root, filter);
      const scan = await query(root, filter, { useIndex: false });
      const v1 = await query('/v1', filter);
      const mixed = await query('/mixed', filter);
      assert.ok(scan.packets.length > 0, 'the filter selects something');
      assert.deepEqual(key(v2.packets), key(scan.packets));
      assert.deepEqual(key(v1.packets), key(scan.packets));
      assert.deepEqual(key(mixed.packets), key(scan.packets));
      for (let i = 1; i < v2.packets.length; i++) assert.ok(v2.packets[i - 1].tsNs <= v2.packets[i].tsNs);
      assert.equal(v2.engine.stats.filesScanned, 0);
      assert.deepEqual(v2.engine.stats.problems, []);
    });
  }

  test('a window inside files: only window packets, v2 = scan', async () => {
    const span = last - first;
    const o = { startNs: first + span / 3n, endNs: first + span / 2n };
    const filter = compileQuery('protocol == 6');
    const v2 = await query(root, filter, o);
    const scan = await query(root, filter, { ...o, useIndex: false });
    assert.ok(v2.packets.length > 0);
    assert.deepEqual(key(v2.packets), key(scan.packets));
    assert.ok(v2.packets.every((p) => p.tsNs >= o.startNs && p.tsNs <= o.endNs));
  });

  test('the one-flow query reads a small part of the store', async () => {
    const v2 = await query(root, filters[0][1]());
    const scan = await query(root, filters[0][1](), { useIndex: false });
    assert.ok(
      v2.engine.stats.bytesRead * 5 < scan.engine.stats.bytesRead,
      `${v2.engine.stats.bytesRead} vs ${scan.engine.stats.bytesRead}`,
    );
  });

  test('the one-flow query both ways reads the flow dictionary and postings of a file, not the protocol one', async () => {
    const files = await listDataFiles(storage, root, true);
    const indexPath = files.indexes.get(files.files[0].path)!;
    const bytes = await storage.readBuffer(indexPath);
    const reads: [number, number][] = [];
    const index = await IndexV2.open({
      read: async (offset, length) => {
        reads.push([offset, length]);
        return bytes.subarray(offset, offset + length);
      },
    });
    reads.length = 0;
    const { ordinals } = await evaluateTermPlan(index, filters[0][1]().termPlan);
    assert.ok(ordinals !== null && ordinals.length > 0);
    const touches = (field: string) => {
      const f = index.field(field)!;
      const at = (o: number) => (index as unknown as { dataStart: number }).dataStart + o;
      const extents = [...f.blocks.map((b) => [at(b.offset), b.length]), [at(f.postings.offset), f.postings.length]];
      return reads.some(([o, l]) => extents.some(([eo, el]) => o < eo + el && eo < o + l));
    };
    assert.ok(touches('flow'));
    assert.ok(!touches('protocol'), 'the protocol dictionary was read');
    assert.ok(!touches('src') && !touches('srcPort'), 'an address or port dictionary was read');
  });

  test('a tiny budget and 16 time-overlapping files still give every packet in order', async () => {
    const root16 = join(dir, 'overlap');
    for (let k = 0; k < 16; k++)
      await writeStoreFile(
        root16,
        all.filter((_, i) => i % 16 === k),
        { partition: k, index: k % 2 ? 'v2' : 'none' },
      );
    const filter = compileQuery('');
    const small = await query('/overlap', filter, { memoryBytes: 1 << 20 });
    const scan = await query('/overlap', filter, { useIndex: false });
    assert.equal(small.packets.length, all.length);
    assert.deepEqual(key(small.packets), key(scan.packets));
  });

  test('a damaged v2 index is reported and the file scanned: no packet lost', async () => {
    const root2 = join(dir, 'damaged');
    const w = await writeStoreFile(root2, all.slice(0, 2000), { index: 'v2' });
    const { writeFileSync, readFileSync } = await import('node:fs');
    const bytes = readFileSync(w.indexPath!);
    writeFileSync(w.indexPath!, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const r = await query('/damaged', compileQuery('protocol == 6'));
    const scan = await query('/damaged', compileQuery('protocol == 6'), { useIndex: false });
    assert.deepEqual(key(r.packets), key(scan.packets));
    assert.match(r.engine.stats.problems.join('\n'), /damaged|unreadable|inconsistent/);
  });
});

describe('the store catalog', () => {
  const rootDir = join(dir, 'cat');
  before(async () => {
    await writeStore(rootDir, 'v2');
    const { indexes } = await listDataFiles(storage, '/cat', true);
    await rebuildCatalog(storage, '/cat', indexes, true);
  });

  test('planning from the catalog gives the same packets as listing, and skips files by sketch', async () => {
    // A host present in one file only.
    const lone = join(rootDir, 'lone');
    const p = all[5];
    const w = await writeStoreFile(rootDir, [{ tsNs: p.tsNs, frame: p.frame }], { partition: 9 });
    const hook = new CatalogHook(storage, '/cat', storeIsFullyIndexed, (m) => assert.fail(m));
    await hook.recordSealed({ dataPath: `/cat/${w.name}`, indexPath: w.indexPath!.slice(dir.length) });
    void lone;
    for (const [, make] of filters) {
      const filter = make();
      const cat = await query('/cat', filter);
      const listed = await query('/cat', filter, { useCatalog: false });
      assert.equal(cat.engine.stats.planning, 'catalog');
      assert.equal(listed.engine.stats.planning, 'listing');
      assert.deepEqual(key(cat.packets), key(listed.packets));
    }
    const one = await query('/cat', filters[0][1]());
    assert.ok(one.engine.stats.filesSkipped >= 1, `sketches ruled files out: ${JSON.stringify(one.engine.stats)}`);
  });

  test('a file published but never recorded (crash before the catalog write) is still found', async () => {
    const later = all.slice(0, 500).map((p) => ({ tsNs: p.tsNs + (last - first) + 1_000_000n, frame: p.frame }));
    await writeStoreFile(rootDir, later, { partition: 5, id: 'late' });
    const r = await query('/cat', compileQuery(''), { endNs: later[later.length - 1].tsNs });
    assert.equal(r.engine.stats.planning, 'catalog');
    assert.equal(r.packets.filter((p) => p.file.includes('_late')).length, 500);
  });

  test('loose entries are merged into one summary; a rebuild agrees', async () => {
    const buckets = new Set<string>();
    for await (const b of storage.list('/cat/_catalog')) if (b.type === 'directory') buckets.add(b.name);
    assert.ok(buckets.size >= 1);
    for (const b of buckets) await compactBucket(storage, '/cat', b);
    for (const b of buckets) {
      const l = await listBucket(storage, '/cat', b);
      assert.equal(l.loose.length, 0);
      assert.ok(l.summary);
    }
    assert.deepEqual(await readStoreFacts(storage, '/cat'), { version: 1, layout: 'flat', complete: true });
  });

  test('a store with an index-less file is planned by listing (nothing missed)', async () => {
    const r2 = join(dir, 'partial');
    await writeStore(r2, 'mixed');
    const { indexes, files } = await listDataFiles(storage, '/partial', true);
    await rebuildCatalog(
      storage,
      '/partial',
      indexes,
      files.every((f) => indexes.has(f.path)),
    );
    const r = await query('/partial', compileQuery(''));
    assert.equal(r.engine.stats.planning, 'listing');
    assert.equal(r.packets.length, all.length);
  });
});

describe('pcap-reindex', () => {
  test('v1 and index-less files get index v2, v1 indexes go, the catalog says complete; results unchanged', async () => {
    const r3 = join(dir, 'old');
    await writeStore(r3, 'mixed');
    const before = await query('/old', filters[1][1](), { useIndex: false });
    const code = await reindexMain(['-bp', `file://${r3}`, '--quiet']);
    assert.equal(code, 0);
    const { files, indexes } = await listDataFiles(storage, '/old', true);
    assert.equal(files.length, 8);
    for (const f of files) assert.match(indexes.get(f.path) ?? '', /\/_index\/\d{10}\//, `${f.name} has an index v2`);
    assert.deepEqual(await readStoreFacts(storage, '/old'), { version: 1, layout: 'flat', complete: true });
    const after = await query('/old', filters[1][1]());
    assert.equal(after.engine.stats.planning, 'catalog');
    assert.equal(after.engine.stats.filesScanned, 0);
    assert.deepEqual(key(after.packets), key(before.packets));
    // Idempotent: a second run finds nothing to do.
    assert.equal(await reindexMain(['-bp', `file://${r3}`, '--quiet']), 0);
    void unlinkSync;
  });
});
