/**
 * TCP reassembly under the plugins: out-of-order segments are put back in order within the
 * reorder window, retransmissions dropped, overlaps trimmed, real holes reported to the plugin as
 * gaps (with their size), sequence numbers wrap, and everything in flight is flushed at the end.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Analyzer } from '../../src/protocols/analyzer.js';
import { ByteBudget } from '../../src/protocols/memory.js';
import { DEFAULT_STREAM_LIMITS, TcpStream } from '../../src/protocols/reassembly/tcp-stream.js';
import { createStats } from '../../src/protocols/stats.js';
import type { AppEvent } from '../../src/protocols/types.js';
import { TcpConversation } from '../helpers/protocol-frames.js';
import { analyzeFrames } from '../helpers/protocols.js';

const REF = { index: 0, position: -1, partition: -1 };

function stream(limits = DEFAULT_STREAM_LIMITS) {
  const got: string[] = [];
  const budget = new ByteBudget(1 << 20);
  const stats = createStats();
  const s = new TcpStream(
    {
      data: (p) => got.push(Buffer.from(p).toString('latin1')),
      gap: (n) => got.push(`<gap ${n}>`),
      fin: () => got.push('<fin>'),
    },
    limits,
    budget,
    stats,
  );
  const seg = (seq: number, text: string, fin = false, ts = 0n) =>
    s.segment(seq, Buffer.from(text, 'latin1'), fin, ts, REF);
  return { s, got, stats, budget, seg };
}

describe('TcpStream', () => {
  it('reorders, drops retransmissions, trims overlaps', () => {
    const { s, got, stats, seg, budget } = stream();
    s.syn(99);
    seg(105, 'fghij');
    seg(100, 'abcde');
    seg(100, 'abcde'); // retransmission
    seg(108, 'ijKLM'); // overlaps "ij"
    seg(113, 'n', true);
    assert.equal(got.join(''), 'abcdefghijKLMn<fin>');
    assert.equal(stats.tcpRetransmissions, 1);
    assert.equal(stats.tcpOverlapsTrimmed, 1);
    assert.equal(stats.tcpOutOfOrder, 1);
    assert.equal(budget.used, 0, 'nothing left buffered');
  });

  it('reports a hole as a gap when the reorder buffer overflows, with the missing byte count', () => {
    const { s, got, stats, seg } = stream({ ...DEFAULT_STREAM_LIMITS, maxSegments: 2 });
    s.syn(0);
    seg(1, 'aa');
    seg(10, 'xx'); // bytes 3..9 never come
    seg(12, 'yy');
    seg(14, 'zz'); // third buffered segment: give up on the hole
    assert.deepEqual(got, ['aa', '<gap 7>', 'xx', 'yy', 'zz']);
    assert.equal(stats.tcpGaps, 1);
    assert.equal(stats.tcpGapBytes, 7);
  });

  it('gives up on a hole after the reorder window of packet time', () => {
    const { s, got, seg } = stream();
    s.syn(0);
    seg(5, 'late', false, 0n);
    s.expire(DEFAULT_STREAM_LIMITS.reorderWindowNs - 1n);
    assert.deepEqual(got, []);
    s.expire(DEFAULT_STREAM_LIMITS.reorderWindowNs);
    assert.deepEqual(got, ['<gap 4>', 'late']);
  });

  it('wraps around 2^32', () => {
    const { s, got, seg } = stream();
    s.syn(0xfffffffd);
    seg(0x00000001, 'cd');
    seg(0xfffffffe, 'XYab'); // 0xfffffffe..0x00000001: overlaps the buffered segment by one byte
    assert.equal(got.join(''), 'XYabd');
  });

  it('delivers the FIN only after the bytes before it, and reports them as a gap at close', () => {
    const { s, got, seg } = stream();
    s.syn(0);
    seg(1, 'ab');
    seg(6, '', true); // FIN at 6: bytes 3..5 missing
    assert.deepEqual(got, ['ab']);
    s.close();
    assert.deepEqual(got, ['ab', '<gap 3>', '<fin>']);
  });

  it('refuses to buffer beyond the memory budget and reports the hole instead', () => {
    const got: string[] = [];
    const stats = createStats();
    const s = new TcpStream(
      { data: (p) => got.push(Buffer.from(p).toString()), gap: (n) => got.push(`<gap ${n}>`), fin: () => {} },
      DEFAULT_STREAM_LIMITS,
      new ByteBudget(3),
      stats,
    );
    s.syn(0);
    s.segment(10, Buffer.from('1234'), false, 0n, REF); // 4 bytes > budget of 3
    s.segment(1, Buffer.from('abc'), false, 0n, REF);
    assert.equal(got[0], 'abc');
  });
});

const REQUEST = 'GET /a HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t\r\n\r\n';
const BODY = 'x'.repeat(3000);
const RESPONSE = `HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\nContent-Type: text/plain\r\n\r\n${BODY}`;

function conversation(isn: [number, number] = [1000, 5000]): TcpConversation {
  return new TcpConversation(40000, 80, isn).send(true, REQUEST, 10).send(false, RESPONSE, 700).fin(true).fin(false);
}

function httpEvents(frames: Uint8Array[]): { events: AppEvent[]; gaps: number } {
  const { events, stats } = analyzeFrames(frames);
  return { events: events.filter((e) => e.type === 'http'), gaps: stats.tcpGaps };
}

describe('TCP connections through the analyzer', () => {
  it('one HTTP transaction from segments in order', () => {
    const c = conversation();
    const { events, gaps } = httpEvents(c.frames());
    assert.equal(events.length, 1);
    assert.equal(gaps, 0);
    const http = events[0].http as { response: { status_code: number; body: { bytes: number } } };
    assert.equal(http.response.status_code, 200);
    assert.equal(http.response.body.bytes, BODY.length);
    assert.equal(events[0].notes, undefined);
  });

  it('the same transaction from shuffled and duplicated segments', () => {
    const c = conversation();
    const s = [...c.segments];
    const data = s.slice(2);
    // swap neighbours pairwise and repeat every third segment: the capture a mirror port gives under load
    const mixed = [];
    for (let i = 0; i < data.length; i += 2) {
      if (i + 1 < data.length) mixed.push(data[i + 1]);
      mixed.push(data[i]);
      if (i % 3 === 0) mixed.push(data[i]);
    }
    const { events, gaps } = httpEvents(c.frames([s[0], s[1], ...mixed]));
    assert.equal(gaps, 0);
    assert.equal(events.length, 1);
    assert.equal((events[0].http as { response: { status_code: number } }).response.status_code, 200);
  });

  it('a lost body segment is a gap inside the body: the transaction is still reported, noted', () => {
    const c = conversation();
    const bodySegment =
      c.segments.findIndex((s) => !s.fromClient && s.payload.length === 700 && s !== c.segments[1]) + 2;
    const frames = c.frames(c.segments.filter((_, i) => i !== bodySegment));
    const { events, gaps } = httpEvents(frames);
    assert.equal(gaps, 1);
    assert.equal(events.length, 1);
    assert.deepEqual(events[0].notes, ['Packet loss while capturing the response']);
  });

  it('sequence numbers wrapping mid-stream change nothing', () => {
    const { events, gaps } = httpEvents(conversation([0xffffff00, 0xfffff000]).frames());
    assert.equal(gaps, 0);
    assert.equal(events.length, 1);
  });

  it('a capture that starts mid-connection (no handshake) still pairs the transaction', () => {
    const c = new TcpConversation(40000, 80, [1, 2], false).send(true, REQUEST).send(false, RESPONSE);
    const { events } = httpEvents(c.frames());
    assert.equal(events.length, 1);
    assert.equal((events[0].source as { port: number }).port, 40000);
  });

  it('end of input flushes a request still waiting for its response (Packetbeat loses it, #8255)', () => {
    const c = new TcpConversation().send(true, REQUEST);
    const { events } = httpEvents(c.frames());
    assert.equal(events.length, 1);
    assert.deepEqual(events[0].notes, ['Unmatched request']);
  });

  it('an idle connection times out on packet time, not wall time', () => {
    const c = new TcpConversation().send(true, REQUEST);
    const events: AppEvent[] = [];
    const a = new Analyzer((e) => events.push(e), { tcp: { idleTimeoutNs: 60_000_000_000n } });
    const t0 = 1_700_000_000_000_000_000n;
    const frames = c.frames();
    for (let i = 0; i < frames.length; i++) a.packet(frames[i], 0, frames[i].length, 1, t0 + BigInt(i), REF);
    a.advanceTo(t0 + 59_000_000_000n);
    assert.equal(events.length, 0, 'still open before the timeout');
    a.advanceTo(t0 + 61_000_000_000n);
    assert.equal(events.length, 1, 'expired once packet time passed the timeout');
    assert.equal(a.stats.tcpConnectionsExpired, 1);
    assert.equal(a.openConnections, 0);
  });
});
