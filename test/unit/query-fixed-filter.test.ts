import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPacketFields, type PacketFields } from '../../src/packet/packet-fields.js';
import {
  compileFixedFilter,
  fixedSpecFromMetronFields,
  type FixedFilterSpec,
} from '../../src/query/filter/fixed-filter.js';
import { QueryError } from '../../src/query/errors.js';

const EMPTY = Buffer.alloc(0);

function pkt(src: string | null, sport: number, dst: string | null, dport: number, protocol = 6): PacketFields {
  const p = createPacketFields();
  p.linkType = 1;
  p.ipVersion = src === null ? 0 : src.includes(':') ? 6 : 4;
  p.srcAddr = src;
  p.dstAddr = dst;
  p.protocol = protocol;
  p.srcPort = sport;
  p.dstPort = dport;
  p.length = 60;
  return p;
}

const run = (spec: FixedFilterSpec, p: PacketFields, frame: Buffer = EMPTY) =>
  compileFixedFilter(spec).test(p, frame, 0, frame.length);

// FixedPcapFilterTest (metron-compat §6.8). Metron used the strings 'src_ip'/'dst_ip' as addresses; our
// filter validates addresses, so the vectors use SRC = 10.0.0.1 and DST = 10.0.0.2 in their place.
const SRC = '10.0.0.1';
const DST = '10.0.0.2';

test('metron-compat §6.8 reverse=false: the forward packet matches', () => {
  assert.equal(
    run({ srcAddr: SRC, srcPort: 0, dstAddr: DST, dstPort: 1, includeReverse: false }, pkt(SRC, 0, DST, 1)),
    true,
  );
});
test('metron-compat §6.8 reverse=true: the reply packet matches', () => {
  assert.equal(
    run({ srcAddr: SRC, srcPort: 0, dstAddr: DST, dstPort: 1, includeReverse: true }, pkt(DST, 1, SRC, 0)),
    true,
  );
});
test('metron-compat §6.8 reverse=true: addresses swapped but ports not swapped together → no match', () => {
  assert.equal(
    run({ srcAddr: SRC, srcPort: 0, dstAddr: DST, dstPort: 1, includeReverse: true }, pkt(DST, 0, SRC, 1)),
    false,
  );
});
test('metron-compat §6.8 reverse=false: the reply packet does not match', () => {
  assert.equal(run({ srcAddr: SRC, srcPort: 0, dstAddr: DST, dstPort: 1 }, pkt(DST, 1, SRC, 0)), false);
});
test('metron-compat §6.8 filter without dst addr', () => {
  const spec = { srcAddr: SRC, srcPort: 0, dstPort: 1 };
  assert.equal(run(spec, pkt(SRC, 0, DST, 1)), true);
  assert.equal(run(spec, pkt('10.0.0.3', 0, DST, 1)), false);
});
test('metron-compat §6.8 filter without dst port', () => {
  const spec = { srcAddr: SRC, srcPort: 0, dstAddr: DST };
  assert.equal(run(spec, pkt(SRC, 0, DST, 100)), true);
  assert.equal(run(spec, pkt(SRC, 100, DST, 100)), false);
});
test('metron-compat §6.8 filter without src port', () => {
  assert.equal(run({ srcAddr: SRC, dstAddr: DST, dstPort: 1 }, pkt(SRC, 100, DST, 1)), true);
});
test('metron-compat §6.8 blank values are not constraints; no fields matches everything', () => {
  const f = compileFixedFilter({ srcAddr: '  ', dstAddr: '', srcPort: ' ', protocol: '' });
  assert.equal(f.matchesAll, true);
  assert.equal(f.indexPredicate, null);
  assert.equal(f.test(pkt(null, -1, null, -1, -1), EMPTY, 0, 0), true);
  assert.equal(compileFixedFilter({ includeReverse: true }).matchesAll, true);
});

test('protocol by number or name, case-insensitive; never swapped', () => {
  const tcp = pkt(SRC, 1, DST, 2, 6);
  const udp = pkt(SRC, 1, DST, 2, 17);
  for (const p of ['6', 6, 'tcp', 'TCP', 'Tcp']) {
    assert.equal(run({ protocol: p }, tcp), true, String(p));
    assert.equal(run({ protocol: p }, udp), false, String(p));
  }
  assert.equal(run({ protocol: 'udp' }, udp), true);
  assert.equal(run({ protocol: 'icmp' }, pkt(SRC, -1, DST, -1, 1)), true);
  assert.equal(run({ protocol: 'icmpv6' }, pkt('fe80::1', -1, 'ff02::1', -1, 58)), true);
  assert.equal(run({ protocol: 6, srcPort: 2, includeReverse: true }, pkt(SRC, 1, DST, 2, 17)), false);
});

