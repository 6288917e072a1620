import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeFrame, decodePcapValue } from '../../src/packet/decode.js';
import { buildFrame, buildIpPacket, type FrameSpec } from '../support/frame-builder.js';
import { formatIpv6, ipv4Text, ipv6Text } from '../../src/packet/ip-text.js';
import { createPacketFields, type PacketFields } from '../../src/packet/packet-fields.js';
import { metronPcapValue } from '../../src/formats/pcap/pcap-record.js';
import { SequenceFileReader } from '../../src/formats/sequencefile/index.js';
import { SAMPLE_PATH } from '../helpers/fixtures.js';

const v4 = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));
/** Full (uncompressed) IPv6 text → bytes. */
const v6 = (s: string): Uint8Array => {
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    b[2 * i] = n >> 8;
    b[2 * i + 1] = n & 255;
  });
  return b;
};

const A4 = v4('10.0.0.5');
const B4 = v4('10.0.0.9');
const A6 = v6('2001:db8::5');
const B6 = v6('2001:db8:0:0:1::9');

function decode(frame: Uint8Array, linkType = 1, f: PacketFields = createPacketFields()): PacketFields {
  decodeFrame(frame, 0, frame.length, linkType, f);
  return f;
}

const tcp = { proto: 'tcp' as const, srcPort: 40000, dstPort: 443, flags: 0x12 };
const udp = { proto: 'udp' as const, srcPort: 5353, dstPort: 53 };
const payload = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

describe('decode: Metron sample (metron-compat §9)', () => {
  it('decodes every record to the documented 5-tuple', async () => {
    const f = createPacketFields();
    let i = 0;
    for await (const r of new SequenceFileReader(createReadStream(SAMPLE_PATH))) {
      assert.ok(decodePcapValue(r.value, f), `record ${i}: ${f.error}`);
      const fromServer = f.srcPort === 22;
      assert.deepEqual(
        [f.srcAddr, f.srcPort, f.dstAddr, f.dstPort, f.protocol],
        fromServer
          ? ['192.168.66.121', 22, '192.168.66.1', 55791, 6]
          : ['192.168.66.1', 55791, '192.168.66.121', 22, 6],
      );
      assert.equal(f.tsNs, r.tsNs);
      assert.equal(f.frameOffset, 40);
      assert.equal(f.length, r.value.length - 40);
      assert.equal(f.origLength, f.length);
      assert.equal(f.vlan, -1);
      i++;
    }
    assert.equal(i, 20);
  });

  it('record 12 payload holds the REALPACKET pattern inside the frame range', async () => {
    let i = 0;
    const f = createPacketFields();
    for await (const r of new SequenceFileReader(createReadStream(SAMPLE_PATH))) {
      if (i++ !== 12) continue;
      decodePcapValue(r.value, f);
      const pat = Buffer.from('2f56abd814bc56420489ca38e7faf8cec3d4', 'hex');
      const at = r.value.indexOf(pat, f.frameOffset);
      assert.equal(at, 120);
      assert.ok(at + pat.length <= f.frameOffset + f.length);
      assert.ok(at >= f.payloadOffset);
    }
  });
});

