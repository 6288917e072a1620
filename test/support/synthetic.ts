/**
 * Deterministic synthetic traffic for benchmarks, demos and tests: a seeded set of flows (IPv4
 * and IPv6, some 802.1Q or QinQ tagged, TCP/UDP/ICMP/ICMPv6, a few IPv6 flows with extension
 * headers), packets drawn from them with a skewed popularity (so a selective query finds one
 * flow among many), frame sizes 64–1500 bytes, and non-decreasing µs timestamps at a configurable
 * mean rate. The same options give the same packets, byte for byte, everywhere.
 */
import { createWriteStream } from 'node:fs';
import { buildFrame, type FrameSpec, type Ipv6ExtHeader, type L4Spec, type VlanTag } from './frame-builder.js';
import { formatIpv6 } from '../../src/packet/ip-text.js';
import { PcapFileWriter } from '../../src/formats/pcap/pcap-file.js';
import { Prng } from './prng.js';

export interface SyntheticOptions {
  seed?: number;
  /** Number of flows (default 64). */
  flows?: number;
  /** Mean packets per second of packet time (default 10 000); gaps are exponential, in whole µs. */
  rate?: number;
  /** Time of the first packet, ns (default 2024-01-01T00:00:00Z). */
  startNs?: bigint;
  /** Shares of flows: IPv6, VLAN (802.1Q), QinQ, ICMP/ICMPv6, UDP; the rest is TCP. */
  ipv6Share?: number;
  vlanShare?: number;
  qinqShare?: number;
  icmpShare?: number;
  udpShare?: number;
  /** Frame length bounds in bytes (default 64..1500); raised to the headers' size where needed. */
  minSize?: number;
  maxSize?: number;
}

export interface SyntheticFlow {
  id: number;
  ipVersion: 4 | 6;
  /** IP protocol number: 6, 17, 1 or 58. */
  protocol: number;
  srcAddr: string;
  dstAddr: string;
  /** -1 for ICMP. */
  srcPort: number;
  dstPort: number;
  /** Outer / inner VLAN ids, -1 when absent. */
  vlan: number;
  innerVlan: number;
  /** IPv6 extension headers in front of the transport header (types), empty for most flows. */
  ext: number[];
}

export interface SyntheticPacket {
  tsNs: bigint;
  frame: Buffer;
  flow: SyntheticFlow;
  /** True when the packet goes dst → src of the flow. */
  reverse: boolean;
}

interface FlowState {
  flow: SyntheticFlow;
  spec: Omit<FrameSpec, 'payload' | 'l4'>;
  reverseSpec: Omit<FrameSpec, 'payload' | 'l4'>;
  overhead: number;
  seq: number;
  rseq: number;
  icmpSeq: number;
}

const TCP_SERVER_PORTS = [80, 443, 22, 25, 110, 143, 993, 3306, 5432, 8080];
// Ports whose dissectors do not tunnel inner IP (no VXLAN/GTP/L2TP/Teredo/Geneve).
const UDP_SERVER_PORTS = [53, 123, 161, 514, 69, 5353];

const mac = (r: Prng): Uint8Array => {
  const m = r.bytes(6);
  m[0] = (m[0] & 0xfc) | 0x02; // locally administered, unicast
  return m;
};

function ipv4(r: Prng, server: boolean): Uint8Array {
  if (server) {
    const nets = [
      [192, 0, 2],
      [198, 51, 100],
      [203, 0, 113],
    ];
    const n = r.pick(nets);
    return Uint8Array.from([n[0], n[1], n[2], r.int(1, 254)]);
  }
  return Uint8Array.from([10, r.int(0, 255), r.int(0, 255), r.int(1, 254)]);
}

