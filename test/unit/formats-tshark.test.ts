/**
 * Every pcap file we write must open in tshark with the same packets, and our decoder must agree
 * with tshark's dissection (addresses, ports, protocol, VLANs). Needs tshark on the PATH.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeFrame, decodePcapValue } from '../../src/packet/decode.js';
import { buildFrame, buildIpPacket, type FrameSpec } from '../support/frame-builder.js';
import { createPacketFields } from '../../src/packet/packet-fields.js';
import { PcapFileReader, PcapFileWriter, type PcapPacket } from '../../src/formats/pcap/pcap-file.js';
import { SequenceFileReader } from '../../src/formats/sequencefile/index.js';
import { writeSyntheticPcap } from '../support/synthetic.js';
import { SAMPLE_PATH } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'pcapline-tshark-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FIELDS = [
  'frame.time_epoch',
  'frame.len',
  'frame.cap_len',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'ip.proto',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'icmp.type',
  'icmpv6.type',
  'ieee8021ad.id',
  'vlan.id',
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

/** tshark's view, with reassembly off so each fragment is dissected on its own. */
function tshark(file: string): Row[] {
  const out = execFileSync(
    'tshark',
    [
      '-r',
      file,
      '-n',
      '-o',
      'ip.defragment:FALSE',
      '-o',
      'ipv6.defragment:FALSE',
      '-T',
      'fields',
      '-E',
      'separator=/t',
      '-E',
      'aggregator=,',
      ...FIELDS.flatMap((f) => ['-e', f]),
    ],
    { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] },
  ).toString();
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const cols = l.split('\t');
      // Multi-valued fields (stacked VLAN tags; an inner IP header) come comma-joined; addresses,
      // ports and protocol are compared on their first (outer) occurrence.
      return Object.fromEntries(
        FIELDS.map((f, i) => [f, f.endsWith('.id') ? (cols[i] ?? '') : (cols[i] ?? '').split(',')[0]]),
      ) as Row;
    });
}