describe('decode: link layers and tags', () => {
  it('Ethernet IPv4 TCP, with offsets into the buffer', () => {
    const frame = buildFrame({ ip: { version: 4, src: A4, dst: B4 }, l4: tcp, payload });
    const buf = Buffer.concat([Buffer.alloc(100, 0xee), frame, Buffer.alloc(7, 0xee)]);
    const f = createPacketFields();
    assert.ok(decodeFrame(buf, 100, frame.length, 1, f));
    assert.deepEqual(
      [f.ipVersion, f.srcAddr, f.dstAddr, f.protocol, f.srcPort, f.dstPort, f.tcpFlags, f.etherType],
      [4, '10.0.0.5', '10.0.0.9', 6, 40000, 443, 0x12, 0x0800],
    );
    assert.equal(f.frameOffset, 100);
    assert.equal(f.l3Offset, 114);
    assert.equal(f.l4Offset, 134);
    assert.equal(f.payloadOffset, 154);
    assert.equal(f.payloadLength, payload.length);
    assert.deepEqual([...buf.subarray(f.payloadOffset, f.payloadOffset + f.payloadLength)], [...payload]);
    assert.equal(f.error, null);
  });

  it('802.1Q tag', () => {
    const f = decode(
      buildFrame({
        vlans: [{ tpid: 0x8100, vid: 100, pcp: 5 }],
        ip: { version: 4, src: A4, dst: B4 },
        l4: udp,
        payload,
      }),
    );
    assert.deepEqual([f.vlan, f.innerVlan, f.srcPort, f.dstPort, f.protocol], [100, -1, 5353, 53, 17]);
  });

  for (const outer of [0x88a8, 0x9100, 0x8100]) {
    it(`QinQ with outer TPID 0x${outer.toString(16)}`, () => {
      const f = decode(
        buildFrame({
          vlans: [
            { tpid: outer, vid: 300 },
            { tpid: 0x8100, vid: 4001 },
          ],
          ip: { version: 6, src: A6, dst: B6 },
          l4: tcp,
          payload,
        }),
      );
      assert.deepEqual(
        [f.vlan, f.innerVlan, f.ipVersion, f.srcAddr, f.dstAddr, f.srcPort, f.dstPort],
        [300, 4001, 6, '2001:db8::5', '2001:db8::1:0:0:9', 40000, 443],
      );
    });
  }

  it('raw IP link types 101, 12, 14, 228, 229', () => {
    const p4 = buildIpPacket({ version: 4, src: A4, dst: B4 }, udp, payload);
    const p6 = buildIpPacket({ version: 6, src: A6, dst: B6 }, udp, payload);
    for (const lt of [101, 12, 14]) {
      assert.equal(decode(p4, lt).srcAddr, '10.0.0.5');
      assert.equal(decode(p6, lt).srcAddr, '2001:db8::5');
      assert.equal(decode(p6, lt).dstPort, 53);
    }
    assert.equal(decode(p4, 228).dstPort, 53);
    assert.equal(decode(p6, 229).dstPort, 53);
    assert.equal(decode(Uint8Array.from([0x55, 1, 2]), 101).error, 'raw packet is not ip');
  });

  it('Linux cooked capture v1 (113) and v2 (276)', () => {
    const p6 = buildIpPacket({ version: 6, src: A6, dst: B6 }, tcp, payload);
    const sll = Buffer.alloc(16);
    sll.writeUInt16BE(0, 0); // to us
    sll.writeUInt16BE(1, 2); // ARPHRD_ETHER
    sll.writeUInt16BE(6, 4);
    sll.writeUInt16BE(0x86dd, 14);
    const f = decode(Buffer.concat([sll, p6]), 113);
    assert.deepEqual([f.srcAddr, f.dstPort, f.l3Offset, f.etherType], ['2001:db8::5', 443, 16, 0x86dd]);
    const sll2 = Buffer.alloc(20);
    sll2.writeUInt16BE(0x0800, 0);
    const g = decode(Buffer.concat([sll2, buildIpPacket({ version: 4, src: A4, dst: B4 }, udp, payload)]), 276);
    assert.deepEqual([g.srcAddr, g.dstPort, g.l3Offset], ['10.0.0.5', 53, 20]);
    assert.equal(decode(sll.subarray(0, 10), 113).error, 'truncated linux cooked header');
  });

  it('BSD loopback (0, host order) and LOOP (108, network order)', () => {
    const p4 = buildIpPacket({ version: 4, src: A4, dst: B4 }, udp, payload);
    const p6 = buildIpPacket({ version: 6, src: A6, dst: B6 }, udp, payload);
    assert.equal(decode(Buffer.concat([Buffer.from([2, 0, 0, 0]), p4]), 0).srcAddr, '10.0.0.5');
    assert.equal(decode(Buffer.concat([Buffer.from([30, 0, 0, 0]), p6]), 0).srcAddr, '2001:db8::5');
    assert.equal(decode(Buffer.concat([Buffer.from([0, 0, 0, 2]), p4]), 108).srcAddr, '10.0.0.5');
  });

  it('non-IP frames decode without error; unknown link types report one', () => {
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    const f = decode(arp);
    assert.deepEqual([f.error, f.ipVersion, f.etherType, f.srcAddr, f.protocol], [null, 0, 0x0806, null, -1]);
    assert.equal(decode(arp, 147).error, 'unsupported link type');
  });
});

