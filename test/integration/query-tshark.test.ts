/**
 * Cross-check against tshark. A generated capture of 100k packets (IPv4/IPv6 with extension
 * headers, 802.1Q and QinQ, TCP/UDP/ICMP/ICMPv6) is replayed into a fresh 3-partition topic (key =
 * BE µs, partition by key hash, as a sensor does) and ingested by the real topology into HDFS.
 * Then, for fixed and expression queries through the real CLI (`-bp webhdfs://…`, `-o -`), our
 * packets (count, times, bytes, in order) must equal what `tshark -r capture.pcap -Y '<filter>'`
 * selects from the original capture. The forced scan (`--no-index`) must return the same packets
 * as the index-driven path, and the index-driven path must read a small part of the store.
 *
 * Semantics chosen to match exactly: our ports are TCP/UDP ports (tshark: tcp.* or udp.*); our
 * `vlan` is the outer tag (tshark: vlan.id or ieee8021ad.id, on a VLAN id no other tag uses);
 * IPv6 `protocol` is the upper layer after extension headers (tshark: the protocol's own name,
 * not ipv6.nxt). IPv4 and IPv6 UDP fragments are mixed in: addresses and protocol are set on every
 * fragment, ports on first fragments only (tshark with reassembly off agrees: it dissects UDP in
 * first fragments only, so "-p udp" is `udp || ip.proto == 17 || ipv6.fraghdr.nxt == 17` there).
 */
import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureStack, uniqueName } from '../helpers/stack.js';
import {
  firstDifference,
  ingestPcap,
  parsePcap,
  pcapQuery,
  tsharkFilter,
  type PcapPacketRead,
} from '../helpers/query.js';
import { SyntheticCapture, type SyntheticFlow } from '../support/synthetic.js';
import { PcapFileWriter } from '../../src/formats/pcap/pcap-file.js';
import { buildFrame } from '../support/frame-builder.js';
import { downgradeStoreToV1 } from '../support/index-versions.js';
import { openStorage, parseStorageUri } from '../../src/storage/index.js';

const PACKETS = 100_000;
const PARTITIONS = 3;
// Files of 20 000 packets: their indexes span several Avro blocks (about 10 000 entries each),
// which is where IndexBuilder.encode once damaged entries; the index path must still be exact.
const FILE_PACKETS = 20_000;

const ep = ensureStack();
const work = mkdtempSync(join(tmpdir(), 'pcapline-query-tshark-'));
after(() => rmSync(work, { recursive: true, force: true }));
const capture = join(work, 'capture.pcap');

interface FlowStat {
  flow: SyntheticFlow;
  packets: number;
}
let flows: FlowStat[] = [];
let firstNs = 0n;
let lastNs = 0n;
let bp = '';
let storedBytes = 0;

/** Packets in the capture: the generated ones plus the IP fragments mixed in. */
let total = 0;
const FRAGMENT_EVERY = 1000;
const FRAG_SRC4 = Uint8Array.from([198, 18, 0, 1]);
const FRAG_DST4 = Uint8Array.from([192, 0, 2, 53]);
const v6 = (last: number): Uint8Array => {
  const b = new Uint8Array(16);
  b.set([0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff]);
  b[15] = last;
  return b;
};

/**
 * A fragmented UDP datagram to port 53, over IPv4 and over IPv6: first fragments carry the UDP
 * header (ports), later ones do not. The generator makes none, so they are mixed in here.
 */
function fragments(k: number): Buffer[] {
  const payload = Uint8Array.from({ length: 64 + (k % 64) }, (_, i) => (k * 7 + i * 13) & 0xff);
  const udp = { proto: 'udp' as const, srcPort: 40000 + (k % 1000), dstPort: 53 };
  return [
    buildFrame({ ip: { version: 4, src: FRAG_SRC4, dst: FRAG_DST4, id: k, moreFragments: true }, l4: udp, payload }),
    buildFrame({ ip: { version: 4, src: FRAG_SRC4, dst: FRAG_DST4, id: k, fragmentOffset: 80 }, l4: udp, payload }),
    buildFrame({
      ip: { version: 6, src: v6(1), dst: v6(2), ext: [{ type: 44, offset: 0, more: true, id: k }] },
      l4: udp,
      payload,
    }),
    buildFrame({
      ip: { version: 6, src: v6(1), dst: v6(2), ext: [{ type: 44, offset: 80, more: false, id: k }] },
      l4: udp,
      payload,
    }),
  ];
}

