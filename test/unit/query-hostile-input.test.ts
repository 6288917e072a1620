/**
 * Hostile input to the query tools (issue 10): the expression grammar, byteseek patterns and the
 * CLIs' arguments under adversarial and random input. Nothing may crash, print a stack trace or
 * more than one line; cost is checked by COUNTING work (rules the parser enters, matcher steps)
 * against the input's size, never by timing, so the checks hold on a loaded machine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { parseQueryArgs } from '../../src/cli/pcap-query/args.js';
import { main as inspectorMain } from '../../src/cli/inspector.js';
import { main as replayMain } from '../../src/cli/replay.js';
import { describeError, printable } from '../../src/cli/run.js';
import { isPcaplineError } from '../../src/lib/errors.js';
import { QueryError } from '../../src/query/errors.js';
import { MAX_STEPS_PER_BYTE } from '../../src/query/filter/byteseek/ast.js';
import { compileByteseek } from '../../src/query/filter/byteseek/index.js';
import { compileQuery, parseQuery } from '../../src/query/filter/expr/compile.js';
import { MAX_NESTING, MAX_QUERY_LENGTH, MAX_TREE_DEPTH } from '../../src/query/filter/expr/limits.js';
import { Prng } from '../support/prng.js';
import { buildParser, nested } from '../support/expr-parser-variants.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const NOW = new Date('2026-11-17T14:00:00Z');

/** Rules entered per input character, at most (the factored grammar needs ~12 on deep nesting). */
const CALLS_PER_CHAR = 40;

/** The one line a CLI prints for `err`: one line, printable, no stack frames. */
function assertOneLine(err: unknown, context: string): string {
  assert.ok(isPcaplineError(err), `${context}: not a PcaplineError: ${String(err)}`);
  assert.equal(err.exitCode, 2, `${context}: exit status ${err.exitCode}`);
  const line = describeError(err);
  assert.doesNotMatch(line, /\n/, context);
  assert.doesNotMatch(line, /\s+at .+:\d+:\d+/, context);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the check is that none get through
  assert.doesNotMatch(line, /[\u0000-\u0008\u000b-\u001f\u007f\u202e]/, context);
  return line;
}

const traced = buildParser({ trace: true });

/** Parses with the instrumented parser and checks the work against the input's length. */
function assertLinearParse(src: string): void {
  try {
    traced.parse(src);
  } catch (err) {
    if (err instanceof RangeError) throw err; // a stack overflow is a failure here
  }
  assert.ok(
    traced.calls <= CALLS_PER_CHAR * (src.length + 1),
    `${traced.calls} rule calls for ${src.length} characters: ${JSON.stringify(src.slice(0, 60))}`,
  );
}