describe('decode: IPv4 details', () => {
  it('ICMP has addresses (Metron left them out), type and code, no ports', () => {
    const f = decode(
      buildFrame({ ip: { version: 4, src: A4, dst: B4 }, l4: { proto: 'icmp', type: 8, code: 0 }, payload }),
    );
    assert.deepEqual(
      [f.srcAddr, f.dstAddr, f.protocol, f.srcPort, f.dstPort, f.icmpType, f.icmpCode],
      ['10.0.0.5', '10.0.0.9', 1, -1, -1, 8, 0],
    );
  });

  it('fragments: ports only on the first', () => {
    const first = decode(buildFrame({ ip: { version: 4, src: A4, dst: B4, moreFragments: true }, l4: udp, payload }));
    assert.deepEqual([first.fragment, first.fragmentOffset, first.srcPort, first.dstPort], [true, 0, 5353, 53]);
    const later = decode(buildFrame({ ip: { version: 4, src: A4, dst: B4, fragmentOffset: 1480 }, l4: udp, payload }));
    assert.deepEqual(
      [later.fragment, later.fragmentOffset, later.srcPort, later.dstPort, later.protocol, later.srcAddr, later.error],
      [true, 1480, -1, -1, 17, '10.0.0.5', null],
    );
  });

  it('options (IHL > 5) are skipped', () => {
    const f = decode(
      buildFrame({ ip: { version: 4, src: A4, dst: B4, options: Uint8Array.from([0x94, 4, 0, 0]) }, l4: tcp, payload }),
    );
    assert.deepEqual([f.srcPort, f.dstPort, f.l4Offset - f.l3Offset], [40000, 443, 24]);
  });

  it('Ethernet padding is not counted as payload', () => {
    const frame = buildFrame({ ip: { version: 4, src: A4, dst: B4 }, l4: udp, payload: Uint8Array.from([1]) });
    const padded = Buffer.concat([frame, Buffer.alloc(60 - frame.length)]);
    const f = decode(padded);
    assert.equal(f.payloadLength, 1);
    assert.equal(f.length, 60);
  });

  it('bad IHL and bad version are reported, keeping what was read', () => {
    const frame = buildFrame({ ip: { version: 4, src: A4, dst: B4 }, l4: udp, payload });
    frame[14] = 0x43;
    const f = decode(frame);
    assert.deepEqual([f.error, f.srcAddr, f.protocol, f.srcPort], ['bad ipv4 header length', '10.0.0.5', 17, -1]);
    frame[14] = 0x55;
    assert.equal(decode(frame).error, 'bad ipv4 version');
  });
});

