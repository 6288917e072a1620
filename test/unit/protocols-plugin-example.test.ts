/**
 * The worked example in docs/protocols.md ("Worked example: adding SMTP"), run for real: a user-written plugin (a minimal SMTP
 * command/reply pairer, the protocol of Packetbeat's developer tutorial) registered under its own
 * name, fed the real swaks capture. If the plugin contract changes, this test and the document
 * change together.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { baseEvent } from '../../src/protocols/events/event.js';
import { LineReader } from '../../src/protocols/lines/line-reader.js';
import { registerProtocol } from '../../src/protocols/registry.js';
import type { Direction, Packet, ProtocolContext, ProtocolPlugin, TcpConnection } from '../../src/protocols/types.js';
import { analyzeFixture } from '../helpers/protocols.js';

// --- the docs/protocols.md example starts here ---
interface Pending {
  command: string;
  tsNs: bigint;
  ref: Packet['ref'];
}

interface State {
  lines: [LineReader, LineReader];
  pending: Pending[];
  inData: boolean;
}

class SmtpLite implements ProtocolPlugin {
  readonly name = 'smtp-lite';

  constructor(private readonly ctx: ProtocolContext) {}

  readonly tcp = {
    parse: (pkt: Packet, conn: TcpConnection, dir: Direction, state: State | undefined): State => {
      const s = state ?? { lines: [new LineReader(4096), new LineReader(4096)], pending: [], inData: false };
      s.lines[dir].feed(pkt.payload, (line) => {
        if (dir === 0) {
          if (s.inData) {
            if (line === '.') s.inData = false;
            else return undefined; // message body: not a command
          }
          s.pending.push({ command: line.split(' ')[0].toUpperCase() || '.', tsNs: pkt.tsNs, ref: pkt.ref });
        } else if (/^\d{3} /.test(line)) {
          const cmd = s.pending.shift();
          if (cmd === undefined) return undefined; // the greeting
          if (cmd.command === 'DATA' && line.startsWith('354')) s.inData = true;
          this.report(conn, cmd, Number(line.slice(0, 3)), pkt);
        }
        return undefined;
      });
      return s;
    },
    receivedFin: (_c: TcpConnection, _d: Direction, state: State | undefined) => state,
    gapInStream: (_c: TcpConnection, _d: Direction, _n: number, state: State | undefined) => ({ state, drop: true }),
    expired: (_c: TcpConnection, _state: State | undefined) => {},
  };

  private report(conn: TcpConnection, cmd: Pending, code: number, reply: Packet): void {
    const e = baseEvent(
      'smtp-lite',
      {
        tuple: {
          ipVersion: conn.ipVersion,
          transport: 'tcp',
          srcIp: conn.clientIp,
          dstIp: conn.serverIp,
          srcPort: conn.clientPort,
          dstPort: conn.serverPort,
        },
        startNs: cmd.tsNs,
        endNs: reply.tsNs,
        firstRef: cmd.ref,
        lastRef: reply.ref,
      },
      code >= 400 ? 'Error' : 'OK',
    );
    e.smtp_lite = { command: cmd.command, code };
    this.ctx.report(e);
  }
}

registerProtocol({
  name: 'smtp-lite',
  defaultPorts: [25],
  transports: ['tcp'],
  create: (ctx) => new SmtpLite(ctx),
});
// --- example ends here ---

describe('a user-registered protocol plugin', () => {
  it('pairs every SMTP command with its reply in the swaks capture', async () => {
    // the built-in smtp would take port 25 first: turn it off for this run
    const { events } = await analyzeFixture('smtp', { protocols: { smtp: { enabled: false } } });
    const lite = events.filter((e) => e.type === 'smtp-lite');
    assert.deepEqual(
      lite.map((e) => `${(e.smtp_lite as { command: string }).command} ${(e.smtp_lite as { code: number }).code}`),
      ['EHLO 250', 'MAIL 250', 'RCPT 250', 'DATA 354', '. 250', 'QUIT 221'],
    );
    assert.ok(lite.every((e) => (e.destination as { port: number }).port === 25));
  });

  it('names must be unique', () => {
    assert.throws(
      () =>
        registerProtocol({
          name: 'smtp-lite',
          defaultPorts: [],
          transports: ['tcp'],
          create: (ctx) => new SmtpLite(ctx),
        }),
      /already registered/,
    );
  });
});