/** Writes the capture and counts packets per flow (to pick query targets). */
async function generate(): Promise<void> {
  const gen = new SyntheticCapture({ seed: 11, flows: 120, rate: 10_000, maxSize: 1000 });
  const w = new PcapFileWriter(createWriteStream(capture));
  const counts = new Map<number, number>();
  for (let i = 0; i < PACKETS; i++) {
    const p = gen.next();
    if (i === 0) firstNs = p.tsNs;
    lastNs = p.tsNs;
    counts.set(p.flow.id, (counts.get(p.flow.id) ?? 0) + 1);
    await w.writePacket(p.tsNs, p.frame);
    total++;
    if (i % FRAGMENT_EVERY === FRAGMENT_EVERY / 2) {
      // Same time as the packet before (same key, so same partition: the order is kept).
      for (const f of fragments(i / FRAGMENT_EVERY)) {
        await w.writePacket(p.tsNs, f);
        total++;
      }
    }
  }
  await w.end();
  flows = gen.flows.map((flow) => ({ flow, packets: counts.get(flow.id) ?? 0 }));
}

/** The most popular flow that fits, with at least `min` packets. */
function pick(what: string, pred: (f: SyntheticFlow) => boolean, min = 100): SyntheticFlow {
  const found = flows.filter((s) => s.packets >= min && pred(s.flow)).sort((a, b) => b.packets - a.packets)[0];
  assert.ok(found, `the capture has a flow for: ${what}`);
  return found.flow;
}

/** A VLAN id used by exactly one tag (outer or inner) of exactly one flow. */
function uniqueVlan(f: SyntheticFlow): boolean {
  if (f.vlan < 0) return false;
  return (
    flows.filter((s) => s.flow.vlan === f.vlan || s.flow.innerVlan === f.vlan).length === 1 && f.innerVlan !== f.vlan
  );
}

const ms = (ns: bigint): bigint => ns / 1_000_000n;
const epoch = (msValue: bigint): string => `${msValue / 1000n}.${String(msValue % 1000n).padStart(3, '0')}`;
const portIs = (dir: 'src' | 'dst', p: number | string): string => `(tcp.${dir}port == ${p} || udp.${dir}port == ${p})`;
const portIn = (dir: 'src' | 'dst', set: string): string =>
  `(tcp.${dir}port in {${set}} || udp.${dir}port in {${set}})`;
const l4 = (proto: number): string => (proto === 6 ? 'tcp' : 'udp');

interface Case {
  name: string;
  /** CLI arguments after the mode's time window. */
  mode: 'fixed' | 'query';
  args: string[];
  tshark: string;
  /** Window in ms; default the whole capture. */
  window?: [bigint, bigint];
}

