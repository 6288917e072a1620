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
import { type Cls, flatten, singleByteOf } from './ast.js';
import { type ByteMatcher, bytesMatcher, fixedMatcher, nfaMatcher } from './match.js';
import { Parser } from './parse.js';

/** Compile a byteseek pattern. Throws QueryError (with `option` when given) on a bad pattern. */
export function compileByteseek(pattern: string, option?: string): ByteMatcher {
  const ast = new Parser(pattern, option).parse();
  const flat: Cls[] = [];
  if (flatten(ast, flat)) {
    const single = flat.map(singleByteOf);
    if (single.every((b) => b >= 0)) return bytesMatcher(pattern, Buffer.from(single));
    return fixedMatcher(pattern, flat);
  }
  return nfaMatcher(pattern, ast, option);
}

export type { ByteMatcher } from './match.js';
