/**
 * IPv4 and IPv6 defragmentation: a DNS answer larger than the MTU arrives in fragments (in any
 * order) and still pairs with its query (Packetbeat loses it: elastic/beats#33012); incomplete,
 * oversized and excessive fragment sets are dropped, counted, and never grow memory.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { ByteBudget } from '../../src/protocols/memory.js';
import { Defragmenter } from '../../src/protocols/defrag/defragmenter.js';
import { createStats } from '../../src/protocols/stats.js';
import { decodeFrame } from '../../src/packet/decode.js';
import { createPacketFields } from '../../src/packet/packet-fields.js';
import { fragmentUdp, udpFrame } from '../helpers/protocol-frames.js';
import { analyzeFrames } from '../helpers/protocols.js';

function bigDnsExchange(id: number) {
  const question = [{ type: 'TXT' as const, name: 'big.example.test' }];
  const query = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: question });
  const answers = Array.from({ length: 30 }, (_, i) => ({
    type: 'TXT' as const,
    name: 'big.example.test',
    ttl: 60,
    data: `record ${i} ${'z'.repeat(80)}`,
  }));
  const response = dnsPacket.encode({
    type: 'response',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: question,
    answers,
  });
  return { query, response };
}

describe('IP defragmentation', () => {
  for (const v6 of [false, true]) {
    it(`IPv${v6 ? 6 : 4}: a fragmented DNS answer, fragments out of order, pairs with its query`, () => {
      const { query, response } = bigDnsExchange(7);
      assert.ok(response.length > 2000);
      const frags = fragmentUdp(response, false, 1232, 0xbeef, v6);
      assert.ok(frags.length >= 2);
      const frames = [udpFrame(query, true, 33333, 53, v6), ...frags.slice(1).reverse(), frags[0]];
      const { events, stats } = analyzeFrames(frames);
      assert.equal(stats.ipDatagramsReassembled, 1);
      assert.equal(stats.ipFragmentsDropped, 0);
      assert.equal(events.length, 1);
      const dns = events[0].dns as { answers_count: number; question: { name: string } };
      assert.equal(dns.answers_count, 30);
      assert.equal(dns.question.name, 'big.example.test');
      assert.equal(events[0].status, 'OK');
    });
  }

  it('an incomplete datagram is dropped and counted, the query reported without response', () => {
    const { query, response } = bigDnsExchange(8);
    const frags = fragmentUdp(response, false, 1232, 0x1111);
    const { events, stats } = analyzeFrames([udpFrame(query, true), ...frags.slice(0, -1)]);
    assert.equal(stats.ipDatagramsReassembled, 0);
    assert.equal(stats.ipFragmentsDropped, frags.length - 1);
    assert.deepEqual(events[0].notes, ['No response']);
  });

  it('fragments reaching past 65,535 bytes (ping of death) are refused', () => {
    const budget = new ByteBudget(1 << 20);
    const stats = createStats();
    const d = new Defragmenter(budget, stats);
    const f = createPacketFields();
    const frags = fragmentUdp(new Uint8Array(2000), true, 1000, 5);
    // rewrite the second fragment's offset to 65,000 bytes
    const last = Buffer.from(frags[1]);
    const off = 65000 / 8;
    last.writeUInt16BE(off & 0x1fff, 14 + 6);
    decodeFrame(last, 0, last.length, 1, f);
    assert.equal(d.push(last, f, 0n), null);
    assert.equal(stats.ipFragmentsDropped, 1);
    assert.equal(budget.used, 0);
  });

  it('pending datagrams, fragments per datagram and bytes are bounded; timeouts free them', () => {
    const budget = new ByteBudget(1 << 20);
    const stats = createStats();
    const d = new Defragmenter(budget, stats, { maxPendingDatagrams: 10, timeoutNs: 1000n });
    const f = createPacketFields();
    for (let id = 0; id < 100; id++) {
      const first = fragmentUdp(new Uint8Array(3000), true, 1000, id)[0];
      decodeFrame(first, 0, first.length, 1, f);
      d.push(first, f, BigInt(id));
    }
    assert.equal(d.pendingDatagrams, 10);
    assert.equal(stats.ipFragmentsDropped, 90);
    d.expire(10_000n);
    assert.equal(d.pendingDatagrams, 0);
    assert.equal(budget.used, 0);
  });
});
