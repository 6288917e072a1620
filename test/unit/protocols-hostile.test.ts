/**
 * Hostile and broken input: every plugin fed mutated and truncated copies of the real captures,
 * malformed messages of each protocol, and a flood of half-open connections. The analyzer must
 * never throw, keep memory within its limits (and give it all back at the end), count what it
 * could not use, and still report the valid traffic mixed in.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Analyzer } from '../../src/protocols/analyzer.js';
import type { AppEvent } from '../../src/protocols/types.js';
import { readPcapFile } from '../../src/formats/pcap/pcap-file.js';
import { Prng } from '../support/prng.js';
import { TcpConversation, udpFrame } from '../helpers/protocol-frames.js';
import { PROTOCOL_FIXTURES, analyzeFrames, assertDeclared, protocolFixtures } from '../helpers/protocols.js';

async function fixtureFrames(name: string): Promise<{ data: Buffer; tsNs: bigint }[]> {
  const out: { data: Buffer; tsNs: bigint }[] = [];
  for await (const p of readPcapFile(readFileSync(join(PROTOCOL_FIXTURES, `${name}.pcap`))))
    out.push({ data: Buffer.from(p.data), tsNs: p.tsNs });
  return out;
}

const REQUEST = 'GET /ok HTTP/1.1\r\nHost: ok.test\r\n\r\n';
const RESPONSE = 'HTTP/1.1 204 No Content\r\n\r\n';

describe('hostile input', () => {
  it('mutated and truncated copies of every capture: no exception, schema intact, memory returned', async () => {
    const prng = new Prng(14);
    for (const name of protocolFixtures()) {
      const frames = await fixtureFrames(name);
      for (let round = 0; round < 40; round++) {
        const events: AppEvent[] = [];
        const a = new Analyzer((e) => events.push(e));
        frames.forEach((f, i) => {
          const b = Buffer.from(f.data);
          const payloadStart = Math.min(b.length, 54);
          if (prng.chance(0.3)) for (let k = 0; k < 4; k++) b[prng.int(payloadStart, b.length)] = prng.int(0, 256);
          const len = prng.chance(0.1) ? prng.int(0, b.length + 1) : b.length;
          a.packet(b, 0, len, 1, f.tsNs, { index: i, position: -1, partition: -1 });
        });
        a.finish();
        assertDeclared(events);
        assert.equal(a.memory.used, 0, `${name} round ${round}: buffers released`);
      }
    }
  });

  it('malformed messages of each protocol are counted and skipped; valid traffic around them is reported', () => {
    const garbageHttp = new TcpConversation(40001, 80)
      .send(true, 'NOT HTTP AT ALL\x00\x01\x02\r\n\r\n')
      .send(true, REQUEST)
      .send(false, RESPONSE);
    const badTls = new TcpConversation(40002, 443).send(true, Buffer.from([22, 3, 1, 0xff, 0xff, 1, 0, 0, 4]));
    const badTlsHello = new TcpConversation(40003, 443).send(
      true,
      Buffer.from([22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0]),
    );
    const longSmtp = new TcpConversation(40004, 25)
      .send(false, '220 mx ESMTP\r\n')
      .send(true, `EHLO ${'a'.repeat(10_000)}`);
    // a DNS message whose question name points at itself (compression loop)
    const loop = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const sipGarbage = udpFrame(Buffer.from('INVITE nonsense\r\n\r\n'), true, 5070, 5060);
    const { events, stats } = analyzeFrames([
      ...garbageHttp.frames(),
      ...badTls.frames(),
      ...badTlsHello.frames(),
      ...longSmtp.frames(),
      udpFrame(loop, true),
      sipGarbage,
    ]);
    assertDeclared(events);
    const http = events.filter((e) => e.type === 'http');
    assert.equal(http.length, 1, 'resynchronised on the valid request after the garbage');
    assert.equal((http[0].http as { response: { status_code: number } }).response.status_code, 204);
    const tls = events.filter((e) => e.type === 'tls');
    assert.ok(tls.every((e) => e.status === 'Error'));
    assert.ok(stats.parseErrors >= 4, `parse errors counted: ${stats.parseErrors}`);
  });

  it('a flood of half-open connections stays within its table and does not hide real traffic', () => {
    const frames: Buffer[] = [];
    const real = new TcpConversation(50000, 80).send(true, REQUEST).send(false, RESPONSE).fin(true).fin(false);
    // the real connection's handshake first, then 20,000 SYNs, then its data
    frames.push(...real.frames(real.segments.slice(0, 2)));
    for (let i = 0; i < 20_000; i++) {
      const c = new TcpConversation(1024 + (i % 60000), 80 + Math.floor(i / 60000), [i * 7919, 0]);
      frames.push(c.frame(c.segments[0]));
    }
    frames.push(...real.frames(real.segments.slice(2)));
    const { events, stats, analyzer } = analyzeFrames(frames, { tcp: { maxHalfOpen: 1000 } });
    assert.equal(stats.tcpHalfOpenEvicted, 20_000 + 1 - 1000);
    assert.equal(stats.tcpConnections, 1, 'only the connection with payload became a full connection');
    assert.equal(analyzer.openConnections, 0);
    assert.equal(events.length, 1);
    assert.equal((events[0].url as { full: string }).full, 'http://ok.test/ok');
  });

  it('random UDP payloads on unknown ports are not mistaken for a protocol', () => {
    const prng = new Prng(7);
    const frames = Array.from({ length: 2000 }, () => udpFrame(prng.bytes(prng.int(1, 600)), true, 40000, 40001));
    const { events, stats } = analyzeFrames(frames);
    assert.equal(events.length, 0);
    assert.equal(stats.unclassified, 2000);
  });
});
