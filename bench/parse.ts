/**
 * Parse cost of `pcap-query query -q` expressions against nesting depth (not a test):
 * `npm run bench:parse`. For depth 1, 10, 100 and 1000 parentheses around `ip_dst_port == 53`:
 *   calls     = rules the parser enters (peggy's tracer): the machine-independent measure of work
 *   factored  = the committed parser (grammar.peggy, no memo table)
 *   cached    = the same grammar built with peggy's --cache (memoises every rule at every position)
 *   legacy    = the baseline: the pre-fix Comparison rule, which re-parsed its left operand in four
 *               alternatives (4^depth; measured only while it stays under a second)
 * Times are medians of repeated parses after a warm-up; quote the ratios (machines are shared).
 * Depth 1000 exceeds parseQuery's bracket limit (100): it is measured on the raw parser to show
 * the grammar's growth, and parseQuery's refusal is printed below the table.
 */
import { parse as committedParse } from '../src/query/filter/expr/parser.js';
import { parseQuery } from '../src/query/filter/expr/parse.js';
import { QueryError } from '../src/query/errors.js';
import { buildParser, legacyGrammar, nested } from '../test/support/expr-parser-variants.js';
import { table } from './lib.js';

const DEPTHS = [1, 10, 100, 1000];
const LEGACY_DEPTHS = [1, 2, 4, 6, 7];

/** Median µs per call of `fn`, repeated until ~`budgetMs` is spent (at least 5 runs). */
function timeUs(fn: () => void, budgetMs = 300): number {
  for (let i = 0; i < 3; i++) fn();
  const samples: number[] = [];
  const until = performance.now() + budgetMs;
  while (samples.length < 5 || (performance.now() < until && samples.length < 10_000)) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) * 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

const us = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(2)} ms` : `${x.toFixed(1)} µs`);

function main(): void {
  console.log(`node ${process.version}; parse time of '('×d ip_dst_port == 53 ')'×d`);
  const traced = buildParser({ trace: true });
  const cached = buildParser({ cache: true });
  const rows: string[][] = [];
  let base = 0;
  let baseCalls = 0;
  for (const d of DEPTHS) {
    const src = nested(d);
    traced.parse(src);
    const calls = traced.calls;
    const factored = timeUs(() => committedParse(src));
    const memo = timeUs(() => cached.parse(src));
    if (d === 1) {
      base = factored;
      baseCalls = calls;
    }
    rows.push([
      String(d),
      String(src.length),
      String(calls),
      `${(calls / baseCalls).toFixed(1)}×`,
      us(factored),
      `${(factored / base).toFixed(1)}×`,
      us(memo),
      `${(memo / factored).toFixed(2)}×`,
    ]);
  }
  console.log(
    table(['depth', 'chars', 'calls', 'calls/d1', 'factored', 'time/d1', 'cached (--cache)', 'cached/factored'], rows),
  );

  const legacy = buildParser({ trace: true, grammar: legacyGrammar() });
  const legacyTimed = buildParser({ grammar: legacyGrammar() });
  const lrows: string[][] = [];
  for (const d of LEGACY_DEPTHS) {
    const src = nested(d);
    legacy.parse(src);
    traced.parse(src);
    lrows.push([String(d), String(legacy.calls), String(traced.calls), us(timeUs(() => legacyTimed.parse(src), 200))]);
  }
  console.log('\nbaseline: the pre-fix grammar (calls grow 4× per level; depth 10 took 3.6 s in the issue, 30 s here)');
  console.log(table(['depth', 'legacy calls', 'factored calls', 'legacy time'], lrows));

  for (const d of [100, 101, 1000]) {
    try {
      parseQuery(nested(d));
      console.log(`parseQuery depth ${d}: accepted`);
    } catch (err) {
      console.log(`parseQuery depth ${d}: ${err instanceof QueryError ? err.describe() : String(err)}`);
    }
  }
}

main();
