import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileByteseek } from '../../src/query/filter/byteseek/index.js';
import { QueryError } from '../../src/query/errors.js';

/** Sample record #12 of PCAPExampleOutput (Metron's REALPACKET): 24+16 pcap header bytes, then the frame. */
const REALPACKET = Buffer.from(
  'd4c3b2a1020004000000000000000000ffff0000010000000dfbea560923090062000000620000000a002700000008002796a47a0800451000547cdf40004006b7e9c0a84279c0a842010016d9ef129035948b92f427801801f5061200000101080a0014f5d511bdf9915bf6b70140db6d4fb551229ef07d2f56abd814bc56420489ca38e7faf8cec3d4',
  'hex',
);
const FRAME = REALPACKET.subarray(40);

const m = (pattern: string, data: Buffer | string, start?: number, end?: number): boolean =>
  compileByteseek(pattern).matches(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, start, end);
const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

// ByteArrayMatchingUtilTest (metron-compat §6.9), row by row.
test('metron-compat §6.9 backquoted string matches case-insensitively anywhere', () => {
  for (const d of ['metron', 'metron example', 'edward metron example', 'METRON'])
    assert.equal(m('`metron`', d), true, d);
  assert.equal(m('`metron`', 'apache'), false);
});

test('metron-compat §6.9 hex bytes, any byte, groups and repeats against REALPACKET', () => {
  assert.equal(m('2f56abd814bc56420489ca38e7faf8cec3d4', REALPACKET), true);
  assert.equal(m('2f56..14bc56420489ca38e7faf8cec3d4', REALPACKET), true);
  assert.equal(m('(2f56)(.){2}(14bc56420489ca38e7faf8cec3d4)', REALPACKET), true);
  assert.equal(m('(3f56)(.){2}(14bc56420489ca38e7faf8cec3d4)', REALPACKET), false);
  assert.equal(m('3f56abd814bc56420489ca38e7faf8cec3d4', REALPACKET), false);
});

test('metron-compat §6.9 the payload bytes are in the frame alone (pcap headers not needed)', () => {
  assert.equal(m('2f56abd814bc56420489ca38e7faf8cec3d4', FRAME), true);
  // Metron's quirk: the pcap magic matched every record. Over the frame it does not.
  assert.equal(m('d4c3b2a1', FRAME), false);
  assert.equal(m('d4c3b2a1', REALPACKET, 40, REALPACKET.length), false);
  assert.equal(m('d4c3b2a1', REALPACKET), true);
});

test('metron-compat §6.9 hex followed by a string, with and without whitespace', () => {
  const d1 = Buffer.concat([hex('deadbeef'), Buffer.from('metron')]);
  const d2 = Buffer.concat([Buffer.from('metronjones'), hex('deadbeef'), Buffer.from('metron')]);
  for (const d of [d1, d2]) {
    assert.equal(m('deadbeef', d), true);
    assert.equal(m('deadbeef `metron`', d), true);
    assert.equal(m("deadbeef'metron'", d), true);
  }
  assert.equal(m('deadbeef `metrox`', d1), false);
});

test('metron-compat §6.9 sets, inverted sets and bitmasks', () => {
  assert.equal(m('([ff]){4}', hex('ffffffff')), true);
  assert.equal(m('([ff]){6}', hex('ffffffff')), false);
  assert.equal(m('[^ff]', hex('00')), true);
  assert.equal(m('[^ff]', hex('ffff')), false);
  assert.equal(m('&01', hex('07')), true);
  assert.equal(m('&01', hex('00')), false);
  assert.equal(m('&01', hex('0001')), true);
  assert.equal(m('(dead).{2}(beef)', hex('dead0000beef')), true);
  assert.equal(m('(dead).{2}(beef)', hex('dead00beef')), false);
});

