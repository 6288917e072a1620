/**
 * ICMP and ICMPv6: echo, timestamp, information and address-mask requests paired with their
 * replies (key: addresses, identifier, sequence) into one event with `event.duration`, as
 * Packetbeat's icmp does; error messages (unreachable, time exceeded, ...) and other types are
 * reported on their own. Field names follow Packetbeat: `icmp.version`, `icmp.request.*`,
 * `icmp.response.*`.
 */
import { addNote, baseEvent } from '../events/event.js';
import { TransactionTable } from '../transactions.js';
import type { Packet, ProtocolContext, ProtocolDefinition, ProtocolPlugin } from '../types.js';

// request type → reply type
const V4_REQUESTS = new Map([
  [8, 0],
  [13, 14],
  [15, 16],
  [17, 18],
]);
const V6_REQUESTS = new Map([[128, 129]]);
const V4_REPLIES = new Map([...V4_REQUESTS].map(([a, b]) => [b, a]));
const V6_REPLIES = new Map([...V6_REQUESTS].map(([a, b]) => [b, a]));

const V4_NAMES: Record<number, string> = {
  0: 'Echo Reply',
  3: 'Destination Unreachable',
  4: 'Source Quench',
  5: 'Redirect',
  8: 'Echo Request',
  9: 'Router Advertisement',
  10: 'Router Solicitation',
  11: 'Time Exceeded',
  12: 'Parameter Problem',
  13: 'Timestamp Request',
  14: 'Timestamp Reply',
  15: 'Information Request',
  16: 'Information Reply',
  17: 'Address Mask Request',
  18: 'Address Mask Reply',
};
const V6_NAMES: Record<number, string> = {
  1: 'Destination Unreachable',
  2: 'Packet Too Big',
  3: 'Time Exceeded',
  4: 'Parameter Problem',
  128: 'Echo Request',
  129: 'Echo Reply',
  133: 'Router Solicitation',
  134: 'Router Advertisement',
  135: 'Neighbor Solicitation',
  136: 'Neighbor Advertisement',
  137: 'Redirect',
};

interface Message {
  pkt: Packet;
  type: number;
  code: number;
  bytes: number;
}

function describe(m: Message, v6: boolean): Record<string, unknown> {
  return {
    type: m.type,
    code: m.code,
    message: (v6 ? V6_NAMES : V4_NAMES)[m.type] ?? `Type ${m.type}`,
    bytes: m.bytes,
  };
}

function isError(type: number, v6: boolean): boolean {
  return v6 ? type < 128 : type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

class IcmpPlugin implements ProtocolPlugin {
  readonly name = 'icmp';
  readonly icmp = { parseIcmp: (pkt: Packet) => this.parseIcmp(pkt) };
  private readonly pending: TransactionTable<Message>;

  constructor(private readonly ctx: ProtocolContext) {
    this.pending = new TransactionTable(BigInt(ctx.config.transactionTimeoutMs) * 1_000_000n, (m) =>
      this.publish(m, null),
    );
  }

  tick(nowNs: bigint): void {
    this.pending.expire(nowNs);
  }

  flush(): void {
    this.pending.flush();
  }

  private parseIcmp(pkt: Packet): void {
    const b = pkt.payload;
    if (b.length < 4) return;
    const v6 = pkt.tuple.transport === 'ipv6-icmp';
    const m: Message = { pkt: { ...pkt, payload: new Uint8Array(0) }, type: b[0], code: b[1], bytes: b.length };
    const t = pkt.tuple;
    const ident = b.length >= 8 ? `${(b[4] << 8) | b[5]} ${(b[6] << 8) | b[7]}` : '';
    if ((v6 ? V6_REQUESTS : V4_REQUESTS).has(m.type)) {
      this.pending.put(`${t.srcIp} ${t.dstIp} ${m.type} ${ident}`, m, pkt.tsNs);
      return;
    }
    const requestType = (v6 ? V6_REPLIES : V4_REPLIES).get(m.type);
    if (requestType !== undefined) {
      const req = this.pending.take(`${t.dstIp} ${t.srcIp} ${requestType} ${ident}`);
      if (req !== undefined) this.publish(req, m);
      else this.publish(null, m);
      return;
    }
    // Errors and other messages stand alone; an error is the answer to something we did not track.
    if (isError(m.type, v6)) this.publish(null, m);
    else this.publish(m, null);
  }

  private publish(req: Message | null, resp: Message | null): void {
    const first = (req ?? resp) as Message;
    const last = resp ?? first;
    const v6 = first.pkt.tuple.transport === 'ipv6-icmp';
    const error = resp !== null && isError(resp.type, v6);
    const e = baseEvent(
      'icmp',
      {
        tuple: first.pkt.tuple,
        startNs: first.pkt.tsNs,
        endNs: last.pkt.tsNs,
        firstRef: first.pkt.ref,
        lastRef: last.pkt.ref,
        clientBytes: req?.bytes,
        serverBytes: resp?.bytes,
      },
      error ? 'Error' : 'OK',
    );
    const icmp: Record<string, unknown> = { version: v6 ? 6 : 4 };
    if (req) icmp.request = describe(req, v6);
    if (resp) icmp.response = describe(resp, v6);
    e.icmp = icmp;
    if (req !== null && resp === null && (v6 ? V6_REQUESTS : V4_REQUESTS).has(req.type)) {
      addNote(e, 'Unmatched request');
      this.ctx.stats.unmatched++;
    }
    if (req === null && resp !== null && !error) {
      addNote(e, 'Unmatched response');
      this.ctx.stats.unmatched++;
    }
    this.ctx.report(e);
  }
}

export const icmpProtocol: ProtocolDefinition = {
  name: 'icmp',
  defaultPorts: [],
  transports: ['icmp'],
  create: (ctx) => new IcmpPlugin(ctx),
};
