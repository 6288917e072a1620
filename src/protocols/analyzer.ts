/**
 * The analyzer: frames in (any order the input has, stamped with packet time), ECS events out.
 * Decoding reuses src/packet/decode.ts into one reused PacketFields; fragments go through the
 * defragmenter and the rebuilt datagram is decoded again; TCP goes to the connection tracker
 * (reassembly, then plugins), UDP datagrams and ICMP messages straight to their plugin.
 *
 * The clock is the packets' time: timeouts (transactions, connections, fragments, reorder window)
 * run when packet time passes them, so replaying a year-old capture behaves as it did live, and
 * `finish()` at the end of input flushes everything in flight (Packetbeat loses it, #8255).
 */
import { LINKTYPE_RAW, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, decodeFrame } from '../packet/decode.js';
import { createPacketFields, type PacketFields } from '../packet/packet-fields.js';
import { Defragmenter, type DefragOptions } from './defrag/defragmenter.js';
import { ByteBudget } from './memory.js';
import { TcpTracker, type TcpTrackerOptions } from './reassembly/tcp-tracker.js';
import { Dispatch, type ProtocolSettings } from './registry.js';
import { type AnalyzerStats, createStats } from './stats.js';
import type { AppEvent, FlowTuple, PacketRef, Reporter } from './types.js';
import { registerBuiltinProtocols } from './builtin.js';

export interface AnalyzerOptions {
  /** Per-protocol settings by name (ports, timeouts, `enabled: false`); unnamed protocols run with their defaults. */
  protocols?: Readonly<Record<string, ProtocolSettings>>;
  /** Try content sniffers on traffic whose ports match no protocol (default true). */
  contentDispatch?: boolean;
  /** Bytes all buffers together may hold: reorder buffers, fragments, partial messages (default 256 MiB). */
  memoryLimitBytes?: number;
  tcp?: TcpTrackerOptions;
  defrag?: DefragOptions;
}

