/**
 * SMTP (RFC 5321), the protocol Packetbeat's developer tutorial adds and never shipped
 * (elastic/beats#467; PRs #5408, #13466): commands are paired with replies in order (pipelining
 * included) and each mail transaction — MAIL FROM, RCPT TO..., DATA and the reply that accepts or
 * refuses the message — becomes one event: envelope, a summary of the message (size and the
 * From/To/Subject/Message-ID/X-Mailer headers; never the body) and the server's queue id. A
 * session with no transaction is still reported once (HELO, STARTTLS). After STARTTLS the
 * stream is encrypted and parsing stops.
 */
import { addNote, baseEvent } from '../events/event.js';
import { LineReader } from '../lines/line-reader.js';
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

const MAX_LINE = 4096;
const MAX_HEADER_TEXT = 16 * 1024;
const MAX_PENDING_COMMANDS = 128;
const MAX_RECIPIENTS = 1000;

interface Command {
  verb: string;
  arg: string;
}

interface Transaction {
  mailFrom: string;
  rcptTo: string[];
  rcptRejected: string[];
  dataBytes: number;
  headers: string;
  code: number;
  message: string;
  localId: string | null;
  startNs: bigint;
  firstRef: PacketRef;
  endNs: bigint;
  lastRef: PacketRef;
  complete: boolean;
}

interface SmtpState {
  client: LineReader;
  server: LineReader;
  pending: Command[];
  /** Lines of a multi-line reply collected so far. */
  replyLines: string[];
  helo: string | null;
  banner: string | null;
  authMechanism: string | null;
  starttls: boolean;
  inData: boolean;
  tx: Transaction | null;
  reported: number;
  lastNs: bigint;
  lastRef: PacketRef;
  firstNs: bigint;
  firstRef: PacketRef;
  broken: boolean;
}

const addressOf = (arg: string): string => {
  const m = /<([^>]*)>/.exec(arg);
  return (m ? m[1] : (arg.split(/\s+/)[0] ?? '')).trim();
};

function headerValue(headers: string, name: string): string | undefined {
  const unfolded = headers.replace(/\r?\n[ \t]+/g, ' ');
  const re = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im');
  return re.exec(unfolded)?.[1]?.trim();
}

function addresses(value: string | undefined): string[] {
  if (!value) return [];
  const found = value.match(/[^\s<>,;"]+@[^\s<>,;"]+/g);
  return found ?? [];
}

class SmtpPlugin implements ProtocolPlugin {
  readonly name = 'smtp';

  constructor(private readonly ctx: ProtocolContext) {}

  readonly tcp = {
    parse: (pkt: Packet, conn: TcpConnection, dir: Direction, state: SmtpState | undefined): SmtpState => {
      const s = state ?? this.newState(pkt);
      if (s.starttls || s.broken) return s;
      s.lastNs = pkt.tsNs;
      s.lastRef = pkt.ref;
      const ok = dir === 0 ? this.clientData(s, pkt) : this.serverData(s, conn, pkt);
      if (!ok) {
        s.broken = true;
        this.ctx.stats.parseErrors++;
      }
      return s;
    },
    receivedFin: (_c: TcpConnection, _d: Direction, state: SmtpState | undefined) => state,
    gapInStream: (
      conn: TcpConnection,
      _d: Direction,
      _n: number,
      state: SmtpState | undefined,
    ): GapResult<SmtpState> => {
      // Command/reply pairing cannot survive lost bytes: report what we have and stop.
      if (state) this.end(conn, state, 'Packet loss while capturing the session');
      return { state: undefined, drop: true };
    },
    expired: (conn: TcpConnection, state: SmtpState | undefined): void => {
      if (state) this.end(conn, state);
    },
  };

  private newState(pkt: Packet): SmtpState {
    return {
      client: new LineReader(MAX_LINE),
      server: new LineReader(MAX_LINE),
      pending: [],
      replyLines: [],
      helo: null,
      banner: null,
      authMechanism: null,
      starttls: false,
      inData: false,
      tx: null,
      reported: 0,
      lastNs: pkt.tsNs,
      lastRef: pkt.ref,
      firstNs: pkt.tsNs,
      firstRef: pkt.ref,
      broken: false,
    };
  }

