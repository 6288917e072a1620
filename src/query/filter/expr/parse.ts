/** Parsing a query expression with the generated parser, and turning its errors into one helpful line. */
import { caretExcerpt, QueryError } from '../../errors.js';
import type { Expr } from './ast.js';
import { checkSourceLimits, checkTreeLimits, MAX_NESTING } from './limits.js';
import { type Expectation, parse, SyntaxError as PeggySyntaxError } from './parser.js';

function syntaxError(err: PeggySyntaxError, src: string, option: string): QueryError {
  const { line, column } = err.location.start;
  const names = new Set<string>();
  for (const x of err.expected as Expectation[]) {
    if (x.type === 'literal') names.add(`'${x.text}'`);
    else if (x.type === 'other') names.add(x.description);
    else if (x.type === 'end') names.add('the end of the query');
  }
  // Peggy lists every token that could have come next; keep the ones that help a person.
  let list = [...names].filter((n) => n !== 'whitespace' && n !== 'name');
  if (list.length > 1) list = list.filter((n) => n !== "'('" && n !== "'['");
  const expected =
    list.length === 0
      ? ''
      : list.length === 1
        ? list[0]
        : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
  // Show the whole word that was found, not just its first character.
  const word = /^(?:[A-Za-z_$][A-Za-z0-9_.$]*|[0-9.]+|\S)/.exec(src.slice(err.location.start.offset))?.[0];
  const found =
    err.found === null || err.found === undefined || word === undefined ? 'the end of the query' : `'${word}'`;
  let hint = '';
  if (err.found === '=') hint = " (use '==' to compare)";
  else if ((err.found === "'" || err.found === '"') && names.has('value')) {
    return new QueryError(`syntax error: the string that starts here is not closed with ${err.found}`, {
      option,
      position: column,
      line,
      excerpt: caretExcerpt(src, column, line),
    });
  }
  return new QueryError(`syntax error: expected ${expected || 'something else'} but found ${found}${hint}`, {
    option,
    position: column,
    line,
    excerpt: caretExcerpt(src, column, line),
  });
}

/**
 * Parse only (for tools and tests). Throws QueryError on a syntax error or an expression beyond
 * the limits in limits.ts. Work is linear in the length of the source.
 */
export function parseQuery(source: string, option = '-q'): Expr | null {
  checkSourceLimits(source, option);
  let ast: Expr | null;
  try {
    ast = parse(source);
  } catch (err) {
    if (err instanceof PeggySyntaxError) throw syntaxError(err, source, option);
    // The bracket limit keeps the parser far from the stack's end; should a caller run it with
    // little stack left, the overflow is still a bad expression, not a crash.
    if (err instanceof RangeError) {
      throw new QueryError(`the expression nests too deeply to parse here (keep brackets under ${MAX_NESTING} deep)`, {
        option,
      });
    }
    throw err;
  }
  if (ast !== null) checkTreeLimits(ast, source, option);
  return ast;
}