describe('expression grammar: linear work, bounded depth', () => {
  it("the issue's inputs: instant answers, one line, the column", () => {
    assert.equal(compileQuery('(((((((((((((ip_dst_port == 53)))))))))))))').ast?.type, 'cmp');
    const unclosed = assert.throws(
      () => compileQuery('((((((((((((ip_dst_port == 53'),
      (e: unknown) => e instanceof QueryError && e.position === 30,
    );
    void unclosed;
    assert.throws(
      () => compileQuery('((((((((((((true'),
      (e: unknown) => e instanceof QueryError && e.position === 17 && /expected/.test(e.message),
    );
    for (const d of [10, 13]) assertLinearParse(nested(d));
  });

  it('rule calls grow linearly with nesting depth (closed and unclosed)', () => {
    const per: number[] = [];
    for (const d of [1, 10, 100, 1000]) {
      for (const closed of [true, false]) {
        const src = nested(d, closed);
        assertLinearParse(src);
        if (closed) per.push(traced.calls / src.length);
      }
    }
    // Calls per character settle to a constant: no super-linear term.
    assert.ok(per[3] <= per[2] * 1.1, `calls per char ${per.join(', ')}`);
  });

  it('limits: length, bracket depth, tree depth and huge numbers give one line with a column', () => {
    const cases: Array<[string, RegExp]> = [
      [nested(MAX_NESTING + 1), /brackets nest more than 100 deep/],
      [`${'f('.repeat(MAX_NESTING + 1)}x${')'.repeat(MAX_NESTING + 1)}`, /brackets nest more than/],
      [`${'['.repeat(5000)}`, /brackets nest more than/],
      [`${'not '.repeat(MAX_TREE_DEPTH + 5)}true`, /nests more than 256 operators deep/],
      [`${'!'.repeat(100_00)}true`, /nests more than/],
      ['ip_dst_port == 1e999', /the number 1e999 is too large/],
      [`ip_dst_port == ${'9'.repeat(400)}`, /is too large/],
      [`ip_dst_port in [${'1,'.repeat(MAX_QUERY_LENGTH)}1]`, /characters long; the limit is 65536/],
    ];
    for (const [src, re] of cases) {
      // (No raw-parser run here: beyond MAX_NESTING it would overflow; the limits are what stop it.)
      try {
        compileQuery(src);
        assert.fail(`accepted: ${src.slice(0, 40)}`);
      } catch (err) {
        assert.match(assertOneLine(err, src.slice(0, 40)), re);
      }
    }
    // Just inside the limits: accepted.
    assert.ok(compileQuery(nested(MAX_NESTING)).ast);
    assert.ok(compileQuery(`${'not '.repeat(MAX_TREE_DEPTH - 2)}true`).ast);
  });

  it('long alternations become a shallow tree and still evaluate in order', () => {
    const terms = Array.from({ length: 2500 }, (_, i) => `ip_dst_port == ${i}`);
    const src = terms.join(' or ');
    assertLinearParse(src);
    const q = compileQuery(src);
    let depth = 0;
    const walk = (e: unknown, d: number): void => {
      depth = Math.max(depth, d);
      const n = e as { type: string; left?: unknown; right?: unknown };
      if (n.type === 'or') {
        walk(n.left, d + 1);
        walk(n.right, d + 1);
      }
    };
    walk(q.ast, 1);
    assert.ok(depth <= 13, `an or-chain of 2500 is ${depth} levels deep`);
    assert.ok(q.indexPredicate);
    assert.equal(q.indexPredicate!({ srcPort: 1, dstPort: 2499, protocol: 6 } as never), true);
    assert.equal(q.indexPredicate!({ srcPort: 1, dstPort: 2500, protocol: 6 } as never), false);
  });

  it('random token soup: never a crash, one-line errors, linear parse work', () => {
    const rng = new Prng(10);
    const tokens = [
      '(',
      ')',
      '[',
      ']',
      'not ',
      '!',
      ' and ',
      ' or ',
      '&&',
      '||',
      ' == ',
      '=',
      ' in ',
      ' not in ',
      'ip_dst_port',
      'ip_src_addr',
      'packet',
      '53',
      '1e999',
      '-0.5e-7',
      '99999999999999999999999999',
      "'",
      '"',
      "'x'",
      '\\',
      '\0',
      '\u202e',
      '\u0007',
      '\u{1d54f}',
      '\ud800',
      'é',
      ',',
      'IN_SUBNET(',
      'BYTEARRAY_MATCHER(',
      "'.{1,40000}00'",
      ' ',
      '\n',
      '// c\n',
      'true',
      'null',
      'in',
    ];
    for (let k = 0; k < 600; k++) {
      let src = '';
      const n = rng.int(0, 80);
      for (let i = 0; i < n; i++) src += rng.pick(tokens);
      assertLinearParse(src);
      try {
        compileQuery(src);
      } catch (err) {
        assertOneLine(err, JSON.stringify(src));
      }
    }
  });

  it('structured adversaries: the parser does linear work on each', () => {
    const inputs = [
      `${'('.repeat(99)}ip_dst_port${')'.repeat(99)}`,
      `${'(ip_dst_port == 1 or '.repeat(99)}true`,
      `${'f(a, '.repeat(99)}`,
      `${'[1, '.repeat(99)}`,
      `ip_dst_port in [${Array.from({ length: 5000 }, (_, i) => i).join(',')}]`,
      `'${'\\'.repeat(5001)}`,
      `${"'a' == ".repeat(3000)}'a'`,
      `${'ip_dst_port == 1 and '.repeat(2000)}`,
      `${'-'.repeat(10_000)}1`,
      `${'1.'.repeat(5000)}`,
    ];
    for (const src of inputs) {
      assertLinearParse(src);
      try {
        compileQuery(src);
      } catch (err) {
        assertOneLine(err, src.slice(0, 40));
      }
    }
  });

  it('parseQuery turns a stack overflow (a caller with little stack left) into a QueryError', () => {
    const eat = (n: number): unknown => {
      if (n === 0) return parseQuery(nested(MAX_NESTING));
      try {
        return eat(n - 1);
      } catch (err) {
        if (err instanceof RangeError) throw err;
        throw err;
      }
    };
    // Find a recursion depth that leaves too little stack for 100 brackets; any outcome except a
    // RangeError escaping parseQuery is right.
    for (const n of [8000, 9000, 10_000]) {
      try {
        eat(n);
      } catch (err) {
        if (err instanceof QueryError) assert.match(err.message, /nests too deeply to parse here/);
        else assert.ok(err instanceof RangeError); // overflowed in this test's own frames, not the parser's
      }
    }
  });
});

