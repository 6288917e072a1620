/**
 * TLS (Packetbeat's protos/tls): one event per connection with what the cleartext handshake
 * shows: ClientHello (server name, ALPN offers, versions, JA3, JA4), ServerHello (version,
 * cipher, chosen ALPN, JA3S, resumption) and, up to TLS 1.2, the server certificate (subject,
 * issuer, validity, SHA-1), read with Node's crypto.X509Certificate. The event is sent when both
 * sides have switched to encrypted records (`tls.established`), or when the connection ends,
 * breaks (gap) or times out before that. Encrypted records are skipped, never buffered.
 */
import { X509Certificate } from 'node:crypto';
import { addNote, baseEvent } from '../events/event.js';
import { StreamBuffer } from '../memory.js';
import type {
  Direction,
  GapResult,
  Packet,
  PacketRef,
  ProtocolContext,
  ProtocolDefinition,
  ProtocolPlugin,
  TcpConnection,
} from '../types.js';
import { cipherSuiteName, versionFields } from './cipher-suites.js';
import { ja3, ja3s, ja4 } from './fingerprints.js';
import {
  type ClientHello,
  type ServerHello,
  TlsParseError,
  parseCertificateList,
  parseClientHello,
  parseServerHello,
} from './handshake.js';

const CT_CHANGE_CIPHER_SPEC = 20;
const CT_ALERT = 21;
const CT_HANDSHAKE = 22;
const CT_APPLICATION_DATA = 23;
const MAX_RECORD = 16384 + 2048;
const MAX_HANDSHAKE = 256 * 1024;

const ALERTS: Record<number, string> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  40: 'handshake_failure',
  42: 'bad_certificate',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  50: 'decode_error',
  51: 'decrypt_error',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  109: 'missing_extension',
  110: 'unsupported_extension',
  112: 'unrecognized_name',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

interface Side {
  header: Uint8Array;
  headerLen: number;
  /** Body bytes of the current record still to come, and whether they are kept. */
  remaining: number;
  keep: boolean;
  type: number;
  record: StreamBuffer;
  handshake: StreamBuffer;
  encrypted: boolean;
}

interface TlsState {
  sides: [Side, Side];
  client: ClientHello | null;
  server: ServerHello | null;
  certificates: [Uint8Array[] | null, Uint8Array[] | null];
  alerts: { level: string; description: string; from: Direction }[];
  startNs: bigint;
  firstRef: PacketRef | null;
  endNs: bigint;
  lastRef: PacketRef | null;
  published: boolean;
  broken: boolean;
}

class TlsPlugin implements ProtocolPlugin {
  readonly name = 'tls';

  constructor(private readonly ctx: ProtocolContext) {}

  readonly tcp = {
    parse: (pkt: Packet, conn: TcpConnection, dir: Direction, state: TlsState | undefined): TlsState => {
      const s = state ?? this.newState(pkt);
      if (s.published || s.broken) return s;
      s.endNs = pkt.tsNs;
      s.lastRef = pkt.ref;
      try {
        this.feed(s, dir, pkt.payload);
      } catch (err) {
        if (!(err instanceof TlsParseError)) throw err;
        this.ctx.stats.parseErrors++;
        s.broken = true;
        this.publish(conn, s, 'Malformed TLS record');
        return s;
      }
      if (s.server !== null && s.sides[0].encrypted && s.sides[1].encrypted) this.publish(conn, s);
      return s;
    },
    receivedFin: (conn: TcpConnection, _dir: Direction, state: TlsState | undefined) => {
      if (state && !state.published) this.publish(conn, state);
      return state;
    },
    gapInStream: (
      conn: TcpConnection,
      _dir: Direction,
      _n: number,
      state: TlsState | undefined,
    ): GapResult<TlsState> => {
      if (state && !state.published) this.publish(conn, state, 'Packet loss during the handshake');
      return { state, drop: true };
    },
    expired: (conn: TcpConnection, state: TlsState | undefined): void => {
      if (state && !state.published) this.publish(conn, state);
      if (state) for (const side of state.sides) this.release(side);
    },
  };