/** IPv6 addresses with varied zero runs, so RFC 5952 compression is exercised against tshark. */
function ipv6(r: Prng): Uint8Array {
  const b = new Uint8Array(16);
  const kind = r.int(0, 4);
  b[0] = 0x20;
  b[1] = 0x01;
  b[2] = 0x0d;
  b[3] = 0xb8;
  switch (kind) {
    case 0: // 2001:db8::x
      b[14] = r.int(0, 255);
      b[15] = r.int(1, 255);
      break;
    case 1: // 2001:db8:x:0:0:x:0:x (a zero run of two, then a single zero group)
      b[5] = r.int(1, 255);
      b[11] = r.int(1, 255);
      b[15] = r.int(1, 255);
      break;
    case 2: // fully random interface id
      r.fill(b, 4, 16);
      break;
    case 3: // fe80::/64 link-local
      b.fill(0);
      b[0] = 0xfe;
      b[1] = 0x80;
      r.fill(b, 8, 16);
      break;
    default: // 2001:db8:0:x::x:0 (two zero runs of equal length: the first one is compressed)
      b[7] = r.int(1, 255);
      b[13] = r.int(1, 255);
      break;
  }
  return b;
}

const v4text = (a: Uint8Array): string => `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;

export class SyntheticCapture {
  readonly flows: readonly SyntheticFlow[];
  private readonly states: FlowState[];
  private readonly r: Prng;
  private readonly meanGapUs: number;
  private readonly minSize: number;
  private readonly maxSize: number;
  private tsUs: bigint;
  private count = 0;

  constructor(options: SyntheticOptions = {}) {
    this.r = new Prng(options.seed ?? 1);
    const nFlows = Math.max(1, options.flows ?? 64);
    this.meanGapUs = 1e6 / Math.max(options.rate ?? 10_000, 1e-9);
    this.tsUs = (options.startNs ?? 1_704_067_200_000_000_000n) / 1000n;
    this.minSize = options.minSize ?? 64;
    this.maxSize = options.maxSize ?? 1500;
    const states: FlowState[] = [];
    for (let id = 0; id < nFlows; id++) states.push(this.makeFlow(id, options));
    this.states = states;
    this.flows = states.map((s) => s.flow);
  }

  private makeFlow(id: number, o: SyntheticOptions): FlowState {
    const r = this.r;
    const v6 = r.chance(o.ipv6Share ?? 0.3);
    const kind = r.float();
    const icmp = o.icmpShare ?? 0.08;
    const udp = o.udpShare ?? 0.3;
    const protocol = kind < icmp ? (v6 ? 58 : 1) : kind < icmp + udp ? 17 : 6;
    const src = v6 ? ipv6(r) : ipv4(r, false);
    const dst = v6 ? ipv6(r) : ipv4(r, true);
    const srcPort = protocol === 6 || protocol === 17 ? r.int(32768, 60999) : -1;
    const dstPort = protocol === 6 ? r.pick(TCP_SERVER_PORTS) : protocol === 17 ? r.pick(UDP_SERVER_PORTS) : -1;
    const tagKind = r.float();
    const vlanShare = o.vlanShare ?? 0.15;
    const qinqShare = o.qinqShare ?? 0.05;
    const vlans: VlanTag[] = [];
    if (tagKind < qinqShare) {
      vlans.push(
        { tpid: r.chance(0.8) ? 0x88a8 : 0x9100, vid: r.int(1, 4094) },
        { tpid: 0x8100, vid: r.int(1, 4094), pcp: r.int(0, 7) },
      );
    } else if (tagKind < qinqShare + vlanShare) {
      vlans.push({ tpid: 0x8100, vid: r.int(1, 4094), pcp: r.int(0, 7) });
    }
    const ext: Ipv6ExtHeader[] = [];
    if (v6 && r.chance(0.2)) {
      if (r.chance(0.5)) ext.push({ type: 0 });
      ext.push({ type: 60, units: r.int(0, 1) });
    }
    const srcMac = mac(r);
    const dstMac = mac(r);
    const ip = (a: Uint8Array, b: Uint8Array): FrameSpec['ip'] =>
      v6 ? { version: 6, src: a, dst: b, hopLimit: 64, ext } : { version: 4, src: a, dst: b, ttl: 64, id: 0 };
    const spec = { srcMac, dstMac, vlans, ip: ip(src, dst) };
    const reverseSpec = { srcMac: dstMac, dstMac: srcMac, vlans, ip: ip(dst, src) };
    const flow: SyntheticFlow = {
      id,
      ipVersion: v6 ? 6 : 4,
      protocol,
      srcAddr: v6 ? formatIpv6(src, 0) : v4text(src),
      dstAddr: v6 ? formatIpv6(dst, 0) : v4text(dst),
      srcPort,
      dstPort,
      vlan: vlans.length > 0 ? vlans[0].vid : -1,
      innerVlan: vlans.length > 1 ? vlans[1].vid : -1,
      ext: ext.map((h) => h.type),
    };
    const l4 = this.l4(flow, false, 0);
    const overhead = buildFrame({ ...spec, l4 }).length;
    return { flow, spec, reverseSpec, overhead, seq: r.u32(), rseq: r.u32(), icmpSeq: 0 };
  }

  private l4(flow: SyntheticFlow, reverse: boolean, seq: number, ack = 0): L4Spec {
    const sp = reverse ? flow.dstPort : flow.srcPort;
    const dp = reverse ? flow.srcPort : flow.dstPort;
    switch (flow.protocol) {
      case 6:
        return { proto: 'tcp', srcPort: sp, dstPort: dp, seq, ack, flags: 0x18 };
      case 17:
        return { proto: 'udp', srcPort: sp, dstPort: dp };
      case 1:
        return { proto: 'icmp', type: reverse ? 0 : 8, code: 0, rest: ((flow.id & 0xffff) << 16) | (seq & 0xffff) };
      default:
        return {
          proto: 'icmpv6',
          type: reverse ? 129 : 128,
          code: 0,
          rest: ((flow.id & 0xffff) << 16) | (seq & 0xffff),
        };
    }
  }

  /** Packets produced so far. */
  get produced(): number {
    return this.count;
  }

  next(): SyntheticPacket {
    const r = this.r;
    // Skewed popularity: index = n·u², so low-numbered flows carry most packets.
    const u = r.float();
    const st = this.states[Math.min(this.states.length - 1, Math.floor(this.states.length * u * u))];
    const flow = st.flow;
    const reverse = r.chance(0.4);
    // Sizes: mostly small (ACKs, DNS) or full-size, some in between.
    const k = r.float();
    let size =
      k < 0.45
        ? r.int(this.minSize, Math.max(this.minSize, Math.min(128, this.maxSize)))
        : k < 0.7
          ? r.int(this.minSize, this.maxSize)
          : r.int(Math.max(this.minSize, this.maxSize - 100), this.maxSize);
    if (size < st.overhead) size = st.overhead;
    const payload = r.bytes(size - st.overhead);
    let l4: L4Spec;
    if (flow.protocol === 6) {
      l4 = reverse ? this.l4(flow, true, st.rseq, st.seq) : this.l4(flow, false, st.seq, st.rseq);
      if (reverse) st.rseq = (st.rseq + payload.length) >>> 0;
      else st.seq = (st.seq + payload.length) >>> 0;
    } else {
      l4 = this.l4(flow, reverse, st.icmpSeq);
      if (reverse) st.icmpSeq = (st.icmpSeq + 1) & 0xffff;
    }
    const frame = buildFrame({ ...(reverse ? st.reverseSpec : st.spec), l4, payload });
    const gap = Math.round(-Math.log(1 - r.float()) * this.meanGapUs);
    if (this.count > 0) this.tsUs += BigInt(gap);
    this.count++;
    return { tsNs: this.tsUs * 1000n, frame, flow, reverse };
  }

  *packets(n: number): Generator<SyntheticPacket> {
    for (let i = 0; i < n; i++) yield this.next();
  }
}

/** Writes `packets` synthetic packets to a little-endian µs pcap file. */
export async function writeSyntheticPcap(
  path: string,
  packets: number,
  options: SyntheticOptions = {},
): Promise<{ packets: number; bytes: number; flows: readonly SyntheticFlow[]; firstTsNs: bigint; lastTsNs: bigint }> {
  const gen = new SyntheticCapture(options);
  const w = new PcapFileWriter(createWriteStream(path));
  let first = 0n;
  let last = 0n;
  for (let i = 0; i < packets; i++) {
    const p = gen.next();
    if (i === 0) first = p.tsNs;
    last = p.tsNs;
    await w.writePacket(p.tsNs, p.frame);
  }
  await w.end();
  return { packets, bytes: w.bytes, flows: gen.flows, firstTsNs: first, lastTsNs: last };
}