describe('decode: IPv6 extension headers', () => {
  it('hop-by-hop, routing, destination options and AH before TCP', () => {
    const f = decode(
      buildFrame({
        ip: { version: 6, src: A6, dst: B6, ext: [{ type: 0 }, { type: 43 }, { type: 60, units: 1 }, { type: 51 }] },
        l4: tcp,
        payload,
      }),
    );
    assert.deepEqual(
      [f.protocol, f.srcPort, f.dstPort, f.error, f.payloadLength],
      [6, 40000, 443, null, payload.length],
    );
    assert.equal(f.l4Offset - f.l3Offset, 40 + 8 + 8 + 16 + 24);
  });

  it('fragment header: ports on the first fragment only', () => {
    const first = decode(
      buildFrame({
        ip: { version: 6, src: A6, dst: B6, ext: [{ type: 44, offset: 0, more: true }] },
        l4: udp,
        payload,
      }),
    );
    assert.deepEqual([first.fragment, first.protocol, first.srcPort, first.dstPort], [true, 17, 5353, 53]);
    const later = decode(
      buildFrame({
        ip: { version: 6, src: A6, dst: B6, ext: [{ type: 0 }, { type: 44, offset: 1448, more: false }] },
        l4: udp,
        payload,
      }),
    );
    assert.deepEqual(
      [later.fragment, later.fragmentOffset, later.protocol, later.srcPort, later.error],
      [true, 1448, 17, -1, null],
    );
  });

  it('ICMPv6', () => {
    const f = decode(
      buildFrame({ ip: { version: 6, src: A6, dst: B6 }, l4: { proto: 'icmpv6', type: 128, code: 0 }, payload }),
    );
    assert.deepEqual([f.protocol, f.icmpType, f.srcAddr, f.srcPort], [58, 128, '2001:db8::5', -1]);
  });

  it('no next header (59) and ESP (50) stop the chain', () => {
    assert.equal(
      decode(
        buildFrame({
          ip: { version: 6, src: A6, dst: B6, ext: [{ type: 60 }] },
          l4: { proto: 'raw', number: 59 },
          payload,
        }),
      ).protocol,
      59,
    );
    const esp = decode(buildFrame({ ip: { version: 6, src: A6, dst: B6 }, l4: { proto: 'raw', number: 50 }, payload }));
    assert.deepEqual([esp.protocol, esp.error, esp.srcPort], [50, null, -1]);
  });

  it('a truncated extension header is reported', () => {
    const frame = buildFrame({ ip: { version: 6, src: A6, dst: B6, ext: [{ type: 60, units: 3 }] }, l4: tcp, payload });
    const f = decode(frame.subarray(0, 14 + 40 + 16));
    assert.equal(f.error, 'truncated ipv6 extension header');
    assert.equal(f.srcAddr, '2001:db8::5');
  });
});

describe('decode: truncation never throws', () => {
  const specs: FrameSpec[] = [
    {
      vlans: [
        { tpid: 0x88a8, vid: 1 },
        { tpid: 0x8100, vid: 2 },
      ],
      ip: { version: 6, src: A6, dst: B6, ext: [{ type: 0 }, { type: 44, offset: 0, more: true }] },
      l4: tcp,
      payload,
    },
    { ip: { version: 4, src: A4, dst: B4 }, l4: tcp, payload },
    { ip: { version: 4, src: A4, dst: B4 }, l4: { proto: 'icmp', type: 3, code: 1 }, payload },
  ];
  for (const [i, spec] of specs.entries()) {
    it(`every prefix of frame ${i}`, () => {
      const frame = buildFrame(spec);
      const f = createPacketFields();
      for (let n = 0; n <= frame.length; n++) {
        const ok = decodeFrame(frame.subarray(0, n), 0, n, 1, f);
        assert.equal(ok, f.error === null);
        if (n < 14) assert.equal(f.error, 'truncated ethernet header');
        if (n === frame.length) assert.equal(f.error, null);
        // Declared longer than the buffer: cut short, not a crash.
        decodeFrame(frame.subarray(0, n), 0, frame.length, 1, f);
        if (n < frame.length) assert.notEqual(f.error, null);
      }
    });
  }

  it('out-of-range offsets', () => {
    const f = createPacketFields();
    assert.equal(decodeFrame(Buffer.alloc(10), 20, 5, 1, f), false);
    assert.equal(decodeFrame(Buffer.alloc(10), -1, 5, 1, f), false);
    assert.equal(decodePcapValue(Buffer.alloc(10), f, 5, 50), false);
  });
});