describe('byteseek: bounded programs, counted steps within the per-packet budget', () => {
  const frames = [Buffer.alloc(1500, 0), Buffer.alloc(1500, 0xff), Buffer.alloc(64, 0x30)];
  {
    const rng = new Prng(7);
    const b = Buffer.alloc(1500);
    rng.fill(b);
    frames.push(b);
  }

  it("'.{1,40000}00' is bounded (an unanchored leading run is one byte); '00.{1,40000}00' is refused", () => {
    const m = compileByteseek('.{1,40000}00', '-pf');
    assert.equal(m.strategy, 'fixed');
    assert.ok(m.stepsPerByte <= 4);
    assert.equal(m.matches(Buffer.from([7, 0])), true);
    assert.equal(m.matches(Buffer.from([0])), false);
    assert.equal(m.matches(Buffer.from([0, 7])), false);
    assert.throws(
      () => compileByteseek('00.{1,40000}00', '-pf'),
      (e: unknown) =>
        e instanceof QueryError &&
        e.position === 4 &&
        /could cost up to \d+ steps per packet byte \(limit 512\)/.test(e.message),
    );
  });

  it('bounds: pattern length, nesting, nested repeats, alternation blow-up', () => {
    for (const [p, re] of [
      ['(00|01){1,1000}', /steps per packet byte/],
      ['((.){65535}){65535}', /steps per packet byte/],
      ['.{1,100}{1,100}{1,100}ff', /steps per packet byte/],
      [`${'('.repeat(65)}00${')'.repeat(65)}`, /nest more than 64 deep/],
      [`${'['.repeat(65)}00${']'.repeat(65)}`, /nest more than 64 deep/],
      ['00'.repeat(10_000), /characters long; the limit is 16384/],
      [`00${'.'.repeat(600)}00`, /positions could cost/],
    ] as const) {
      try {
        compileByteseek(p, '-pf');
        assert.fail(`accepted ${p.slice(0, 30)}`);
      } catch (err) {
        assert.match(assertOneLine(err, p.slice(0, 30)), re);
      }
    }
  });

  it('random patterns: compiled ones never exceed (L + 1) × stepsPerByte steps, nor the budget', () => {
    const rng = new Prng(11);
    const atoms = ['00', 'ff', '.', '[00 01]', '[^ff]', '&01', '~80', "'a'", '`Ab`', '\\d', '(', ')', '|'];
    const reps = ['', '', '', '*', '+', '?', '{2}', '{0,20}', '{3,*}', '{1,300}'];
    let compiled = 0;
    for (let k = 0; k < 400; k++) {
      let p = '';
      const n = rng.int(1, 12);
      for (let i = 0; i < n; i++) p += rng.pick(atoms) + rng.pick(reps);
      let m: ReturnType<typeof compileByteseek>;
      try {
        m = compileByteseek(p, '-pf');
      } catch (err) {
        assertOneLine(err, p);
        continue;
      }
      compiled++;
      if (m.strategy !== 'bytes') assert.ok(m.stepsPerByte <= MAX_STEPS_PER_BYTE, p);
      for (const f of frames) {
        m.matches(f);
        assert.ok(m.lastSteps <= (f.length + 1) * m.stepsPerByte, `${p}: ${m.lastSteps} steps on ${f.length} bytes`);
      }
    }
    assert.ok(compiled > 40, `only ${compiled} of 400 random patterns compiled`);
  });
});