/** Built after generation (targets come from the flow list). */
function cases(): Case[] {
  const tcp4 = pick('IPv4 TCP, untagged', (f) => f.ipVersion === 4 && f.protocol === 6 && f.vlan < 0, 300);
  const small4 = flows.filter(
    (s) => s.flow.ipVersion === 4 && s.flow.protocol === 6 && s.packets >= 300 && s.packets <= 600,
  )[0]?.flow;
  assert.ok(small4, 'a small IPv4 TCP flow');
  const udp6 = pick('IPv6 UDP', (f) => f.ipVersion === 6 && f.protocol === 17);
  const tcp6ext = pick(
    'IPv6 TCP with extension headers',
    (f) => f.ipVersion === 6 && f.protocol === 6 && f.ext.length > 0,
  );
  const vlan1 = pick('one 802.1Q tag, id used once', (f) => f.innerVlan < 0 && uniqueVlan(f));
  const qinq = pick('QinQ, outer id used once', (f) => f.innerVlan >= 0 && uniqueVlan(f));
  const icmp4 = pick('ICMP', (f) => f.protocol === 1);
  const v6addr = pick('IPv6 source with a compressed zero run', (f) => f.ipVersion === 6 && /::/.test(f.srcAddr));
  // Time windows (ms): a 600 ms slice in the middle; a 1.5 s slice near the start.
  const span = ms(lastNs) - ms(firstNs);
  const midA = ms(firstNs) + span / 2n;
  const midB = midA + 600n;
  const earlyA = ms(firstNs) + 1000n;
  const earlyB = earlyA + 1500n;

  return [
    // ---- fixed
    {
      name: `fixed -sa ${tcp4.srcAddr} (one IPv4 address)`,
      mode: 'fixed',
      args: ['-sa', tcp4.srcAddr],
      tshark: `ip.src == ${tcp4.srcAddr}`,
    },
    {
      name: 'fixed -da 198.51.100.0/24 (IPv4 CIDR)',
      mode: 'fixed',
      args: ['-da', '198.51.100.0/24'],
      tshark: 'ip.dst == 198.51.100.0/24',
    },
    {
      name: 'fixed -sa 10.0.0.0/8 -dp 443 (CIDR and port)',
      mode: 'fixed',
      args: ['-sa', '10.0.0.0/8', '-dp', '443'],
      tshark: `ip.src == 10.0.0.0/8 && ${portIs('dst', 443)}`,
    },
    {
      name: 'fixed -da 2001:db8::/32 (IPv6 CIDR)',
      mode: 'fixed',
      args: ['-da', '2001:db8::/32'],
      tshark: 'ipv6.dst == 2001:db8::/32',
    },
    {
      name: 'fixed -sa fe80::/10 -p tcp (link-local sources, TCP by name)',
      mode: 'fixed',
      args: ['-sa', 'fe80::/10', '-p', 'tcp'],
      tshark: 'ipv6.src == fe80::/10 && tcp',
    },
    {
      name: `fixed -sa ${v6addr.srcAddr} (one IPv6 address, compressed text)`,
      mode: 'fixed',
      args: ['-sa', v6addr.srcAddr],
      tshark: `ipv6.src == ${v6addr.srcAddr}`,
    },
    { name: 'fixed -dp 53 (TCP or UDP)', mode: 'fixed', args: ['-dp', '53'], tshark: portIs('dst', 53) },
    {
      name: 'fixed -sp 40000-45000 (port range)',
      mode: 'fixed',
      args: ['-sp', '40000-45000'],
      tshark: portIn('src', '40000..45000'),
    },
    // Protocol is the IP header's (or the fragment header's) for every fragment; tshark dissects UDP in first fragments only.
    {
      name: 'fixed -p udp (by name; later fragments too)',
      mode: 'fixed',
      args: ['-p', 'udp'],
      tshark: 'udp || ip.proto == 17 || ipv6.fraghdr.nxt == 17',
    },
    {
      name: 'fixed -sa 198.18.0.0/15 (IPv4 fragments: addresses on every fragment)',
      mode: 'fixed',
      args: ['-sa', '198.18.0.0/15'],
      tshark: 'ip.src == 198.18.0.0/15',
    },
    {
      name: 'fixed -sa 198.18.0.0/15 -dp 53 (ports: first fragments only)',
      mode: 'fixed',
      args: ['-sa', '198.18.0.0/15', '-dp', '53'],
      tshark: 'ip.src == 198.18.0.0/15 && udp.dstport == 53',
    },
    {
      name: "query IN_SUBNET(ip_src_addr, '2001:db8:ffff::/48') and ip_src_port > 0 (IPv6 first fragments)",
      mode: 'query',
      args: ['-q', "IN_SUBNET(ip_src_addr, '2001:db8:ffff::/48') and ip_src_port > 0"],
      tshark: 'ipv6.src == 2001:db8:ffff::/48 && udp.srcport > 0',
    },
    { name: 'fixed -p 1 (ICMP by number)', mode: 'fixed', args: ['-p', '1'], tshark: 'icmp' },
    { name: 'fixed -p icmpv6 (after extension headers too)', mode: 'fixed', args: ['-p', 'icmpv6'], tshark: 'icmpv6' },
    {
      name: 'fixed 5-tuple -ir (one IPv4 TCP flow, both directions)',
      mode: 'fixed',
      args: [
        '-sa',
        small4.srcAddr,
        '-sp',
        String(small4.srcPort),
        '-da',
        small4.dstAddr,
        '-dp',
        String(small4.dstPort),
        '-p',
        '6',
        '-ir',
      ],
      tshark: `tcp && ((ip.src == ${small4.srcAddr} && tcp.srcport == ${small4.srcPort} && ip.dst == ${small4.dstAddr} && tcp.dstport == ${small4.dstPort}) || (ip.src == ${small4.dstAddr} && tcp.srcport == ${small4.dstPort} && ip.dst == ${small4.srcAddr} && tcp.dstport == ${small4.srcPort}))`,
    },
    {
      name: 'fixed 5-tuple without -ir (one direction of an IPv6 UDP flow)',
      mode: 'fixed',
      args: [
        '-sa',
        udp6.srcAddr,
        '-sp',
        String(udp6.srcPort),
        '-da',
        udp6.dstAddr,
        '-dp',
        String(udp6.dstPort),
        '-p',
        'udp',
      ],
      tshark: `udp && ipv6.src == ${udp6.srcAddr} && udp.srcport == ${udp6.srcPort} && ipv6.dst == ${udp6.dstAddr} && udp.dstport == ${udp6.dstPort}`,
    },
    {
      name: 'fixed -sa -ir on an IPv6 TCP flow with extension headers',
      mode: 'fixed',
      args: ['-sa', tcp6ext.srcAddr, '-da', tcp6ext.dstAddr, '-ir'],
      tshark: `(ipv6.src == ${tcp6ext.srcAddr} && ipv6.dst == ${tcp6ext.dstAddr}) || (ipv6.src == ${tcp6ext.dstAddr} && ipv6.dst == ${tcp6ext.srcAddr})`,
    },
    { name: 'fixed -pf abcd (byte pattern)', mode: 'fixed', args: ['-pf', 'abcd'], tshark: 'frame contains ab:cd' },
    {
      name: 'fixed -pf ab..cd (wildcard bytes)',
      mode: 'fixed',
      args: ['-pf', 'ab..cd'],
      tshark: 'frame matches "(?s)\\xab..\\xcd"',
    },
    {
      name: 'fixed -dp 443 -pf 1703 (header and pattern)',
      mode: 'fixed',
      args: ['-dp', '443', '-pf', '1703'],
      tshark: `${portIs('dst', 443)} && frame contains 17:03`,
    },
    {
      name: 'fixed time window only (600 ms)',
      mode: 'fixed',
      args: [],
      window: [midA, midB],
      tshark: `frame.time_epoch >= ${epoch(midA)} && frame.time_epoch <= ${epoch(midB)}`,
    },
    {
      name: 'fixed time window + -da 203.0.113.0/24 -p tcp',
      mode: 'fixed',
      args: ['-da', '203.0.113.0/24', '-p', 'tcp'],
      window: [earlyA, earlyB],
      tshark: `frame.time_epoch >= ${epoch(earlyA)} && frame.time_epoch <= ${epoch(earlyB)} && ip.dst == 203.0.113.0/24 && tcp`,
    },
    // ---- expressions
    {
      name: 'query ip_dst_port in [80, 443, 8080]',
      mode: 'query',
      args: ['-q', 'ip_dst_port in [80, 443, 8080]'],
      tshark: portIn('dst', '80, 443, 8080'),
    },
    {
      name: "query IN_SUBNET(ip_src_addr, '10.0.0.0/9') and protocol == 6",
      mode: 'query',
      args: ['-q', "IN_SUBNET(ip_src_addr, '10.0.0.0/9') and protocol == 6"],
      tshark: 'ip.src == 10.0.0.0/9 && tcp',
    },
    {
      name: 'query IN_SUBNET over IPv6 and IPv4 blocks (or)',
      mode: 'query',
      args: ['-q', "IN_SUBNET(ip_dst_addr, '2001:db8::/48') or IN_SUBNET(ip_dst_addr, '203.0.113.0/25')"],
      tshark: 'ipv6.dst == 2001:db8::/48 || ip.dst == 203.0.113.0/25',
    },
    {
      name: `query vlan == ${vlan1.vlan} (802.1Q)`,
      mode: 'query',
      args: ['-q', `vlan == ${vlan1.vlan}`],
      tshark: `vlan.id == ${vlan1.vlan} || ieee8021ad.id == ${vlan1.vlan}`,
    },
    {
      name: `query vlan == ${qinq.vlan} (QinQ outer tag)`,
      mode: 'query',
      args: ['-q', `vlan == ${qinq.vlan}`],
      tshark: `vlan.id == ${qinq.vlan} || ieee8021ad.id == ${qinq.vlan}`,
    },
    {
      name: "query protocol == 17 and ip_dst_port == 123 and not IN_SUBNET(ip_src_addr, '10.128.0.0/9')",
      mode: 'query',
      args: ['-q', "protocol == 17 and ip_dst_port == 123 and not IN_SUBNET(ip_src_addr, '10.128.0.0/9')"],
      tshark: 'udp.dstport == 123 && !(ip.src == 10.128.0.0/9)',
    },
    {
      name: "query BYTEARRAY_MATCHER('abcd', packet) && protocol == 6",
      mode: 'query',
      args: ['-q', "BYTEARRAY_MATCHER('abcd', packet) && protocol == 6"],
      tshark: 'frame contains ab:cd && tcp',
    },
    {
      name: 'query ip_src_port >= 50000 and ip_src_port <= 52000 or ip_dst_port == 22 (precedence)',
      mode: 'query',
      args: ['-q', 'ip_src_port >= 50000 and ip_src_port <= 52000 or ip_dst_port == 22'],
      tshark: `${portIn('src', '50000..52000')} || ${portIs('dst', 22)}`,
    },
    {
      name: 'query timestamp window (ms) and protocol == 1',
      mode: 'query',
      args: ['-q', `timestamp >= ${earlyA} and timestamp < ${earlyB} and protocol == 1`],
      tshark: `frame.time_epoch >= ${epoch(earlyA)} && frame.time_epoch < ${epoch(earlyB)} && icmp`,
    },
    {
      name: 'query length > 900 and ip_dst_port == 443',
      mode: 'query',
      args: ['-q', 'length > 900 and ip_dst_port == 443'],
      tshark: `frame.cap_len > 900 && ${portIs('dst', 443)}`,
    },
    {
      name: "query STARTS_WITH(ip_src_addr, 'fe80:') (link-local text)",
      mode: 'query',
      args: ['-q', "STARTS_WITH(ip_src_addr, 'fe80:')"],
      tshark: 'ipv6.src == fe80::/16',
    },
    {
      name: `query ICMP flow by address pair (${icmp4.srcAddr} ↔ ${icmp4.dstAddr})`,
      mode: 'query',
      args: [
        '-q',
        `protocol == 1 and ((ip_src_addr == '${icmp4.srcAddr}' and ip_dst_addr == '${icmp4.dstAddr}') or (ip_src_addr == '${icmp4.dstAddr}' and ip_dst_addr == '${icmp4.srcAddr}'))`,
      ],
      tshark: `icmp && ip.addr == ${icmp4.srcAddr} && ip.addr == ${icmp4.dstAddr}`,
    },
    {
      name: `query either port == ${udp6.srcPort} (an IPv6 ${l4(udp6.protocol)} flow's source port) in a time window`,
      mode: 'query',
      args: ['-q', `ip_src_port == ${udp6.srcPort} or ip_dst_port == ${udp6.srcPort}`],
      window: [midA, midB + 2000n],
      tshark: `frame.time_epoch >= ${epoch(midA)} && frame.time_epoch <= ${epoch(midB + 2000n)} && (${portIs('src', udp6.srcPort)} || ${portIs('dst', udp6.srcPort)})`,
    },
  ];
}

