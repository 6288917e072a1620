/**
 * The bounds that keep a hostile expression cheap: its length, the depth of its brackets (the
 * parser recurses once per bracket, so this bounds its stack) and the depth of the tree it builds
 * (the compiler and the per-packet evaluator recurse once per level). Parsing itself is linear
 * in the length (grammar.peggy); these make the memory and stack bounded too.
 */
import { caretExcerpt, QueryError } from '../../errors.js';
import type { Expr } from './ast.js';

/** Characters. Far beyond a hand-written query (a 1,000-address `in [...]` list is ~20,000). */
export const MAX_QUERY_LENGTH = 65_536;
/**
 * Open brackets (`(`, `[`, a call's `(`) inside one another. The generated parser overflows
 * Node's default stack near 900 levels when cold; 100 leaves room for any caller's own frames.
 */
export const MAX_NESTING = 100;
/** Levels of the syntax tree (`not not …`, nested comparisons); and/or chains are balanced. */
export const MAX_TREE_DEPTH = 256;

function limitError(message: string, src: string, offset: number, option: string): QueryError {
  const before = src.slice(0, offset);
  const line = (before.match(/\n/g)?.length ?? 0) + 1;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return new QueryError(message, {
    option,
    position: column,
    line,
    excerpt: caretExcerpt(src, column, line),
  });
}

/**
 * Checks length and bracket depth before parsing, with a scan that skips strings and comments
 * as the grammar reads them. A string that is never closed ends the scan: the parser reports it.
 */
export function checkSourceLimits(src: string, option: string): void {
  if (src.length > MAX_QUERY_LENGTH) {
    throw new QueryError(
      `the expression is ${src.length} characters long; the limit is ${MAX_QUERY_LENGTH} (use 'in [...]' lists rather than long 'or' chains)`,
      { option },
    );
  }
  let depth = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x28 /* ( */ || c === 0x5b /* [ */) {
      if (++depth > MAX_NESTING) {
        throw limitError(`brackets nest more than ${MAX_NESTING} deep`, src, i, option);
      }
    } else if (c === 0x29 /* ) */ || c === 0x5d /* ] */) {
      if (depth > 0) depth--;
    } else if (c === 0x27 /* ' */ || c === 0x22 /* " */) {
      let j = i + 1;
      while (j < src.length && src.charCodeAt(j) !== c) j += src.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      if (j >= src.length) return;
      i = j;
    } else if (c === 0x2f /* / */ && src.charCodeAt(i + 1) === 0x2f) {
      const nl = src.indexOf('\n', i);
      if (nl < 0) return;
      i = nl;
    }
  }
}

/**
 * Checks the parsed tree: its depth (iteratively, so a deep tree cannot overflow the check
 * itself) and that every number is finite (`1e999` would silently be Infinity).
 */
export function checkTreeLimits(ast: Expr, src: string, option: string): void {
  const stack: Array<[Expr, number]> = [[ast, 1]];
  while (stack.length > 0) {
    const [e, depth] = stack.pop()!;
    if (depth > MAX_TREE_DEPTH) {
      throw limitError(
        `the expression nests more than ${MAX_TREE_DEPTH} operators deep (e.g. a long run of 'not')`,
        src,
        e.loc.start,
        option,
      );
    }
    switch (e.type) {
      case 'and':
      case 'or':
      case 'cmp':
      case 'in':
        stack.push([e.left, depth + 1], [e.right, depth + 1]);
        break;
      case 'not':
        stack.push([e.operand, depth + 1]);
        break;
      case 'call':
        for (const a of e.args) stack.push([a, depth + 1]);
        break;
      case 'list':
        for (const i of e.items) stack.push([i, depth + 1]);
        break;
      case 'num':
        if (!Number.isFinite(e.value)) {
          throw limitError(`the number ${clip(e.text)} is too large`, src, e.loc.start, option);
        }
        break;
    }
  }
}

const clip = (text: string): string => (text.length > 24 ? `${text.slice(0, 20)}…` : text);
