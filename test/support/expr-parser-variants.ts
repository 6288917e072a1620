/**
 * The query grammar compiled on the fly with peggy (a devDependency), for the tests and the
 * benchmark that COUNT parser work instead of timing it: `traced` counts every rule the parser
 * enters (peggy's tracer), so "linear" is checked as calls ≤ k × input length on any machine.
 * `legacyComparison` rebuilds the pre-fix Comparison rule (four alternatives each re-parsing
 * the left operand) as the benchmark's baseline.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import peggy from 'peggy';

export const GRAMMAR_PATH = fileURLToPath(new URL('../../src/query/filter/expr/grammar.peggy', import.meta.url));

export interface ParserVariant {
  /** Parses like the committed parser; throws peggy's SyntaxError (or RangeError on overflow). */
  parse(src: string): unknown;
  /** Rule entries during the last parse (only counted when built with `trace`). */
  readonly calls: number;
}

const LEGACY_COMPARISON = `Comparison
  = left:Operand _ NotKw __ InKw _ right:Operand { return { type: 'in', negated: true, left, right, loc: here() }; }
  / left:Operand _ InKw _ right:Operand { return { type: 'in', negated: false, left, right, loc: here() }; }
  / left:Operand _ op:CmpOp _ right:Operand { return { type: 'cmp', op, left, right, loc: here() }; }
  / Operand
`;

/** The grammar with its Comparison rule (and its CmpRest helper) swapped for the pre-fix one. */
export function legacyGrammar(source = readFileSync(GRAMMAR_PATH, 'utf8')): string {
  const from = source.indexOf('Comparison\n');
  const to = source.indexOf('// Only the leaves carry display names');
  if (from < 0 || to < from) throw new Error('grammar.peggy changed shape: update legacyGrammar()');
  return `${source.slice(0, from)}${LEGACY_COMPARISON}\n${source.slice(to)}`;
}

export function buildParser(opts: { cache?: boolean; trace?: boolean; grammar?: string } = {}): ParserVariant {
  const grammar = opts.grammar ?? readFileSync(GRAMMAR_PATH, 'utf8');
  const parser = peggy.generate(grammar, { cache: opts.cache ?? false, trace: opts.trace ?? false, output: 'parser' });
  let calls = 0;
  const tracer = {
    trace(event: { type: string }) {
      if (event.type === 'rule.enter') calls++;
    },
  };
  return {
    parse(src: string) {
      calls = 0;
      return opts.trace ? parser.parse(src, { tracer }) : parser.parse(src);
    },
    get calls() {
      return calls;
    },
  };
}

/** `depth` parentheses around a comparison; `closed` false leaves them all open (the inputs). */
export const nested = (depth: number, closed = true, inner = 'ip_dst_port == 53'): string =>
  `${'('.repeat(depth)}${inner}${closed ? ')'.repeat(depth) : ''}`;