  private newState(pkt: Packet): TlsState {
    const side = (): Side => ({
      header: new Uint8Array(5),
      headerLen: 0,
      remaining: 0,
      keep: false,
      type: 0,
      record: new StreamBuffer(this.ctx.memory, MAX_RECORD),
      handshake: new StreamBuffer(this.ctx.memory, MAX_HANDSHAKE),
      encrypted: false,
    });
    return {
      sides: [side(), side()],
      client: null,
      server: null,
      certificates: [null, null],
      alerts: [],
      startNs: pkt.tsNs,
      firstRef: pkt.ref,
      endNs: pkt.tsNs,
      lastRef: pkt.ref,
      published: false,
      broken: false,
    };
  }

  private release(side: Side): void {
    side.record.clear();
    side.handshake.clear();
  }

  /** Walks records: headers are collected byte by byte, handshake/alert bodies kept, the rest skipped. */
  private feed(s: TlsState, dir: Direction, data: Uint8Array): void {
    const side = s.sides[dir];
    let p = 0;
    while (p < data.length) {
      if (side.remaining === 0) {
        const n = Math.min(5 - side.headerLen, data.length - p);
        side.header.set(data.subarray(p, p + n), side.headerLen);
        side.headerLen += n;
        p += n;
        if (side.headerLen < 5) return;
        side.headerLen = 0;
        const h = side.header;
        const type = h[0];
        const len = (h[3] << 8) | h[4];
        if (type < CT_CHANGE_CIPHER_SPEC || type > CT_APPLICATION_DATA || h[1] !== 3 || len > MAX_RECORD)
          throw new TlsParseError('not a TLS record');
        side.type = type;
        side.keep = !side.encrypted && (type === CT_HANDSHAKE || type === CT_ALERT);
        if (type === CT_CHANGE_CIPHER_SPEC || type === CT_APPLICATION_DATA) side.encrypted = true;
        side.remaining = len;
        if (len === 0) continue;
      }
      const n = Math.min(side.remaining, data.length - p);
      if (side.keep && !side.record.append(data.subarray(p, p + n))) throw new TlsParseError('record too large');
      side.remaining -= n;
      p += n;
      if (side.remaining === 0 && side.keep) {
        this.record(s, dir, side);
        side.record.clear();
      }
    }
  }

  private record(s: TlsState, dir: Direction, side: Side): void {
    const body = side.record.view();
    if (side.type === CT_ALERT) {
      if (body.length === 2)
        s.alerts.push({
          level: body[0] === 2 ? 'fatal' : 'warning',
          description: ALERTS[body[1]] ?? `alert_${body[1]}`,
          from: dir,
        });
      return;
    }
    if (!side.handshake.append(body)) throw new TlsParseError('handshake too large');
    for (;;) {
      const v = side.handshake.view();
      if (v.length < 4) return;
      const len = (v[1] << 16) | (v[2] << 8) | v[3];
      if (len > MAX_HANDSHAKE) throw new TlsParseError('handshake message too large');
      if (v.length < 4 + len) return;
      const msg = v.subarray(4, 4 + len);
      switch (v[0]) {
        case 1:
          if (s.client === null) s.client = parseClientHello(msg);
          break;
        case 2:
          if (s.server === null) {
            s.server = parseServerHello(msg);
            // TLS 1.3: everything after the ServerHello is encrypted, whatever the record type says.
            if (s.server.selectedVersion === 0x0304) side.encrypted = true;
          }
          break;
        case 11:
          if (s.certificates[dir] === null) s.certificates[dir] = parseCertificateList(msg);
          break;
      }
      side.handshake.consume(4 + len);
      if (side.encrypted) {
        side.handshake.clear();
        return;
      }
    }
  }