const capinfosCount = (file: string): number =>
  Number(
    /Number of packets:\s+(\d+)/.exec(
      execFileSync('capinfos', ['-c', '-M', file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString(),
    )?.[1],
  );

async function readPackets(file: string): Promise<PcapPacket[]> {
  const out: PcapPacket[] = [];
  for await (const p of new PcapFileReader(createReadStream(file))) out.push({ ...p, data: Buffer.from(p.data) });
  return out;
}

const epoch = (ns: bigint): string => `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;

/** Compares our decode of every packet with tshark's; returns the number of packets compared. */
async function compareWithTshark(
  file: string,
): Promise<{ packets: number; v6: number; vlan: number; qinq: number; icmp: number }> {
  const rows = tshark(file);
  const packets = await readPackets(file);
  assert.equal(rows.length, packets.length, 'packet count');
  assert.equal(capinfosCount(file), packets.length);
  const f = createPacketFields();
  const stats = { packets: packets.length, v6: 0, vlan: 0, qinq: 0, icmp: 0 };
  packets.forEach((p, i) => {
    const t = rows[i];
    decodeFrame(p.data, 0, p.data.length, p.linkType, f);
    const where = `packet ${i + 1}`;
    assert.equal(t['frame.time_epoch'], epoch(p.tsNs), `${where} time`);
    assert.equal(Number(t['frame.len']), p.origLen, `${where} len`);
    assert.equal(Number(t['frame.cap_len']), p.inclLen, `${where} cap_len`);
    const v6 = f.ipVersion === 6;
    assert.equal(f.srcAddr ?? '', v6 ? t['ipv6.src'] : t['ip.src'], `${where} src`);
    assert.equal(f.dstAddr ?? '', v6 ? t['ipv6.dst'] : t['ip.dst'], `${where} dst`);
    const sport = t['tcp.srcport'] || t['udp.srcport'];
    const dport = t['tcp.dstport'] || t['udp.dstport'];
    assert.equal(f.srcPort < 0 ? '' : String(f.srcPort), sport, `${where} src port`);
    assert.equal(f.dstPort < 0 ? '' : String(f.dstPort), dport, `${where} dst port`);
    if (!v6 && f.ipVersion === 4) assert.equal(String(f.protocol), t['ip.proto'], `${where} protocol`);
    const l4 = t['tcp.srcport'] ? 6 : t['udp.srcport'] ? 17 : t['icmp.type'] ? 1 : t['icmpv6.type'] ? 58 : -1;
    if (l4 !== -1) assert.equal(f.protocol, l4, `${where} upper layer`);
    if (f.icmpType >= 0) assert.equal(String(f.icmpType), t['icmp.type'] || t['icmpv6.type'], `${where} icmp type`);
    const tags = [f.vlan, f.innerVlan]
      .filter((v) => v >= 0)
      .map(String)
      .join(',');
    const theirs = [t['ieee8021ad.id'], t['vlan.id']].filter(Boolean).join(',');
    // tshark files an outer 0x88a8 tag under ieee8021ad, a 0x8100/0x9100 one under vlan.
    assert.deepEqual(tags.split(',').sort(), theirs.split(',').sort(), `${where} vlan`);
    if (v6) stats.v6++;
    if (f.vlan >= 0) stats.vlan++;
    if (f.innerVlan >= 0) stats.qinq++;
    if (f.icmpType >= 0) stats.icmp++;
  });
  return stats;
}

describe('tshark agrees with what we write and decode', () => {
  it('a synthetic capture of 3000 packets (IPv4/IPv6, VLAN, QinQ, TCP/UDP/ICMP/ICMPv6)', async () => {
    const file = join(dir, 'synthetic.pcap');
    const r = await writeSyntheticPcap(file, 3000, { seed: 42, flows: 80 });
    assert.equal(r.packets, 3000);
    const s = await compareWithTshark(file);
    assert.equal(s.packets, 3000);
    assert.ok(s.v6 > 300 && s.vlan > 100 && s.qinq > 20 && s.icmp > 50, JSON.stringify(s));
  });

  it('hand-built edge cases: fragments, extension headers, options, odd IPv6 text', async () => {
    const v6 = (hex: string): Uint8Array => Buffer.from(hex, 'hex');
    const a4 = Uint8Array.from([10, 1, 2, 3]);
    const b4 = Uint8Array.from([172, 16, 0, 1]);
    const a6 = v6('20010db8000000000001000000000001');
    const b6 = v6('fe800000000000000000000000000001');
    const payload = Buffer.alloc(64, 0x41);
    const specs: FrameSpec[] = [
      {
        ip: { version: 4, src: a4, dst: b4, moreFragments: true, id: 7 },
        l4: { proto: 'udp', srcPort: 33000, dstPort: 123 },
        payload,
      },
      {
        ip: { version: 4, src: a4, dst: b4, fragmentOffset: 80, id: 7 },
        l4: { proto: 'udp', srcPort: 33000, dstPort: 123 },
        payload,
      },
      {
        ip: { version: 4, src: a4, dst: b4, options: Uint8Array.from([0x94, 4, 0, 0]) },
        l4: { proto: 'tcp', srcPort: 1234, dstPort: 80 },
        payload,
      },
      {
        ip: { version: 6, src: a6, dst: b6, ext: [{ type: 0 }, { type: 60, units: 1 }] },
        l4: { proto: 'tcp', srcPort: 50000, dstPort: 443 },
        payload,
      },
      {
        ip: { version: 6, src: a6, dst: b6, ext: [{ type: 44, offset: 0, more: true }] },
        l4: { proto: 'udp', srcPort: 50001, dstPort: 53 },
        payload,
      },
      {
        ip: { version: 6, src: a6, dst: b6, ext: [{ type: 44, offset: 1232, more: false }] },
        l4: { proto: 'udp', srcPort: 50001, dstPort: 53 },
        payload,
      },
      {
        ip: { version: 6, src: a6, dst: b6, ext: [{ type: 51 }] },
        l4: { proto: 'tcp', srcPort: 50002, dstPort: 22 },
        payload,
      },
      {
        ip: { version: 6, src: v6('00000000000000000000ffffc0000201'), dst: v6('00000000000000000000000001020304') },
        l4: { proto: 'icmpv6', type: 128, code: 0 },
        payload,
      },
      {
        ip: { version: 6, src: v6('20010000000000010000000000000001'), dst: v6('0000000000000000000000000000ffff') },
        l4: { proto: 'udp', srcPort: 1, dstPort: 2 },
        payload,
      },
      {
        vlans: [
          { tpid: 0x9100, vid: 10 },
          { tpid: 0x8100, vid: 20 },
        ],
        ip: { version: 4, src: a4, dst: b4 },
        l4: { proto: 'icmp', type: 8, code: 0 },
        payload,
      },
      {
        vlans: [
          { tpid: 0x88a8, vid: 30 },
          { tpid: 0x8100, vid: 40 },
        ],
        ip: { version: 6, src: a6, dst: b6 },
        l4: { proto: 'udp', srcPort: 9, dstPort: 7 },
        payload,
      },
    ];
    const file = join(dir, 'edge.pcap');
    const w = new PcapFileWriter(createWriteStream(file));
    let ts = 1_700_000_000_000_000_000n;
    for (const s of specs) {
      ts += 1_000_123n;
      await w.writePacket(ts, buildFrame(s));
    }
    await w.end();
    const s = await compareWithTshark(file);
    assert.equal(s.packets, specs.length);
  });

  it('raw IP and Linux cooked link types', async () => {
    const payload = Buffer.alloc(20, 1);
    const ip4 = buildIpPacket(
      { version: 4, src: Uint8Array.from([1, 2, 3, 4]), dst: Uint8Array.from([5, 6, 7, 8]) },
      { proto: 'tcp', srcPort: 10, dstPort: 20 },
      payload,
    );
    const ip6 = buildIpPacket(
      {
        version: 6,
        src: Buffer.from('20010db8000000000000000000000001', 'hex'),
        dst: Buffer.from('20010db8000000000000000000000002', 'hex'),
      },
      { proto: 'udp', srcPort: 30, dstPort: 40 },
      payload,
    );
    const raw = join(dir, 'raw.pcap');
    const w = new PcapFileWriter(createWriteStream(raw), { linkType: 101 });
    await w.writePacket(1_600_000_000_000_000_000n, ip4);
    await w.writePacket(1_600_000_000_000_001_000n, ip6);
    await w.end();
    assert.equal((await compareWithTshark(raw)).packets, 2);
    const sll = (proto: number, ip: Buffer): Buffer => {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(4, 0);
      h.writeUInt16BE(1, 2);
      h.writeUInt16BE(6, 4);
      h.writeUInt16BE(proto, 14);
      return Buffer.concat([h, ip]);
    };
    const cooked = join(dir, 'sll.pcap');
    const w2 = new PcapFileWriter(createWriteStream(cooked), { linkType: 113 });
    await w2.writePacket(1_600_000_000_000_000_000n, sll(0x0800, ip4));
    await w2.writePacket(1_600_000_000_000_001_000n, sll(0x86dd, ip6));
    await w2.end();
    assert.equal((await compareWithTshark(cooked)).packets, 2);
  });

  it("the Metron sample's packets, rewritten as a pcap file, keep count, times and lengths", async () => {
    const file = join(dir, 'sample.pcap');
    const w = new PcapFileWriter(createWriteStream(file));
    const f = createPacketFields();
    const expect: Array<{ ts: bigint; len: number }> = [];
    for await (const r of new SequenceFileReader(createReadStream(SAMPLE_PATH))) {
      decodePcapValue(r.value, f);
      await w.writePacket(f.tsNs, r.value.subarray(f.frameOffset, f.frameOffset + f.length), f.origLength);
      expect.push({ ts: f.tsNs, len: f.length });
    }
    await w.end();
    const rows = tshark(file);
    assert.equal(rows.length, 20);
    rows.forEach((t, i) => {
      assert.equal(t['frame.time_epoch'], epoch(expect[i].ts));
      assert.equal(Number(t['frame.len']), expect[i].len);
    });
    await compareWithTshark(file);
  });
});