interface Ours {
  packets: PcapPacketRead[];
  stderr: string;
}

async function ours(c: Case, extra: string[] = []): Promise<Ours> {
  const [st, et] = c.window ?? [ms(firstNs), ms(lastNs) + 1n];
  const r = await pcapQuery([c.mode, '-st', String(st), '-et', String(et), '-bp', bp, ...c.args, '-o', '-', ...extra]);
  assert.equal(r.code, 0, `pcap-query exits 0: ${r.stderr}`);
  return { packets: parsePcap(r.stdout, `pcap-query ${c.name}`).packets, stderr: r.stderr };
}

function assertSame(c: Case, got: PcapPacketRead[], want: PcapPacketRead[]): void {
  const diff = firstDifference(got, want);
  assert.equal(diff, null, `${c.name}: ours vs tshark -Y '${c.tshark}': ${diff?.what}`);
}

/** Files read by index / scanned, and bytes read, from the summary line. */
function readStats(stderr: string): { byIndex: number; scanned: number; bytes: number } {
  const m = /(\d+) by index, (\d+) scanned\), ([\d.]+) (B|KiB|MiB|GiB) read/.exec(stderr);
  assert.ok(m, `summary line with read statistics: ${stderr}`);
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[4] as 'B'];
  return { byIndex: Number(m[1]), scanned: Number(m[2]), bytes: Number(m[3]) * unit };
}

