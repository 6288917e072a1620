/**
 * DNS over UDP and TCP (Packetbeat's protos/dns): queries wait in a transaction table keyed by
 * transport, client and server address and port, and message id; the matching response completes
 * one event. Queries still waiting after the transaction timeout (packet time) or at the end of
 * input are reported with the note "No response"; responses with no query, "Unmatched response".
 * Over TCP, messages carry a 2-byte length (RFC 1035 §4.2.2) and may span segments.
 */
import { addNote, baseEvent } from '../events/event.js';
import { StreamBuffer } from '../memory.js';
import { TransactionTable } from '../transactions.js';
import type {
  Direction,
  FlowTuple,
  GapResult,
  Packet,
  PacketRef,
  ProtocolContext,
  ProtocolDefinition,
  ProtocolPlugin,
  TcpConnection,
} from '../types.js';
import { type DnsMessage, decodeDns, dnsFields, plausibleDnsHeader } from './dns-message.js';

interface Side {
  msg: DnsMessage;
  tsNs: bigint;
  ref: PacketRef;
  /** Oriented client → server. */
  tuple: FlowTuple;
}

interface TcpState {
  buffers: [StreamBuffer, StreamBuffer];
  /** Time and record of the first segment of the message being assembled, per direction. */
  startTs: [bigint, bigint];
  startRef: [PacketRef | null, PacketRef | null];
}

const reverse = (t: FlowTuple): FlowTuple => ({
  ...t,
  srcIp: t.dstIp,
  dstIp: t.srcIp,
  srcPort: t.dstPort,
  dstPort: t.srcPort,
});

const keyOf = (t: FlowTuple, id: number): string =>
  `${t.transport} ${t.srcIp} ${t.srcPort} ${t.dstIp} ${t.dstPort} ${id}`;

class DnsPlugin implements ProtocolPlugin {
  readonly name = 'dns';
  private readonly pending: TransactionTable<Side>;

  constructor(private readonly ctx: ProtocolContext) {
    this.pending = new TransactionTable(BigInt(ctx.config.transactionTimeoutMs) * 1_000_000n, (q) =>
      this.publish(q, null),
    );
  }

  readonly udp = {
    parseUdp: (pkt: Packet): void => this.message(pkt.payload, pkt.tuple, pkt.tsNs, pkt.ref, pkt.tsNs, pkt.ref),
  };

  readonly tcp = {
    parse: (pkt: Packet, _conn: TcpConnection, dir: Direction, state: TcpState | undefined): TcpState => {
      const s = state ?? this.newTcpState();
      const buf = s.buffers[dir];
      if (buf.length === 0) {
        s.startTs[dir] = pkt.tsNs;
        s.startRef[dir] = pkt.ref;
      }
      if (!buf.append(pkt.payload)) {
        this.ctx.stats.messagesTooLarge++;
        buf.clear();
        return s;
      }
      for (;;) {
        const v = buf.view();
        if (v.length < 2) break;
        const len = (v[0] << 8) | v[1];
        if (v.length < 2 + len) break;
        this.message(v.subarray(2, 2 + len), pkt.tuple, s.startTs[dir], s.startRef[dir] ?? pkt.ref, pkt.tsNs, pkt.ref);
        buf.consume(2 + len);
        s.startTs[dir] = pkt.tsNs;
        s.startRef[dir] = pkt.ref;
      }
      return s;
    },
    receivedFin: (_c: TcpConnection, _d: Direction, state: TcpState | undefined) => state,
    gapInStream: (_c: TcpConnection, dir: Direction, _n: number, state: TcpState | undefined): GapResult<TcpState> => {
      // The 2-byte framing is lost with the bytes: drop the partial message, resync at the next segment.
      state?.buffers[dir].clear();
      return { state, drop: false };
    },
    expired: (_c: TcpConnection, state: TcpState | undefined): void => {
      state?.buffers[0].clear();
      state?.buffers[1].clear();
    },
  };

  tick(nowNs: bigint): void {
    this.pending.expire(nowNs);
  }

  flush(): void {
    this.pending.flush();
  }

  private newTcpState(): TcpState {
    const max = Math.min(this.ctx.config.maxMessageBytes, 65_537);
    return {
      buffers: [new StreamBuffer(this.ctx.memory, max), new StreamBuffer(this.ctx.memory, max)],
      startTs: [0n, 0n],
      startRef: [null, null],
    };
  }

  private message(
    payload: Uint8Array,
    tuple: FlowTuple,
    startTs: bigint,
    startRef: PacketRef,
    endTs: bigint,
    endRef: PacketRef,
  ): void {
    let msg: DnsMessage;
    try {
      msg = decodeDns(payload);
    } catch {
      this.ctx.stats.parseErrors++;
      return;
    }
    if (!msg.response) {
      this.pending.put(keyOf(tuple, msg.id), { msg, tsNs: startTs, ref: startRef, tuple }, startTs);
      return;
    }
    const client = reverse(tuple);
    const query = this.pending.take(keyOf(client, msg.id));
    this.publish(query ?? null, { msg, tsNs: endTs, ref: endRef, tuple: client });
  }

  private publish(query: Side | null, response: Side | null): void {
    const first = (query ?? response) as Side;
    const last = response ?? first;
    const failed = response !== null && response.msg.rcode !== 'NOERROR';
    const e = baseEvent(
      'dns',
      {
        tuple: first.tuple,
        startNs: first.tsNs,
        endNs: last.tsNs,
        firstRef: first.ref,
        lastRef: last.ref,
        clientBytes: query?.msg.size,
        serverBytes: response?.msg.size,
      },
      failed || response === null ? 'Error' : 'OK',
    );
    const dns = dnsFields(query?.msg ?? null, response?.msg ?? null);
    e.dns = dns;
    const q = (dns.question as Record<string, string> | undefined) ?? undefined;
    e.method = (query ?? response)?.msg.opcode;
    if (q) {
      e.query = `class ${q.class}, type ${q.type}, ${q.name}`;
      e.resource = q.name;
    }
    if (response === null) {
      addNote(e, 'No response');
      this.ctx.stats.unmatched++;
    } else if (query === null) {
      addNote(e, 'Unmatched response');
      this.ctx.stats.unmatched++;
    }
    if (response?.msg.flags.truncated_response) addNote(e, 'Response truncated');
    this.ctx.report(e);
  }
}

export const dnsProtocol: ProtocolDefinition = {
  name: 'dns',
  defaultPorts: [53],
  transports: ['udp', 'tcp'],
  sniffUdp: (payload) => plausibleDnsHeader(payload),
  sniffTcp: (payload) => {
    if (payload.length < 19) return null;
    const len = (payload[0] << 8) | payload[1];
    // The first segment of a DNS-over-TCP stream starts with a whole message or its beginning.
    if (len < 17 || len + 2 < payload.length) return null;
    return plausibleDnsHeader(payload, 2);
  },
  create: (ctx) => new DnsPlugin(ctx),
};