describe('CLI arguments: exit 2 and one line naming the option', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcapline-hostile-'));
  const aFile = join(dir, 'a-file');
  writeFileSync(aFile, 'x');

  it('pcap-query: the issue’s argument errors, each naming its option', () => {
    const cases: Array<[string[], RegExp]> = [
      [['-bp', 'file:///tmp/%zz'], /^-bp: bad storage URI .*% is not followed by two hex digits/],
      [['-bp', 'hdfs://nn:8020/apps'], /^-bp: .*write webhdfs:\/\/<namenode>:9870\/path/],
      [['-bp', 'swebhdfs://nn:9871/apps'], /^-bp: .*swebhdfs:\/\/ \(WebHDFS over TLS\) is not supported/],
      [['-bp', 'webhdfs://[::1/x'], /^-bp: bad storage URI/],
      [['-pre', 'p'.repeat(300)], /^-pre: the prefix is too long/],
      [['-q', '((((((((((((true'], /^-q: syntax error/],
      [['-pf', '00.{1,40000}00'], /^-pf: invalid byte pattern: it could cost/],
    ];
    for (const [extra, re] of cases) {
      const mode = extra[0] === '-q' ? 'query' : 'fixed';
      try {
        parseQueryArgs([mode, '-st', '0', ...extra], NOW, { env: {} });
        assert.fail(`accepted ${extra.join(' ')}`);
      } catch (err) {
        assert.match(assertOneLine(err, extra.join(' ')), re);
      }
    }
    const alice = parseQueryArgs(['fixed', '-st', '0', '-bp', 'webhdfs://nn:9870/apps?user=alice'], NOW, { env: {} });
    assert.ok(!('help' in alice));
    assert.equal(alice.store, 'webhdfs://nn:9870?user=alice');
    assert.equal(alice.location, 'webhdfs://nn:9870/apps?user=alice');
  });

  it('pcap-query: random argv never escapes as anything but a one-line exit-2 error', () => {
    const rng = new Prng(3);
    const opts = ['-st', '-et', '-df', '-bp', '-sa', '-da', '-sp', '-dp', '-p', '-pf', '-q', '-rpf', '-pre', '-o'];
    const opts2 = ['--tz', '--max-packets', '--max-bytes', '--concurrency', '-ir', '--no-index', '--bogus', '-'];
    const values = [
      '0',
      '-1',
      '1e999',
      '99999999999999999999999',
      '',
      ' ',
      '\0',
      '\u202e',
      'é',
      '%zz',
      'file:///tmp/%zz',
      'hdfs://x/y',
      'webhdfs://x:99999/y',
      '10.0.0.0/33',
      '::ffff:1.2.3.4',
      '1-0',
      '((((((((true',
      "'",
      'yyyy-MM-dd',
      'x'.repeat(5000),
      aFile,
      '.{1,40000}00',
    ];
    for (let k = 0; k < 300; k++) {
      const argv = [rng.pick(['fixed', 'query'])];
      const n = rng.int(0, 6);
      for (let i = 0; i < n; i++) {
        argv.push(rng.pick(rng.chance(0.7) ? opts : opts2));
        if (rng.chance(0.8)) argv.push(rng.pick(values));
      }
      try {
        parseQueryArgs(argv, NOW, { env: {} });
      } catch (err) {
        assertOneLine(err, JSON.stringify(argv));
      }
    }
  });

  it('pcap-inspector and pcap-replay: bad arguments are one line, exit 2', async () => {
    const sink = () => {
      let text = '';
      const w = new Writable({
        write(chunk, _enc, cb) {
          text += String(chunk);
          cb();
        },
      });
      return { w, text: () => text };
    };
    for (const argv of [
      ['-i', 'file:///tmp/%zz'],
      ['-i', 'hdfs://nn:8020/x'],
      ['-i', 'swebhdfs://nn/x'],
      ['-i', '\0'],
      ['-i', aFile, '-n', '1e999'],
      ['-i', aFile, '-n', '-1'],
    ]) {
      const out = sink();
      const err = sink();
      assert.equal(await inspectorMain(argv, out.w, err.w), 2, argv.join(' '));
      assert.equal(err.text().trimEnd().split('\n').length, 1, err.text());
      assert.doesNotMatch(err.text(), /\s+at .+:\d+:\d+/);
    }
    for (const [argv, re] of [
      [['-i', aFile, '--rate', 'abc'], /^--rate: /],
      [['-i', aFile, '--batch', '1e9'], /^--batch: /],
      [['-i', aFile, '--partition', '-1'], /^--partition: /],
      [['-i', aFile, '--loop', '0.5'], /^--loop: /],
      [['-i', aFile, '-t', 'a/b'], /^-t\/--topic: /],
      [['-i', aFile, '-b', 'nohost'], /^-b\/--brokers: /],
      [['-i', aFile, '-b', 'h:99999'], /^-b\/--brokers: /],
    ] as const) {
      await assert.rejects(replayMain([...argv]), (err: unknown) => {
        assert.match(assertOneLine(err, argv.join(' ')), re);
        return true;
      });
    }
  });

  it('spawned pcap-query: the issue’s inputs exit 2 (or 0) with one stderr line and no stack trace', () => {
    const runQuery = (args: string[]) =>
      spawnSync(
        process.execPath,
        ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/pcap-query/main.ts'), ...args],
        {
          encoding: 'utf8',
          cwd: dir,
          env: { ...process.env, PCAPLINE_STORE: '' },
          timeout: 120_000,
        },
      );
    const none = `file://${dir}/no-store`;
    const rows: Array<[string[], number, RegExp]> = [
      [['query', '-st', '0', '-bp', none, '-q', nested(13)], 0, /no packets matched/],
      [['query', '-st', '0', '-bp', none, '-q', nested(12, false)], 2, /^pcap-query: -q: syntax error/],
      [['query', '-st', '0', '-bp', none, '-q', nested(12, false, 'true')], 2, /^pcap-query: -q: syntax error/],
      [['fixed', '-st', '0', '-bp', none, '-o', aFile], 2, /^pcap-query: -o: '.*' exists and is not a directory/],
    ];
    for (const [args, status, re] of rows) {
      const r = runQuery(args);
      assert.equal(r.status, status, r.stderr);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /\s+at .+:\d+:\d+/);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('printable escapes control, bidi and invisible characters', () => {
    assert.equal(printable('a\0b\u202ec\u200bd\u001b[31m'), 'a\\u0000b\\u202ec\\u200bd\\u001b[31m');
    assert.equal(printable('plain ü 𝕏'), 'plain ü 𝕏');
  });
});