/** tshark's answer per case, from the first pass (the v1 pass compares against the same). */
const expected = new Map<string, PcapPacketRead[]>();

/** Rewrites every index under `out` as index v1 (flat in _index) and drops the catalog: an old store. */
async function downgradeToV1(out: string): Promise<number> {
  const { root, path } = parseStorageUri(out);
  const storage = openStorage(root);
  try {
    return (await downgradeStoreToV1(storage, path)).files;
  } finally {
    await storage.close();
  }
}

// The capture is generated up front (about 2 s), so the cases, whose targets come from its flows, have names.
await generate();
const all: Case[] = cases();

describe(`query results equal tshark's over ${PACKETS / 1000}k ingested packets (HDFS)`, { concurrency: 2 }, () => {
  before(async () => {
    const out = `${ep.webhdfsUrl}/${uniqueName('query-tshark')}/apps/metron/pcap/input`;
    const ingest = await ingestPcap(ep, {
      pcap: capture,
      packets: total,
      out,
      partitions: PARTITIONS,
      numPackets: FILE_PACKETS,
    });
    storedBytes = ingest.sealed.reduce((n, f) => n + f.bytes, 0);
    process.stderr.write(
      `# ingest of ${total} packets into HDFS: ${ingest.ms} ms (replay ${ingest.replayMs} ms), ${ingest.sealed.length} files\n`,
    );
    bp = out;
  });

  for (const c of all) {
    test(`${c.name}  ≡  tshark -Y '${c.tshark.length > 90 ? `${c.tshark.slice(0, 87)}...` : c.tshark}'`, async () => {
      const [got, want] = await Promise.all([ours(c), tsharkFilter(capture, c.tshark)]);
      expected.set(c.name, want);
      assert.ok(want.length > 0, `${c.name}: tshark selects some packets (the case tests something)`);
      assert.ok(want.length < total, `${c.name}: tshark does not select everything`);
      assertSame(c, got.packets, want);
      assert.doesNotMatch(got.stderr, /warning/, 'no warnings (a damaged index would be reported and scanned)');
      const st = readStats(got.stderr);
      assert.ok(st.byIndex > 0 && st.scanned === 0, `every file read by its index: ${got.stderr}`);
    });
  }

  test('at least 20 cross-checks, fixed and expression', () => {
    assert.ok(all.length >= 20, `${all.length} cases`);
    assert.ok(all.filter((c) => c.mode === 'fixed').length >= 10);
    assert.ok(all.filter((c) => c.mode === 'query').length >= 10);
  });

  test('--no-index (forced scan) returns exactly what the index-driven path returns', async () => {
    const byName = (prefix: string): Case =>
      all.find((c) => c.name.startsWith(prefix)) ?? assert.fail(`no case ${prefix}`);
    const picked = [
      byName(`fixed -sa ${all[0].args[1]} `),
      byName('fixed 5-tuple -ir'),
      byName('fixed -sa 198.18.0.0/15 -dp 53'),
      byName('fixed -pf abcd'),
      byName('query ip_dst_port in'),
      byName('query vlan'),
      byName('query timestamp window'),
      byName('query either port'),
    ];
    for (const c of picked) {
      const [indexed, scanned, listed] = await Promise.all([
        ours(c),
        ours(c, ['--no-index']),
        ours(c, ['--no-catalog']),
      ]);
      assert.ok(indexed.packets.length > 0, c.name);
      const diff = firstDifference(scanned.packets, indexed.packets);
      assert.equal(diff, null, `${c.name}: scan vs index: ${diff?.what}`);
      const diffListed = firstDifference(listed.packets, indexed.packets);
      assert.equal(diffListed, null, `${c.name}: listing-planned vs catalog-planned: ${diffListed?.what}`);
      assert.match(
        indexed.stderr,
        /from the catalog/,
        `the ingest wrote a catalog and the query used it: ${indexed.stderr}`,
      );
      const si = readStats(indexed.stderr);
      const ss = readStats(scanned.stderr);
      assert.ok(si.byIndex > 0 && si.scanned === 0, `indexed run reads by index: ${indexed.stderr}`);
      assert.ok(ss.byIndex === 0 && ss.scanned > 0, `--no-index scans: ${scanned.stderr}`);
    }
  });

  test('one flow among 100k: the index-driven read fetches a small part of the store; the scan reads it all', async () => {
    const c = all.find((x) => x.name.startsWith('fixed 5-tuple -ir')) ?? assert.fail('no 5-tuple case'); // one small IPv4 TCP flow
    const [indexed, scanned] = await Promise.all([ours(c), ours(c, ['--no-index'])]);
    const si = readStats(indexed.stderr);
    const ss = readStats(scanned.stderr);
    assert.ok(si.bytes < storedBytes * 0.25, `index path read ${si.bytes} of ${storedBytes} stored bytes`);
    assert.ok(ss.bytes >= storedBytes * 0.95, `scan read ${ss.bytes} of ${storedBytes} stored bytes`);
  });
});

describe('the same cross-checks on a store with v1 indexes (written before index v2)', { concurrency: 2 }, () => {
  before(async () => {
    assert.ok(bp, 'the store was ingested');
    const n = await downgradeToV1(bp);
    assert.ok(n > 0, 'indexes rewritten as v1');
  });
  for (const c of all) {
    test(`v1: ${c.name}`, async () => {
      const want = expected.get(c.name) ?? (await tsharkFilter(capture, c.tshark));
      const got = await ours(c);
      assertSame(c, got.packets, want);
      assert.doesNotMatch(got.stderr, /warning/, 'no warnings');
      const st = readStats(got.stderr);
      assert.ok(st.byIndex > 0 && st.scanned === 0, `every file read by its v1 index: ${got.stderr}`);
      assert.doesNotMatch(got.stderr, /from the catalog/, 'no catalog: planned by listing');
    });
  }
});
