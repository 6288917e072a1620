/**
 * Metron's `-pf` / BYTEARRAY_MATCHER patterns: the byteseek regular-expression syntax
 * (github.com/nishihatapalmer/byteseek, syntax.md), searched anywhere in a byte range.
 *
 * Supported: hex bytes (`2f56ab`, whitespace optional), `'text'` (one-character strings are byte
 * values: invertible, range ends), `` `text` `` (ASCII case-insensitive), `.` any byte, ranges
 * `20-7f` / `'a'-'z'`, sets `[09 0a 'a'-'z' &80 [..]]`, `^` inversion of any single-byte element,
 * bitmasks `&07` (all mask bits set) and `~07` (any mask bit set), shorthands `\t \n \r \v \f \e
 * \d \D \l \L \u \U \i \I \s \S \w \W`, groups `( )` with alternatives `|`, repeats `{n}` `{n,m}`
 * `{n,*}` `*` `+` `?`, and `#` comments. As in byteseek, a repeat applies to the preceding element
 * as a whole: `'ab'{2}` is "abab".
 *
 * Deliberate differences: quoted text is encoded as UTF-8 (byteseek: ISO-8859-1; same bytes for
 * ASCII), and there are no charset directives or "wild bit" bytes (byteseek 3 additions).
 *
 * Matching never allocates per call and never backtracks: a plain byte string uses Buffer.indexOf,
 * a fixed-length pattern a table-driven scan, anything else a Pike VM (linear in the input, so a
 * pattern like `(.*)*` cannot blow up on a hostile packet).
 */
import { QueryError } from '../../errors.js';
import {
  type Cls,
  flatten,
  largestRepeat,
  MAX_STEPS_PER_BYTE,
  programSize,
  singleByteOf,
  trimUnanchoredEnds,
} from './ast.js';
import {
  type ByteMatcher,
  bytesMatcher,
  fixedMatcher,
  fixedStepsPerByte,
  nfaMatcher,
  nfaStepsPerByte,
} from './match.js';
import { Parser } from './parse.js';

/**
 * Compile a byteseek pattern. Throws QueryError (with `option` when given) on a bad pattern, and
 * on one whose matching could cost more than MAX_STEPS_PER_BYTE steps per packet byte (ast.ts).
 */
export function compileByteseek(pattern: string, option?: string): ByteMatcher {
  const ast = trimUnanchoredEnds(new Parser(pattern, option).parse());
  const flat: Cls[] = [];
  if (flatten(ast, flat)) {
    const single = flat.map(singleByteOf);
    if (single.every((b) => b >= 0)) return bytesMatcher(pattern, Buffer.from(single));
    const cost = fixedStepsPerByte(flat.length);
    if (cost > MAX_STEPS_PER_BYTE) {
      throw new QueryError(
        `invalid byte pattern: its ${flat.length} positions could cost up to ${cost} steps per packet byte (limit ${MAX_STEPS_PER_BYTE}); shorten it or its repeats`,
        { option, position: (largestRepeat(ast, MAX_STEPS_PER_BYTE - 1)?.at ?? 0) + 1 },
      );
    }
    return fixedMatcher(pattern, flat);
  }
  const size = programSize(ast);
  const cost = nfaStepsPerByte(size);
  if (cost > MAX_STEPS_PER_BYTE) {
    const rep = largestRepeat(ast, (MAX_STEPS_PER_BYTE - 1) / 2);
    const why = rep === null ? '' : `; the repeat here expands to ${fmtSize(rep.size)} instructions`;
    throw new QueryError(
      `invalid byte pattern: it could cost up to ${fmtSize(cost)} steps per packet byte (limit ${MAX_STEPS_PER_BYTE})${why}: use smaller repeat counts or fewer alternatives`,
      { option, position: (rep?.at ?? 0) + 1 },
    );
  }
  return nfaMatcher(pattern, ast);
}

const fmtSize = (n: number): string => (n >= 1e9 ? n.toExponential(1) : String(n));

export type { ByteMatcher } from './match.js';