  private publish(conn: TcpConnection, s: TlsState, note?: string): void {
    s.published = true;
    for (const side of s.sides) this.release(side);
    if (s.client === null && s.server === null) return; // never a TLS handshake: nothing to say
    const established = s.server !== null && s.sides[0].encrypted && s.sides[1].encrypted;
    const e = baseEvent(
      'tls',
      {
        tuple: {
          ipVersion: conn.ipVersion,
          transport: 'tcp',
          srcIp: conn.clientIp,
          dstIp: conn.serverIp,
          srcPort: conn.clientPort,
          dstPort: conn.serverPort,
        },
        startNs: s.startNs,
        endNs: s.endNs,
        firstRef: s.firstRef as PacketRef,
        lastRef: s.lastRef as PacketRef,
        clientBytes: conn.bytes[0],
        serverBytes: conn.bytes[1],
      },
      established && !s.alerts.some((a) => a.level === 'fatal') ? 'OK' : 'Error',
    );
    const tls: Record<string, unknown> = {};
    const detailed: Record<string, unknown> = {};
    const c = s.client;
    const sv = s.server;
    const version = sv ? (sv.selectedVersion ?? sv.legacyVersion) : null;
    if (version !== null) Object.assign(tls, versionFields(version));
    if (sv) {
      tls.cipher = cipherSuiteName(sv.cipher);
      tls.resumed =
        sv.pskAccepted ||
        (version !== 0x0304 &&
          c !== null &&
          c.sessionId.length > 0 &&
          Buffer.from(sv.sessionId).equals(Buffer.from(c.sessionId)));
      if (sv.alpn !== null) tls.next_protocol = sv.alpn;
      tls.server = { ja3s: ja3s(sv) };
      detailed.server_hello = { version: versionFields(sv.legacyVersion).version };
    }
    tls.established = established;
    if (c) {
      const client: Record<string, unknown> = {
        ja3: ja3(c),
        ja4: ja4(c),
        supported_ciphers: c.ciphers.filter((x) => (x & 0x0f0f) !== 0x0a0a).map(cipherSuiteName),
      };
      if (c.serverName !== null) {
        client.server_name = c.serverName;
        (e.destination as Record<string, unknown>).domain = c.serverName;
        (e.server as Record<string, unknown>).domain = c.serverName;
        (e.related as Record<string, unknown>).hosts = [c.serverName];
      }
      tls.client = client;
      const ext: Record<string, unknown> = {};
      if (c.alpn.length > 0) ext.application_layer_protocol_negotiation = c.alpn;
      if (c.supportedVersions.length > 0)
        ext.supported_versions = c.supportedVersions
          .filter((x) => (x & 0x0f0f) !== 0x0a0a)
          .map((x) => versionFields(x).version);
      detailed.client_hello = { version: versionFields(c.legacyVersion).version, extensions: ext };
    }
    for (const dir of [0, 1] as const) {
      const leaf = s.certificates[dir]?.[0];
      if (leaf === undefined) continue;
      const fields = certificateFields(leaf);
      if (fields === null) {
        addNote(e, 'Unparseable certificate');
        continue;
      }
      const key = dir === 0 ? 'client' : 'server';
      tls[key] = { ...((tls[key] as Record<string, unknown>) ?? {}), ...fields };
    }
    if (s.alerts.length > 0)
      detailed.alerts = s.alerts.map((a) => ({
        type: a.description,
        severity: a.level,
        source: a.from === 0 ? 'client' : 'server',
      }));
    tls.detailed = detailed;
    e.tls = tls;
    if (note) addNote(e, note);
    this.ctx.report(e);
  }
}

// Servers present the same certificate to every client: parse each once (X509Certificate costs ~1 ms).
const certificateCache = new Map<string, Record<string, unknown> | null>();

function certificateFields(der: Uint8Array): Record<string, unknown> | null {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let fields = certificateCache.get(key);
  if (fields === undefined) {
    if (certificateCache.size >= 1024) certificateCache.clear();
    fields = parseCertificate(der);
    certificateCache.set(key, fields);
  }
  return fields === null ? null : structuredClone(fields);
}

function parseCertificate(der: Uint8Array): Record<string, unknown> | null {
  try {
    const x = new X509Certificate(der);
    return {
      subject: x.subject.split('\n').join(', '),
      issuer: x.issuer.split('\n').join(', '),
      not_before: new Date(x.validFrom).toISOString(),
      not_after: new Date(x.validTo).toISOString(),
      hash: { sha1: x.fingerprint.replaceAll(':', ''), sha256: x.fingerprint256.replaceAll(':', '') },
    };
  } catch {
    return null;
  }
}

/** A record header with a handshake type: a ClientHello comes from the client, a ServerHello from the server. */
function sniffTls(b: Uint8Array): Direction | null {
  if (b.length < 6 || b[0] !== CT_HANDSHAKE || b[1] !== 3 || b[2] > 4) return null;
  const len = (b[3] << 8) | b[4];
  if (len < 4 || len > MAX_RECORD) return null;
  if (b[5] === 1) return 0;
  if (b[5] === 2) return 1;
  return null;
}

export const tlsProtocol: ProtocolDefinition = {
  name: 'tls',
  defaultPorts: [443, 993, 995, 5223, 8443, 8883, 9243],
  transports: ['tcp'],
  sniffTcp: sniffTls,
  create: (ctx) => new TlsPlugin(ctx),
};