describe('decodePcapValue', () => {
  const frame = buildFrame({ ip: { version: 4, src: A4, dst: B4 }, l4: udp, payload });
  it('Metron value: time, lengths and offsets', () => {
    const v = metronPcapValue(1700000000123456789n, frame);
    const f = createPacketFields();
    assert.ok(decodePcapValue(v, f));
    assert.equal(f.tsNs, 1700000000123456000n);
    assert.deepEqual(
      [f.frameOffset, f.length, f.origLength, f.linkType, f.dstPort],
      [40, frame.length, frame.length, 1, 53],
    );
    // Inside a larger buffer.
    const big = Buffer.concat([Buffer.alloc(33), v, Buffer.alloc(5)]);
    assert.ok(decodePcapValue(big, f, 33, v.length));
    assert.equal(f.frameOffset, 73);
    assert.equal(f.l3Offset, 73 + 14);
  });

  it('ns big-endian value with raw IP link type and orig_len > incl_len', () => {
    const ip = buildIpPacket({ version: 6, src: A6, dst: B6 }, udp, payload);
    const v = Buffer.alloc(40 + ip.length);
    v.writeUInt32BE(0xa1b23c4d, 0);
    v.writeUInt16BE(2, 4);
    v.writeUInt16BE(4, 6);
    v.writeUInt32BE(262144, 16);
    v.writeUInt32BE(101, 20);
    v.writeUInt32BE(1700000000, 24);
    v.writeUInt32BE(999999999, 28);
    v.writeUInt32BE(ip.length, 32);
    v.writeUInt32BE(9000, 36);
    ip.copy(v, 40);
    const f = createPacketFields();
    assert.ok(decodePcapValue(v, f));
    assert.deepEqual(
      [f.tsNs, f.linkType, f.origLength, f.srcAddr, f.dstPort],
      [1700000000999999999n, 101, 9000, '2001:db8::5', 53],
    );
  });

  it('bad values set error and never throw', () => {
    const f = createPacketFields();
    assert.equal(decodePcapValue(Buffer.alloc(3), f), false);
    assert.equal(f.error, 'truncated pcap global header');
    assert.equal(decodePcapValue(Buffer.alloc(50), f), false);
    assert.equal(f.error, 'bad pcap magic');
    const v = metronPcapValue(1n, frame);
    assert.equal(decodePcapValue(v.subarray(0, 30), f), false);
    assert.equal(f.error, 'truncated pcap packet header');
    assert.equal(decodePcapValue(v.subarray(0, v.length - 2), f), false);
    assert.equal(f.error, 'pcap value shorter than incl_len');
    assert.equal(f.dstPort, 53, 'what could be decoded is kept');
  });

  it('reusing the fields object resets everything but the time', () => {
    const f = createPacketFields();
    decodePcapValue(metronPcapValue(5n, frame), f);
    f.tsNs = 77n;
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    decodeFrame(arp, 0, arp.length, 1, f);
    const fresh = createPacketFields();
    decodeFrame(arp, 0, arp.length, 1, fresh);
    assert.deepEqual({ ...f, tsNs: 0n }, { ...fresh, tsNs: 0n });
    assert.equal(f.tsNs, 77n);
  });
});

describe('address text', () => {
  // Expected strings checked against tshark 4.0 (ipv6.src) and RFC 5952.
  const cases: Array<[string, string]> = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010000000000010000000000000001', '2001:0:0:1::1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['fe800000000000000000000000000000', 'fe80::'],
    ['20010db8aaaabbbbccccddddeeeeffff', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff'],
    ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
    ['00000000000000000000000001020304', '::1.2.3.4'],
    ['0000000000000000000000000000ffff', '::ffff'],
    ['0064ff9b0000000000000000c0000201', '64:ff9b::c000:201'],
    ['00000000000000010000000000000000', '0:0:0:1::'],
    ['00010000000000000000000000000000', '1::'],
    ['ff0200000000000000000000000000fb', 'ff02::fb'],
  ];
  for (const [hex, text] of cases) {
    it(`${hex} → ${text}`, () => {
      const b = Buffer.from(hex, 'hex');
      assert.equal(formatIpv6(b, 0), text);
      assert.equal(ipv6Text(b, 0), text);
      assert.equal(ipv6Text(b, 0), text, 'cached');
    });
  }
  it('cache collisions return the right strings', () => {
    const b = Buffer.alloc(16);
    for (let i = 0; i < 5000; i++) {
      b.writeUInt32BE((i * 2654435761) >>> 0, 12);
      const want = formatIpv6(b, 0);
      assert.equal(ipv6Text(b, 0), want);
      const a4 = Buffer.from([i & 255, (i >> 8) & 255, 7, 0]);
      assert.equal(ipv4Text(a4, 0), `${a4[0]}.${a4[1]}.7.0`);
    }
    assert.equal(ipv4Text(Buffer.alloc(4), 0), '0.0.0.0');
  });
});