test('addresses for ICMP packets are matched (Metron left them out)', () => {
  assert.equal(run({ srcAddr: SRC, protocol: 'icmp' }, pkt(SRC, -1, DST, -1, 1)), true);
  // ...but a port constraint cannot be met by a packet without ports.
  assert.equal(run({ srcAddr: SRC, srcPort: 0 }, pkt(SRC, -1, DST, -1, 1)), false);
  assert.equal(run({ srcAddr: SRC }, pkt(null, -1, null, -1, -1)), false);
});

test('CIDR blocks, IPv4 and IPv6, and IPv6 text normalisation', () => {
  assert.equal(run({ srcAddr: '10.0.0.0/8' }, pkt('10.200.3.4', 1, DST, 2)), true);
  assert.equal(run({ srcAddr: '10.0.0.0/8' }, pkt('11.0.0.1', 1, DST, 2)), false);
  assert.equal(run({ srcAddr: '0.0.0.0/0' }, pkt('1.2.3.4', 1, DST, 2)), true);
  assert.equal(run({ srcAddr: '0.0.0.0/0' }, pkt('::1', 1, '::2', 2)), false, 'a v4 block never matches v6');
  assert.equal(run({ dstAddr: '2001:DB8:0:0::1' }, pkt('::1', 1, '2001:db8::1', 2)), true);
  assert.equal(run({ dstAddr: '2001:db8::/32' }, pkt('::1', 1, '2001:db8:ffff::9', 2)), true);
  assert.equal(run({ dstAddr: '2001:db8::/32' }, pkt('::1', 1, '2001:db9::9', 2)), false);
  assert.equal(
    run({ dstAddr: '2001:db8::1' }, pkt('::1', 1, '2001:0db8:0000::0001', 2)),
    true,
    'non-canonical packet text still compares as an address',
  );
  assert.equal(run({ srcAddr: '::ffff:10.0.0.1' }, pkt('::ffff:10.0.0.1', 1, '::1', 2)), true);
  assert.equal(run({ srcAddr: SRC }, pkt('::ffff:10.0.0.1', 1, '::1', 2)), false);
  assert.equal(run({ srcAddr: '10.0.0.5/24' }, pkt('10.0.0.77', 1, DST, 2)), true, 'host bits are ignored');
});

test('port ranges, both directions with include_reverse', () => {
  const spec = { dstPort: '1000-2000', includeReverse: true };
  assert.equal(run(spec, pkt(SRC, 5, DST, 1000)), true);
  assert.equal(run(spec, pkt(SRC, 5, DST, 2000)), true);
  assert.equal(run(spec, pkt(SRC, 5, DST, 2001)), false);
  assert.equal(run(spec, pkt(SRC, 1500, DST, 5)), true, 'reverse: the packet source port is in range');
  assert.equal(run({ dstPort: ' 80 - 81 ' }, pkt(SRC, 5, DST, 81)), true);
});

test('packet_filter searches the frame bytes only, after the header test', () => {
  const frame = Buffer.concat([Buffer.alloc(54), Buffer.from('GET /api/v1/x')]);
  const whole = Buffer.concat([Buffer.from('d4c3b2a1', 'hex'), Buffer.alloc(36), frame]);
  const f = compileFixedFilter({ packetFilter: "'/api/v1'" });
  assert.equal(f.test(pkt(SRC, 1, DST, 2), frame, 0, frame.length), true);
  assert.equal(f.test(pkt(SRC, 1, DST, 2), whole, 40, whole.length), true);
  assert.equal(
    compileFixedFilter({ packetFilter: 'd4c3b2a1' }).test(pkt(SRC, 1, DST, 2), whole, 40, whole.length),
    false,
  );
  assert.equal(
    compileFixedFilter({ packetFilter: "'/api/v1'", dstPort: 80 }).test(pkt(SRC, 1, DST, 2), frame, 0, frame.length),
    false,
  );
  assert.equal(f.indexPredicate, null);
  assert.equal(f.indexExact, false);
});