test('bitmask semantics follow byteseek: & = all mask bits, ~ = any mask bit', () => {
  assert.equal(m('&03', hex('01')), false);
  assert.equal(m('&03', hex('07')), true);
  assert.equal(m('~03', hex('01')), true);
  assert.equal(m('~03', hex('04')), false);
  assert.equal(m('&00', hex('00')), true);
  assert.equal(m('~00', hex('ff')), false);
  assert.equal(m('^&80', hex('80')), false);
  assert.equal(m('^&80', hex('7f')), true);
});

test('ranges, inversion, single-character strings, shorthands, comments', () => {
  assert.equal(m('20 [30-39] 20', ' 5 '), true);
  assert.equal(m("20 '0'-'9' 20", ' x '), false);
  assert.equal(m("20 ^['0'-'9'] 20", ' x '), true);
  assert.equal(m('20 ^30-39 20', ' 5 '), false);
  assert.equal(m("^'Z'", 'ZZZ'), false);
  assert.equal(m("^'Z'", 'ZZa'), true);
  assert.equal(m('\\d\\d\\d', 'ab123'), true);
  assert.equal(m('\\d\\d\\d', 'ab12c'), false);
  assert.equal(m("'GET' \\s+ '/'", 'GET   /index'), true);
  assert.equal(m("['aeiou']{3}", 'xxaeix'), true);
  assert.equal(m("['a'-'z' 'A'-'Z' &80]", '123\x80'), true);
  assert.equal(
    m(
      `'BEGIN:'              # BEGIN:
       20*  [30-39]+         # maybe spaces, some digits
       'END'`,
      'xxBEGIN:  42ENDyy',
    ),
    true,
  );
  assert.equal(m('7f-20', 'A'), true, 'ranges accept either order');
});

test('variable repeats, optional parts and alternatives', () => {
  assert.equal(m('00 01 02? 03 04', hex('0001030 4'.replace(' ', ''))), true);
  assert.equal(m('00 01 02? 03 04', hex('0001020304')), true);
  assert.equal(m('00 01 02? 03 04', hex('00010203')), false);
  assert.equal(m("'ab'{2}", 'xxababyy'), true, 'a repeat applies to the whole string');
  assert.equal(m("'ab'{2}", 'xxabbyy'), false);
  assert.equal(m("00 ('start'|'begin') 20+ ff", Buffer.concat([hex('00'), Buffer.from('begin  '), hex('ff')])), true);
  assert.equal(m("00 ('start'|'begin') 20+ ff", Buffer.concat([hex('00'), Buffer.from('begin'), hex('ff')])), false);
  assert.equal(m('aa{2,3} bb', hex('aaaabb')), true);
  assert.equal(m('aa{2,3} bb', hex('00aabb')), false);
  assert.equal(m('aa{2,*} bb', hex('aaaaaaaaaabb')), true);
  assert.equal(m("'x' .* 'y'", 'x123y'), true);
  assert.equal(m("'x' .* 'y'", 'y123x'), false);
  assert.equal(m('ff (.){5} ff', hex('00ff0102030405ff00')), true);
});

test('pathological patterns run on the Pike VM (no backtracking) and answer correctly', () => {
  const data = Buffer.alloc(4096, 0x61);
  for (const pattern of ["('a'*)* 'b'", "(('a'|'aa')+)+ 'b'"]) {
    const matcher = compileByteseek(pattern);
    assert.equal(matcher.strategy, 'nfa', pattern);
    assert.equal(matcher.matches(data), false, pattern);
    assert.equal(matcher.matches(Buffer.concat([data, Buffer.from('b')])), true, pattern);
  }
});

test('the Zeppelin example pattern (a quoted string with a slash)', () => {
  assert.equal(m("'/api/v1'", 'GET /api/v1/users HTTP/1.1'), true);
  assert.equal(m("'/api/v1'", 'GET /api/v2/users HTTP/1.1'), false);
});

