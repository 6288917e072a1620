/**
 * SIP over UDP and TCP (Packetbeat's protos/sip, which reports one event per message): here a
 * request and its final response (matched on Call-ID, CSeq number and method) make one event
 * with `event.duration`; provisional responses (1xx) are listed on it; ACK, which has no
 * response, and responses with no request are reported alone; requests left without a final
 * response by the transaction timeout or the end of input are reported with "No response".
 */
import { addNote, baseEvent } from '../events/event.js';
import { StreamBuffer } from '../memory.js';
import { TransactionTable } from '../transactions.js';
import type {
  AppEvent,
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
import { type SipMessage, header, nameAddr, parseSipHead, sipHeaderEnd } from './sip-message.js';

interface Seen {
  msg: SipMessage;
  tuple: FlowTuple;
  tsNs: bigint;
  ref: PacketRef;
  provisional: number[];
}

const MAX_MESSAGE = 64 * 1024;

function cseq(m: SipMessage): { code: number; method: string } | null {
  const v = header(m, 'cseq');
  const r = v ? /^(\d+)\s+(\S+)/.exec(v) : null;
  return r ? { code: Number(r[1]), method: r[2].toUpperCase() } : null;
}

class SipPlugin implements ProtocolPlugin {
  readonly name = 'sip';
  private readonly pending: TransactionTable<Seen>;

  constructor(private readonly ctx: ProtocolContext) {
    this.pending = new TransactionTable(BigInt(ctx.config.transactionTimeoutMs) * 1_000_000n, (r) =>
      this.publish(r, null),
    );
  }

  readonly udp = {
    parseUdp: (pkt: Packet): void => {
      const text = Buffer.from(pkt.payload.buffer, pkt.payload.byteOffset, pkt.payload.length).toString('latin1');
      const end = sipHeaderEnd(text);
      const m = parseSipHead(end < 0 ? text : text.slice(0, end));
      if (m === null) {
        this.ctx.stats.parseErrors++;
        return;
      }
      this.message({ msg: m, tuple: pkt.tuple, tsNs: pkt.tsNs, ref: pkt.ref, provisional: [] });
    },
  };

  readonly tcp = {
    parse: (pkt: Packet, _c: TcpConnection, dir: Direction, state: [StreamBuffer, StreamBuffer] | undefined) => {
      const s = state ?? [
        new StreamBuffer(this.ctx.memory, MAX_MESSAGE),
        new StreamBuffer(this.ctx.memory, MAX_MESSAGE),
      ];
      const buf = s[dir];
      if (!buf.append(pkt.payload)) {
        this.ctx.stats.messagesTooLarge++;
        buf.clear();
        return s;
      }
      for (;;) {
        const v = buf.view();
        // skip keep-alive CRLFs (RFC 5626 §3.5.1)
        let skip = 0;
        while (skip < v.length && (v[skip] === 13 || v[skip] === 10)) skip++;
        if (skip > 0) {
          buf.consume(skip);
          continue;
        }
        const text = Buffer.from(v.buffer, v.byteOffset, v.length).toString('latin1');
        const end = sipHeaderEnd(text);
        if (end < 0) break;
        const m = parseSipHead(text.slice(0, end));
        if (m === null) {
          this.ctx.stats.parseErrors++;
          buf.clear();
          break;
        }
        if (v.length < end + m.contentLength) break;
        buf.consume(end + m.contentLength);
        this.message({ msg: m, tuple: pkt.tuple, tsNs: pkt.tsNs, ref: pkt.ref, provisional: [] });
      }
      return s;
    },
    receivedFin: (_c: TcpConnection, _d: Direction, state: [StreamBuffer, StreamBuffer] | undefined) => state,
    gapInStream: (
      _c: TcpConnection,
      dir: Direction,
      _n: number,
      state: [StreamBuffer, StreamBuffer] | undefined,
    ): GapResult<[StreamBuffer, StreamBuffer]> => {
      state?.[dir].clear();
      return { state, drop: false };
    },
    expired: (_c: TcpConnection, state: [StreamBuffer, StreamBuffer] | undefined) => {
      state?.[0].clear();
      state?.[1].clear();
    },
  };

  tick(nowNs: bigint): void {
    this.pending.expire(nowNs);
  }

  flush(): void {
    this.pending.flush();
  }

  private message(seen: Seen): void {
    const m = seen.msg;
    const cs = cseq(m);
    const callId = header(m, 'call-id') ?? '';
    if (m.isRequest) {
      if (m.method === 'ACK' || cs === null) this.publish(seen, null);
      else this.pending.put(`${callId} ${cs.code} ${cs.method}`, seen, seen.tsNs);
      return;
    }
    const key = cs ? `${callId} ${cs.code} ${cs.method}` : '';
    if (m.statusCode < 200) {
      const req = this.pending.take(key);
      if (req) {
        req.provisional.push(m.statusCode);
        this.pending.put(key, req, req.tsNs);
      } else this.publish(null, seen);
      return;
    }
    const req = this.pending.take(key);
    this.publish(req ?? null, seen);
  }

  private publish(req: Seen | null, resp: Seen | null): void {
    const first = (req ?? resp) as Seen;
    const last = resp ?? first;
    const tuple = req
      ? req.tuple
      : {
          ...first.tuple,
          srcIp: first.tuple.dstIp,
          dstIp: first.tuple.srcIp,
          srcPort: first.tuple.dstPort,
          dstPort: first.tuple.srcPort,
        };
    const e = baseEvent(
      'sip',
      {
        tuple,
        startNs: first.tsNs,
        endNs: last.tsNs,
        firstRef: first.ref,
        lastRef: last.ref,
        clientBytes: req ? req.msg.headerBytes + req.msg.contentLength : undefined,
        serverBytes: resp ? resp.msg.headerBytes + resp.msg.contentLength : undefined,
      },
      resp !== null && resp.msg.statusCode >= 400 ? 'Error' : 'OK',
    );
    e.sip = this.fields(req, resp);
    if (req && resp === null && req.msg.method !== 'ACK') {
      addNote(e, 'No response');
      this.ctx.stats.unmatched++;
    } else if (req === null && resp) {
      addNote(e, 'Unmatched response');
      this.ctx.stats.unmatched++;
    }
    this.ctx.report(e);
  }

  private fields(req: Seen | null, resp: Seen | null): AppEvent {
    const m = (req ?? resp) as Seen;
    const msg = m.msg;
    const sip: AppEvent = {
      type: req && resp ? 'transaction' : req ? 'request' : 'response',
      version: msg.version,
    };
    if (req) {
      sip.method = req.msg.method;
      sip.uri = { original: req.msg.uri };
      const ua = header(req.msg, 'user-agent');
      if (ua) sip.user_agent = { original: ua };
    }
    if (resp) {
      sip.status = { code: resp.msg.statusCode, reason: resp.msg.reason };
      if (!req) {
        const cs = cseq(resp.msg);
        if (cs) sip.method = cs.method;
      }
      const server = header(resp.msg, 'server');
      if (server) sip.server = { original: server };
    }
    if (req && req.provisional.length > 0) sip.provisional_responses = req.provisional;
    const from = nameAddr(header(msg, 'from'));
    if (from) sip.from = from;
    const to = nameAddr(header((resp ?? m).msg, 'to'));
    if (to) sip.to = to;
    const callId = header(msg, 'call-id');
    if (callId) sip.call_id = callId;
    const cs = cseq(msg);
    if (cs) sip.cseq = cs;
    const via = msg.headers.get('via');
    if (via) sip.via = { original: via };
    const contact = nameAddr(header(msg, 'contact'));
    if (contact) sip.contact = contact;
    return sip;
  }
}

export const sipProtocol: ProtocolDefinition = {
  name: 'sip',
  defaultPorts: [5060, 5061],
  transports: ['udp', 'tcp'],
  sniffUdp: (b) => {
    const head = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, 128)).toString('latin1');
    if (/^SIP\/2\.0 \d{3} /.test(head)) return 1;
    if (/^[A-Z]{3,10} sips?:\S+ SIP\/2\.0\r?\n/.test(head)) return 0;
    return null;
  },
  create: (ctx) => new SipPlugin(ctx),
};
