/**
 * Frames for protocol tests: TCP conversations with real sequence numbers (so tests can reorder,
 * duplicate, overlap and drop segments), UDP datagrams, and IPv4/IPv6 fragments of a datagram.
 */
import { buildFrame, buildIpPacket } from '../support/frame-builder.js';

export const CLIENT = Uint8Array.from([10, 0, 0, 1]);
export const SERVER = Uint8Array.from([10, 0, 0, 2]);
export const CLIENT6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]);
export const SERVER6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2]);

const SYN = 2;
const ACK = 16;
const PSH = 8;
const FIN = 1;

export interface Segment {
  fromClient: boolean;
  seq: number;
  flags: number;
  payload: Uint8Array;
}

/**
 * A TCP conversation: handshake, the client's messages then the server's, each split into
 * segments of at most `mss` bytes, then FINs. Returns segments (to reorder) and a frame maker.
 */
export class TcpConversation {
  readonly segments: Segment[] = [];
  private seq: [number, number];

  constructor(
    readonly clientPort = 40000,
    readonly serverPort = 80,
    isn: [number, number] = [1000, 5000],
    handshake = true,
  ) {
    this.seq = [isn[0], isn[1]];
    if (handshake) {
      this.segments.push({ fromClient: true, seq: isn[0], flags: SYN, payload: new Uint8Array(0) });
      this.segments.push({ fromClient: false, seq: isn[1], flags: SYN | ACK, payload: new Uint8Array(0) });
    }
    this.seq = [(isn[0] + 1) >>> 0, (isn[1] + 1) >>> 0];
  }

  send(fromClient: boolean, data: string | Uint8Array, mss = 1400): this {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const side = fromClient ? 0 : 1;
    for (let p = 0; p < bytes.length; p += mss) {
      const chunk = bytes.subarray(p, Math.min(bytes.length, p + mss));
      this.segments.push({ fromClient, seq: this.seq[side], flags: ACK | PSH, payload: chunk });
      this.seq[side] = (this.seq[side] + chunk.length) >>> 0;
    }
    return this;
  }

  fin(fromClient: boolean): this {
    const side = fromClient ? 0 : 1;
    this.segments.push({ fromClient, seq: this.seq[side], flags: FIN | ACK, payload: new Uint8Array(0) });
    this.seq[side] = (this.seq[side] + 1) >>> 0;
    return this;
  }

  frame(s: Segment): Buffer {
    return buildFrame({
      ip: { version: 4, src: s.fromClient ? CLIENT : SERVER, dst: s.fromClient ? SERVER : CLIENT },
      l4: {
        proto: 'tcp',
        srcPort: s.fromClient ? this.clientPort : this.serverPort,
        dstPort: s.fromClient ? this.serverPort : this.clientPort,
        seq: s.seq,
        flags: s.flags,
      },
      payload: s.payload,
    });
  }

  frames(order: Segment[] = this.segments): Buffer[] {
    return order.map((s) => this.frame(s));
  }
}

export function udpFrame(
  payload: Uint8Array,
  fromClient: boolean,
  clientPort = 33333,
  serverPort = 53,
  v6 = false,
): Buffer {
  return buildFrame({
    ip: v6
      ? { version: 6, src: fromClient ? CLIENT6 : SERVER6, dst: fromClient ? SERVER6 : CLIENT6 }
      : { version: 4, src: fromClient ? CLIENT : SERVER, dst: fromClient ? SERVER : CLIENT },
    l4: { proto: 'udp', srcPort: fromClient ? clientPort : serverPort, dstPort: fromClient ? serverPort : clientPort },
    payload,
  });
}

/** Splits a UDP datagram into IP fragments carrying `chunk` bytes each (a multiple of 8). */
export function fragmentUdp(
  payload: Uint8Array,
  fromClient: boolean,
  chunk: number,
  id: number,
  v6 = false,
  clientPort = 33333,
  serverPort = 53,
): Buffer[] {
  const src = v6 ? (fromClient ? CLIENT6 : SERVER6) : fromClient ? CLIENT : SERVER;
  const dst = v6 ? (fromClient ? SERVER6 : CLIENT6) : fromClient ? SERVER : CLIENT;
  const whole = buildIpPacket(
    v6 ? { version: 6, src, dst } : { version: 4, src, dst },
    { proto: 'udp', srcPort: fromClient ? clientPort : serverPort, dstPort: fromClient ? serverPort : clientPort },
    payload,
  );
  const body = whole.subarray(v6 ? 40 : 20);
  const out: Buffer[] = [];
  for (let off = 0; off < body.length; off += chunk) {
    const part = body.subarray(off, Math.min(body.length, off + chunk));
    const more = off + chunk < body.length;
    out.push(
      buildFrame({
        ip: v6
          ? { version: 6, src, dst, ext: [{ type: 44, offset: off, more, id }] }
          : { version: 4, src, dst, id, fragmentOffset: off, moreFragments: more },
        l4: { proto: 'raw', number: 17 },
        payload: part,
      }),
    );
  }
  return out;
}