test('matching is bounded to [start, end)', () => {
  const buf = Buffer.from('xxmetronxx');
  const bytes = compileByteseek("'metron'");
  const fixed = compileByteseek("'metr' . 'n'");
  const nfa = compileByteseek("'metr' .? 'on'");
  assert.deepEqual([bytes.strategy, fixed.strategy, nfa.strategy], ['bytes', 'fixed', 'nfa']);
  for (const mm of [bytes, fixed, nfa]) {
    assert.equal(mm.matches(buf, 2, 8), true, mm.strategy);
    assert.equal(mm.matches(buf, 2, 7), false, mm.strategy);
    assert.equal(mm.matches(buf, 3, 10), false, mm.strategy);
    assert.equal(mm.matches(buf), true, mm.strategy);
    assert.equal(mm.matches(Buffer.alloc(0)), false, mm.strategy);
  }
});

test('a matcher is reusable across many calls (scratch state is reset)', () => {
  const mm = compileByteseek("'a' ('b'|'c')+ 'd'");
  for (let k = 0; k < 10000; k++) {
    assert.equal(mm.matches(Buffer.from('xxabcbd')), true);
    assert.equal(mm.matches(Buffer.from('xxabcbx')), false);
  }
});

test('invalid patterns raise QueryError with the column', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['', 1, /empty/],
    ['2f5', 3, /two digits/],
    ['zz', 1, /unexpected 'z'/],
    ["'abc", 1, /not closed/],
    ['(2f56', 1, /not closed/],
    ['2f56)', 5, /no group is open/],
    ['[00 01', 1, /not closed/],
    ['00{0}', 3, /\{0\}/],
    ['00{3,1}', 3, /maximum below/],
    ['*00', 1, /nothing before it/],
    ['&0', 1, /hex mask/],
    ['\\q', 1, /shorthand/],
    ["^'ab'", 2, /single-character/],
    ['00 ()', 5, /empty/],
  ];
  for (const [pattern, column, re] of cases) {
    assert.throws(
      () => compileByteseek(pattern, '-pf'),
      (e: unknown) => e instanceof QueryError && e.option === '-pf' && e.position === column && re.test(e.message),
      `${pattern} → column ${column}`,
    );
  }
});

test('randomised cross-check against JavaScript regular expressions (all three strategies)', () => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >> 8) % n;
  };
  const hx = (b: number) => b.toString(16).padStart(2, '0');
  const esc = (b: number) => `\\x${hx(b)}`;
  // Small alphabet so matches actually happen.
  const atom = (): [string, string] => {
    switch (rnd(5)) {
      case 0:
      case 1: {
        const b = rnd(4);
        return [hx(b), esc(b)];
      }
      case 2:
        return ['.', '[\\s\\S]'];
      case 3: {
        const lo = rnd(3);
        const hi = lo + rnd(2);
        return [`[${hx(lo)}-${hx(hi)}]`, `[${esc(lo)}-${esc(hi)}]`];
      }
      default: {
        const a = rnd(4),
          b = rnd(4);
        return [`(${hx(a)}|${hx(b)} ${hx(a)})`, `(?:${esc(a)}|${esc(b)}${esc(a)})`];
      }
    }
  };
  const strategies = new Set<string>();
  for (let k = 0; k < 400; k++) {
    let bs = '';
    let re = '';
    const len = 1 + rnd(4);
    for (let i = 0; i < len; i++) {
      const [b, r] = atom();
      const q = rnd(6);
      const [qb, qr] = q === 0 ? ['?', '?'] : q === 1 ? ['{2}', '{2}'] : q === 2 ? ['{1,2}', '{1,2}'] : ['', ''];
      bs += `${b}${qb} `;
      re += `(?:${r})${qr}`;
    }
    const matcher = compileByteseek(bs);
    strategies.add(matcher.strategy);
    const regex = new RegExp(re);
    for (let j = 0; j < 10; j++) {
      const data = Buffer.from(Array.from({ length: rnd(24) }, () => rnd(5)));
      const s = rnd(4);
      const e = Math.max(s, data.length - rnd(4));
      const expected = regex.test(data.subarray(s, e).toString('latin1'));
      assert.equal(matcher.matches(data, s, e), expected, `${bs} on ${data.toString('hex')} [${s},${e})`);
    }
  }
  assert.deepEqual([...strategies].sort(), ['bytes', 'fixed', 'nfa']);
});
