import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { decodeFrame } from '../../src/packet/decode.js';
import { createPacketFields } from '../../src/packet/packet-fields.js';
import { Prng } from '../support/prng.js';
import { SyntheticCapture } from '../support/synthetic.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pcapline-synth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const digest = (seed: number, n: number): string => {
  const h = createHash('sha256');
  const g = new SyntheticCapture({ seed });
  for (let i = 0; i < n; i++) {
    const p = g.next();
    h.update(p.tsNs.toString());
    h.update(p.frame);
  }
  return h.digest('hex');
};

describe('synthetic capture', () => {
  it('the PRNG is fixed: same seed, same numbers', () => {
    const a = new Prng(7);
    // Pinned: a change here changes every synthetic capture and benchmark input.
    assert.deepEqual([a.u32(), a.u32(), a.u32()], [838155491, 1550620431, 3610122010]);
    assert.notEqual(new Prng(7).u32(), new Prng(8).u32());
  });

  it('is deterministic per seed and differs between seeds', () => {
    assert.equal(digest(1, 2000), digest(1, 2000));
    assert.notEqual(digest(1, 2000), digest(2, 2000));
  });

  it('has the advertised mix, sizes, flows and non-decreasing time at the configured rate', () => {
    const g = new SyntheticCapture({ seed: 3, rate: 50_000, flows: 100 });
    const f = createPacketFields();
    const n = 20_000;
    let last = 0n;
    let first = 0n;
    const seen = { v4: 0, v6: 0, vlan: 0, qinq: 0, tcp: 0, udp: 0, icmp: 0, icmp6: 0 };
    const flowsSeen = new Set<number>();
    for (let i = 0; i < n; i++) {
      const p = g.next();
      if (i === 0) first = p.tsNs;
      assert.ok(p.tsNs >= last);
      assert.equal(p.tsNs % 1000n, 0n, 'whole µs, so a µs pcap keeps the exact time');
      last = p.tsNs;
      assert.ok(p.frame.length >= 64 && p.frame.length <= 1500, `size ${p.frame.length}`);
      assert.ok(decodeFrame(p.frame, 0, p.frame.length, 1, f), f.error ?? '');
      const fl = p.flow;
      flowsSeen.add(fl.id);
      assert.equal(f.protocol, fl.protocol);
      assert.deepEqual(
        p.reverse ? [f.dstAddr, f.srcAddr, f.dstPort, f.srcPort] : [f.srcAddr, f.dstAddr, f.srcPort, f.dstPort],
        [fl.srcAddr, fl.dstAddr, fl.srcPort, fl.dstPort],
      );
      assert.equal(f.vlan, fl.vlan);
      assert.equal(f.innerVlan, fl.innerVlan);
      seen[f.ipVersion === 6 ? 'v6' : 'v4']++;
      if (f.vlan >= 0) seen.vlan++;
      if (f.innerVlan >= 0) seen.qinq++;
      if (f.protocol === 6) seen.tcp++;
      if (f.protocol === 17) seen.udp++;
      if (f.protocol === 1) seen.icmp++;
      if (f.protocol === 58) seen.icmp6++;
    }
    for (const [k, v] of Object.entries(seen)) assert.ok(v > 50, `${k}: ${v}`);
    const secs = Number(last - first) / 1e9;
    assert.ok(Math.abs(n / secs - 50_000) < 5_000, `rate ${n / secs}`);
    assert.ok(flowsSeen.size > 50);
    // Skewed popularity: flow 0 is much busier than the last flow.
    assert.ok(g.flows.length === 100);
  });

  it('CLI writes a pcap file (bench/generate-capture.ts)', () => {
    const out = join(dir, 'c.pcap');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'bench/generate-capture.ts'), '--packets', '500', '--seed', '5', '--out', out],
      { encoding: 'utf8', cwd: root },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^wrote 500 packets/);
    const file = readFileSync(out);
    assert.equal(file.subarray(0, 4).toString('hex'), 'd4c3b2a1');
    const bad = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'bench/generate-capture.ts'), '--packets', 'x', '--out', out],
      { encoding: 'utf8', cwd: root },
    );
    assert.equal(bad.status, 2);
  });
});