  private clientData(s: SmtpState, pkt: Packet): boolean {
    return s.client.feed(pkt.payload, (line) => {
      if (s.inData) {
        if (line === '.') {
          s.inData = false;
          this.queue(s, { verb: '.', arg: '' });
          return undefined;
        }
        const tx = s.tx;
        if (tx) {
          tx.dataBytes += line.length + 2;
          // headers end at the first empty line; keep a bounded copy for the summary
          if (!tx.headers.endsWith('\n\n') && tx.headers.length < MAX_HEADER_TEXT)
            tx.headers += `${line.startsWith('..') ? line.slice(1) : line}\n`;
        }
        return undefined;
      }
      const sp = line.indexOf(' ');
      const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
      const arg = sp < 0 ? '' : line.slice(sp + 1).trim();
      const cmd = { verb, arg };
      if (verb === 'MAIL' && s.tx === null) {
        s.tx = {
          mailFrom: addressOf(arg.replace(/^FROM:\s*/i, '')),
          rcptTo: [],
          rcptRejected: [],
          dataBytes: 0,
          headers: '',
          code: 0,
          message: '',
          localId: null,
          startNs: pkt.tsNs,
          firstRef: pkt.ref,
          endNs: pkt.tsNs,
          lastRef: pkt.ref,
          complete: false,
        };
      }
      this.queue(s, cmd);
      return undefined;
    });
  }

  private queue(s: SmtpState, cmd: Command): void {
    if (s.pending.length >= MAX_PENDING_COMMANDS) s.pending.shift();
    s.pending.push(cmd);
  }

  private serverData(s: SmtpState, conn: TcpConnection, pkt: Packet): boolean {
    return s.server.feed(pkt.payload, (line) => {
      const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (m === null) return undefined;
      s.replyLines.push(m[3]);
      if (m[2] === '-') {
        if (s.replyLines.length > 100) s.replyLines.shift();
        return undefined;
      }
      const code = Number(m[1]);
      const text = s.replyLines.join('\n');
      s.replyLines = [];
      this.reply(s, conn, code, text, pkt);
      return s.starttls ? false : undefined;
    });
  }

  private reply(s: SmtpState, conn: TcpConnection, code: number, text: string, pkt: Packet): void {
    if (s.banner === null && s.pending.length === 0 && (code === 220 || code === 554)) {
      s.banner = text;
      return;
    }
    const cmd = s.pending.shift();
    if (cmd === undefined) return;
    const tx = s.tx;
    if (tx) {
      tx.endNs = pkt.tsNs;
      tx.lastRef = pkt.ref;
    }
    switch (cmd.verb) {
      case 'HELO':
      case 'EHLO':
        s.helo = cmd.arg;
        break;
      case 'AUTH':
        s.authMechanism = cmd.arg.split(/\s+/)[0]?.toUpperCase() ?? null;
        break;
      case 'STARTTLS':
        if (code === 220) s.starttls = true;
        break;
      case 'MAIL':
        if (tx && code >= 400) this.finishTx(s, conn, code, text);
        break;
      case 'RCPT':
        if (tx) {
          const list = code < 400 ? tx.rcptTo : tx.rcptRejected;
          if (list.length < MAX_RECIPIENTS) list.push(addressOf(cmd.arg.replace(/^TO:\s*/i, '')));
        }
        break;
      case 'DATA':
        if (code === 354) s.inData = true;
        else if (tx) this.finishTx(s, conn, code, text);
        break;
      case '.':
        if (tx) {
          tx.complete = true;
          this.finishTx(s, conn, code, text);
        }
        break;
      case 'RSET':
        if (tx) this.finishTx(s, conn, 0, '', 'Transaction reset');
        break;
    }
  }

  private finishTx(s: SmtpState, conn: TcpConnection, code: number, text: string, note?: string): void {
    const tx = s.tx;
    if (tx === null) return;
    s.tx = null;
    tx.code = code;
    tx.message = text;
    const queued = /queued as\s+([A-Za-z0-9._-]+)/i.exec(text);
    if (queued) tx.localId = queued[1];
    this.publishTx(s, conn, tx, note);
  }