/** How often (in packet time) timeouts are checked. */
const SWEEP_INTERVAL_NS = 1_000_000_000n;
const u32 = (b: Uint8Array, o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

export class Analyzer {
  readonly stats: AnalyzerStats = createStats();
  readonly memory: ByteBudget;
  private readonly dispatch: Dispatch;
  private readonly tcp: TcpTracker;
  private readonly defrag: Defragmenter;
  private readonly fields: PacketFields = createPacketFields();
  private readonly inner: PacketFields = createPacketFields();
  private nowNs = 0n;
  private nextSweepNs = -1n;
  private finished = false;

  constructor(report: Reporter, options: AnalyzerOptions = {}) {
    registerBuiltinProtocols();
    this.memory = new ByteBudget(options.memoryLimitBytes ?? 256 * 1024 * 1024);
    const counted: Reporter = (e: AppEvent) => {
      this.stats.events++;
      report(e);
    };
    this.dispatch = new Dispatch(
      options.protocols ?? {},
      counted,
      this.memory,
      this.stats,
      options.contentDispatch ?? true,
    );
    this.tcp = new TcpTracker(this.dispatch, this.memory, this.stats, options.tcp);
    this.defrag = new Defragmenter(this.memory, this.stats, options.defrag);
  }

  /** The packet clock: the latest packet time seen. */
  get now(): bigint {
    return this.nowNs;
  }

  get openConnections(): number {
    return this.tcp.connections;
  }

  /** One captured frame, buf[offset, offset+length), of link type `linkType`. */
  packet(buf: Uint8Array, offset: number, length: number, linkType: number, tsNs: bigint, ref: PacketRef): void {
    if (this.finished) throw new Error('Analyzer.packet after finish');
    const f = this.fields;
    this.stats.packets++;
    this.stats.bytes += length;
    if (tsNs > this.nowNs) this.nowNs = tsNs;
    if (this.nowNs >= this.nextSweepNs) this.sweep();
    decodeFrame(buf, offset, length, linkType, f);
    f.tsNs = tsNs;
    if (f.ipVersion === 0) {
      if (f.error !== null) this.stats.undecodable++;
      else this.stats.ignored++;
      return;
    }
    if (f.fragment) {
      const datagram = this.defrag.push(buf, f, tsNs);
      if (datagram === null) return;
      const g = this.inner;
      decodeFrame(datagram, 0, datagram.length, LINKTYPE_RAW, g);
      g.tsNs = tsNs;
      this.transport(datagram, g, tsNs, ref);
      return;
    }
    this.transport(buf, f, tsNs, ref);
  }

  /** End of input: expire everything, so every transaction in flight is reported. Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.tcp.flush();
    this.defrag.flush();
    for (const p of this.dispatch.plugins) p.flush?.();
  }

  /** Timeouts only (streaming mode calls this when partitions are idle, so time-outs still fire). */
  advanceTo(nowNs: bigint): void {
    if (nowNs > this.nowNs) this.nowNs = nowNs;
    if (this.nowNs >= this.nextSweepNs) this.sweep();
  }

  private sweep(): void {
    this.nextSweepNs = this.nowNs + SWEEP_INTERVAL_NS;
    this.tcp.tick(this.nowNs);
    this.defrag.expire(this.nowNs);
    for (const p of this.dispatch.plugins) p.tick?.(this.nowNs);
  }

  private transport(buf: Uint8Array, f: PacketFields, tsNs: bigint, ref: PacketRef): void {
    const proto = f.protocol;
    if (proto === PROTO_TCP) {
      if (f.payloadOffset < 0) {
        this.stats.undecodable++;
        return;
      }
      this.tcp.segment({
        srcIp: f.srcAddr as string,
        dstIp: f.dstAddr as string,
        srcPort: f.srcPort,
        dstPort: f.dstPort,
        ipVersion: f.ipVersion as 4 | 6,
        seq: u32(buf, f.l4Offset + 4),
        flags: f.tcpFlags,
        payload: buf.subarray(f.payloadOffset, f.payloadOffset + f.payloadLength),
        tsNs,
        ref,
      });
    } else if (proto === PROTO_UDP) {
      if (f.payloadOffset < 0) {
        this.stats.undecodable++;
        return;
      }
      this.udp(buf, f, tsNs, ref);
    } else if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
      if (f.l4Offset < 0) {
        this.stats.undecodable++;
        return;
      }
      this.icmp(buf, f, tsNs, ref);
    } else this.stats.ignored++;
  }

  private udp(buf: Uint8Array, f: PacketFields, tsNs: bigint, ref: PacketRef): void {
    this.stats.udpDatagrams++;
    const payload = buf.subarray(f.payloadOffset, f.payloadOffset + f.payloadLength);
    const d = this.dispatch;
    const plugin = d.udpByPort.get(f.dstPort) ?? d.udpByPort.get(f.srcPort) ?? d.sniffUdp(payload)?.plugin;
    if (plugin?.udp === undefined) {
      this.stats.unclassified++;
      return;
    }
    const tuple: FlowTuple = {
      ipVersion: f.ipVersion as 4 | 6,
      transport: 'udp',
      srcIp: f.srcAddr as string,
      dstIp: f.dstAddr as string,
      srcPort: f.srcPort,
      dstPort: f.dstPort,
    };
    try {
      plugin.udp.parseUdp({ tsNs, tuple, payload, ref });
    } catch {
      this.stats.parseErrors++;
    }
  }

  private icmp(buf: Uint8Array, f: PacketFields, tsNs: bigint, ref: PacketRef): void {
    this.stats.icmpPackets++;
    if (this.dispatch.icmp.length === 0) return;
    const end = f.payloadOffset >= 0 ? f.payloadOffset + f.payloadLength : f.frameOffset + f.length;
    const tuple: FlowTuple = {
      ipVersion: f.ipVersion as 4 | 6,
      transport: f.protocol === PROTO_ICMP ? 'icmp' : 'ipv6-icmp',
      srcIp: f.srcAddr as string,
      dstIp: f.dstAddr as string,
      srcPort: f.icmpType,
      dstPort: f.icmpCode,
    };
    const pkt = { tsNs, tuple, payload: buf.subarray(f.l4Offset, end), ref };
    for (const p of this.dispatch.icmp) {
      try {
        p.icmp?.parseIcmp(pkt);
      } catch {
        this.stats.parseErrors++;
      }
    }
  }
}