test('indexPredicate works on index entries with raw address bytes or text', () => {
  const f = compileFixedFilter({ srcAddr: '192.168.66.0/24', dstPort: 22, protocol: 'tcp', includeReverse: true });
  assert.ok(f.indexPredicate);
  assert.equal(f.indexExact, true);
  const key = (src: Uint8Array | string, sport: number, dst: Uint8Array | string, dport: number, protocol = 6) => ({
    tsNs: 1n,
    protocol,
    srcAddr: src,
    dstAddr: dst,
    srcPort: sport,
    dstPort: dport,
    vlan: -1,
  });
  assert.equal(
    f.indexPredicate!(key(Uint8Array.of(192, 168, 66, 1), 55791, Uint8Array.of(192, 168, 66, 121), 22)),
    true,
  );
  assert.equal(
    f.indexPredicate!(key(Uint8Array.of(192, 168, 66, 121), 22, Uint8Array.of(192, 168, 66, 1), 55791)),
    true,
    'reverse',
  );
  assert.equal(
    f.indexPredicate!(key(Uint8Array.of(192, 168, 67, 1), 55791, Uint8Array.of(192, 168, 66, 121), 22)),
    false,
  );
  assert.equal(f.indexPredicate!(key('192.168.66.1', 55791, '192.168.66.121', 22)), true);
  assert.equal(f.indexPredicate!(key('192.168.66.1', 55791, '192.168.66.121', 22, 17)), false);
  const v6 = compileFixedFilter({ dstAddr: '2001:db8::/48' });
  const b = new Uint8Array(16);
  b.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0xab]);
  assert.equal(v6.indexPredicate!(key('::1', 1, b, 2)), true);
  b[5] = 1;
  assert.equal(v6.indexPredicate!(key('::1', 1, b, 2)), false);
});

test('Metron field maps (REST/job config) convert to a spec', () => {
  const spec = fixedSpecFromMetronFields({
    ip_src_addr: SRC,
    ip_dst_addr: DST,
    ip_src_port: '0',
    ip_dst_port: '1',
    protocol: '6',
    includes_reverse_traffic: 'true',
    packet_filter: '',
  });
  assert.equal(run(spec, pkt(DST, 1, SRC, 0)), true);
  assert.match(
    compileFixedFilter(spec).description,
    /ip_src_addr=10\.0\.0\.1 ip_src_port=0 ip_dst_addr=10\.0\.0\.2 ip_dst_port=1 protocol=6 include_reverse/,
  );
});

test('bad values raise QueryError naming the option and column', () => {
  const cases: Array<[FixedFilterSpec, string, number | undefined, RegExp]> = [
    [{ srcAddr: '10.0.0.256' }, '-sa', 8, /not an IPv4 address/],
    [{ srcAddr: '010.0.0.1' }, '-sa', 1, /leading zeros/],
    [{ dstAddr: '10.0.0.0/33' }, '-da', 10, /prefix length/],
    [{ dstAddr: '2001:db8:::1' }, '-da', 1, /not an IPv6 address/],
    [{ dstAddr: 'src_ip' }, '-da', 1, /not an IPv4 address/],
    [{ srcPort: '80x' }, '-sp', 3, /not a port/],
    [{ dstPort: '70000' }, '-dp', 1, /out of range/],
    [{ dstPort: '2000-1000' }, '-dp', 1, /ends below/],
    [{ protocol: 'foo' }, '-p', 1, /unknown protocol 'foo'/],
    [{ protocol: '300' }, '-p', 1, /unknown protocol/],
    [{ packetFilter: '2f5' }, '-pf', 3, /two digits/],
  ];
  for (const [spec, option, position, re] of cases) {
    assert.throws(
      () => compileFixedFilter(spec),
      (e: unknown) => e instanceof QueryError && e.option === option && e.position === position && re.test(e.message),
      JSON.stringify(spec),
    );
  }
});

test('forAddressTable tests index entries by address id, deciding each table entry once', () => {
  const table = ['192.168.66.1', '192.168.66.121', '10.9.9.9', '2001:db8::1'];
  const entry = (src: number, sport: number, dst: number, dport: number, protocol = 6) => ({
    tsNs: 1n,
    pos: 0n,
    len: 0,
    protocol,
    src,
    dst,
    srcPort: sport,
    dstPort: dport,
    vlan: -1,
  });
  const f = compileFixedFilter({ srcAddr: '192.168.66.0/24', dstPort: 22, includeReverse: true });
  const pred = f.forAddressTable!(table);
  assert.equal(pred(entry(0, 55791, 1, 22)), true);
  assert.equal(pred(entry(1, 22, 0, 55791)), true, 'reverse');
  assert.equal(pred(entry(2, 55791, 1, 22)), false);
  assert.equal(pred(entry(-1, -1, -1, -1, 1)), false, 'no addresses');
  assert.equal(pred(entry(99, 55791, 1, 22)), false, 'an id outside the table never matches');
  assert.equal(compileFixedFilter({ packetFilter: 'ff' }).forAddressTable, null);
  const v6 = compileFixedFilter({ dstAddr: '2001:db8::/32' }).forAddressTable!(table);
  assert.equal(v6(entry(0, 1, 3, 2)), true);
  assert.equal(v6(entry(3, 1, 0, 2)), false);
});