  /** The connection ended: an open transaction is reported as incomplete; a session with none, once. */
  private end(conn: TcpConnection, s: SmtpState, note?: string): void {
    if (s.tx) {
      const tx = s.tx;
      s.tx = null;
      this.publishTx(s, conn, tx, note ?? 'Incomplete transaction');
      return;
    }
    if (s.reported > 0 || (s.helo === null && s.banner === null)) return;
    const e = baseEvent('smtp', this.ends(conn, s.firstNs, s.lastNs, s.firstRef, s.lastRef), 'OK');
    e.smtp = this.sessionFields(s);
    if (note) addNote(e, note);
    s.reported++;
    this.ctx.report(e);
  }

  private publishTx(s: SmtpState, conn: TcpConnection, tx: Transaction, note?: string): void {
    const e = baseEvent(
      'smtp',
      this.ends(conn, tx.startNs, tx.endNs, tx.firstRef, tx.lastRef),
      tx.complete && tx.code > 0 && tx.code < 400 ? 'OK' : 'Error',
    );
    const smtp: Record<string, unknown> = { ...this.sessionFields(s), mail_from: tx.mailFrom };
    if (tx.rcptTo.length > 0) smtp.rcpt_to = tx.rcptTo;
    if (tx.rcptRejected.length > 0) smtp.rcpt_rejected = tx.rcptRejected;
    if (tx.complete) smtp.data = { bytes: tx.dataBytes };
    if (tx.code > 0) smtp.response = { code: tx.code, message: tx.message };
    e.smtp = smtp;
    const email: Record<string, unknown> = {};
    const headers = tx.headers;
    const from = addresses(headerValue(headers, 'From'));
    if (from.length > 0) email.from = { address: from };
    const to = addresses(headerValue(headers, 'To'));
    if (to.length > 0) email.to = { address: to };
    const cc = addresses(headerValue(headers, 'Cc'));
    if (cc.length > 0) email.cc = { address: cc };
    const subject = headerValue(headers, 'Subject');
    if (subject) email.subject = subject;
    const messageId = headerValue(headers, 'Message-Id');
    if (messageId) email.message_id = messageId.replace(/^<|>$/g, '');
    const mailer = headerValue(headers, 'X-Mailer');
    if (mailer) email.x_mailer = mailer;
    if (tx.localId) email.local_id = tx.localId;
    if (Object.keys(email).length > 0) e.email = email;
    if (note) addNote(e, note);
    s.reported++;
    this.ctx.report(e);
  }

  private sessionFields(s: SmtpState): Record<string, unknown> {
    const f: Record<string, unknown> = {};
    if (s.banner !== null) f.banner = s.banner;
    if (s.helo !== null) f.helo = s.helo;
    if (s.authMechanism !== null) f.auth = { mechanism: s.authMechanism };
    f.starttls = s.starttls;
    return f;
  }

  private ends(conn: TcpConnection, startNs: bigint, endNs: bigint, firstRef: PacketRef, lastRef: PacketRef) {
    return {
      tuple: {
        ipVersion: conn.ipVersion,
        transport: 'tcp' as const,
        srcIp: conn.clientIp,
        dstIp: conn.serverIp,
        srcPort: conn.clientPort,
        dstPort: conn.serverPort,
      },
      startNs,
      endNs,
      firstRef,
      lastRef,
    };
  }
}

const SERVER_GREETING = /^220[ -][^\r\n]*SMTP/i;
const CLIENT_GREETING = /^(EHLO|HELO) \S/i;

export const smtpProtocol: ProtocolDefinition = {
  name: 'smtp',
  defaultPorts: [25, 587],
  transports: ['tcp'],
  sniffTcp: (b) => {
    const head = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, 256)).toString('latin1');
    if (SERVER_GREETING.test(head)) return 1;
    if (CLIENT_GREETING.test(head)) return 0;
    return null;
  },
  create: (ctx) => new SmtpPlugin(ctx),
};
