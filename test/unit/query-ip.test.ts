import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import {
  parseIPv4,
  parseIPv6,
  formatIPv6,
  addressBytesToText,
  compileAddressMatcher,
} from '../../src/query/filter/ip.js';

test('parseIPv4: strict dotted quads', () => {
  assert.equal(parseIPv4('0.0.0.0'), 0);
  assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
  assert.equal(parseIPv4('192.168.66.121'), 0xc0a84279);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1..2.3', '1.2.3.4 ', 'a.b.c.d', '1.2.3.-4']) {
    assert.equal(parseIPv4(bad), -1, bad);
  }
});

test('parseIPv6 agrees with node:net on validity', () => {
  const samples = [
    '::',
    '::1',
    '1::',
    '1:2:3:4:5:6:7:8',
    '1::8',
    '2001:db8::1',
    '::ffff:10.0.0.1',
    '1:2:3:4:5:6:1.2.3.4',
    'fe80::1%eth0',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    ':1',
    '1:',
    '12345::',
    'g::1',
    '1:2:3:4:5:6:7::',
    '::1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:1.2.3.4',
    '::1.2.3',
    '1.2.3.4::',
  ];
  const w = new Uint16Array(8);
  for (const s of samples) assert.equal(parseIPv6(s, w), isIP(s) === 6 && !s.includes('%'), s);
});

test('formatIPv6 is RFC 5952 (checked against the WHATWG URL serializer on random addresses)', () => {
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >> 8) & 0xffff;
  };
  const w = new Uint16Array(8);
  const back = new Uint16Array(8);
  for (let k = 0; k < 2000; k++) {
    for (let i = 0; i < 8; i++) w[i] = rnd() % 4 === 0 ? rnd() : 0; // plenty of zero runs
    if (w[5] === 0xffff && w.slice(0, 5).every((x) => x === 0)) continue; // mapped: URL writes hex
    // IPv4-compatible (::a.b.c.d, deprecated): written with a dotted tail as tshark and the decoder do.
    if (w.slice(0, 6).every((x) => x === 0) && w[6] !== 0) {
      assert.equal(formatIPv6(w), `::${w[6] >> 8}.${w[6] & 255}.${w[7] >> 8}.${w[7] & 255}`);
      continue;
    }
    const text = formatIPv6(w);
    const viaUrl = new URL(`http://[${text}]/`).hostname.slice(1, -1);
    assert.equal(text, viaUrl);
    assert.ok(parseIPv6(text, back));
    assert.deepEqual([...back], [...w]);
  }
  assert.equal(formatIPv6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]), '2001:db8::1:0:0:1');
  assert.equal(formatIPv6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatIPv6([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001]), '::ffff:10.0.0.1');
  assert.equal(formatIPv6([0, 0, 0, 0, 0, 0, 0x0102, 0x0304]), '::1.2.3.4', 'same text as the packet decoder');
});

test('addressBytesToText', () => {
  assert.equal(addressBytesToText(Uint8Array.of(192, 168, 0, 1)), '192.168.0.1');
  const b = new Uint8Array(16);
  b[15] = 1;
  assert.equal(addressBytesToText(b), '::1');
  assert.equal(addressBytesToText(new Uint8Array(5)), null);
});

test('matchers: prefixes on word boundaries and inside words', () => {
  const m = (spec: string) => {
    const r = compileAddressMatcher(spec);
    if ('problem' in r) throw new Error(r.problem);
    return r;
  };
  assert.equal(m('2001:db8::/33').matches('2001:db8:7fff::1'), true);
  assert.equal(m('2001:db8::/33').matches('2001:db8:8000::1'), false);
  assert.equal(m('::/0').matches('ffff::1'), true);
  assert.equal(m('10.1.2.3/31').matches('10.1.2.2'), true);
  assert.equal(m('10.1.2.3/31').text, '10.1.2.2/31');
  assert.equal(m('10.1.2.3/32').matches('10.1.2.2'), false);
  assert.equal(m(' 10.0.0.1 ').matches('10.0.0.1'), true);
  assert.equal(m('10.0.0.1').matches('garbage'), false);
  assert.equal(m('10.0.0.1').matches(null), false);
});
