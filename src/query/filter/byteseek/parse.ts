import { caretExcerpt, QueryError } from '../../errors.js';
import {
  ANY,
  type Cls,
  caseVariants,
  clsOf,
  clsRange,
  hexVal,
  invert,
  MAX_PATTERN_LENGTH,
  MAX_PATTERN_NESTING,
  MAX_REPEAT,
  type Node,
  newCls,
  SHORTHANDS,
  seqOf,
  union,
  utf8,
} from './ast.js';

/** Recursive-descent parser for the byteseek syntax (see index.ts); errors carry the column. */
export class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly src: string,
    private readonly option: string | undefined,
  ) {}

  fail(message: string, at = this.i): never {
    const column = Math.min(at, this.src.length) + 1;
    throw new QueryError(`invalid byte pattern: ${message}`, {
      option: this.option,
      position: column,
      excerpt: caretExcerpt(this.src, column),
    });
  }

  parse(): Node {
    if (this.src.length > MAX_PATTERN_LENGTH) {
      this.fail(`the pattern is ${this.src.length} characters long; the limit is ${MAX_PATTERN_LENGTH}`, 0);
    }
    this.skip();
    if (this.i >= this.src.length) this.fail('the pattern is empty');
    const node = this.alternatives();
    if (this.i < this.src.length) this.fail(`unexpected '${this.src[this.i]}' (no group is open)`);
    return node;
  }

  /** One level deeper into a group or set: bounded, so a hostile pattern cannot exhaust the stack. */
  private enter(at: number): void {
    if (++this.depth > MAX_PATTERN_NESTING) this.fail(`groups and sets nest more than ${MAX_PATTERN_NESTING} deep`, at);
  }

  private skip(): void {
    const s = this.src;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.i++;
      else if (c === '#') {
        while (this.i < s.length && s[this.i] !== '\n') this.i++;
      } else break;
    }
  }

  private alternatives(): Node {
    const alts: Node[] = [this.sequence()];
    while (this.src[this.i] === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    return alts.length === 1 ? alts[0] : { t: 'alt', alts };
  }

  private sequence(): Node {
    const items: Node[] = [];
    const startAt = this.i;
    for (;;) {
      this.skip();
      if (this.i >= this.src.length) break;
      const c = this.src[this.i];
      if (c === '|' || c === ')') break;
      if (c === '*' || c === '+' || c === '?' || c === '{') {
        const last = items.pop();
        if (last === undefined) this.fail(`'${c}' has nothing before it to repeat`);
        items.push(this.quantifier(last));
        continue;
      }
      items.push(...this.element());
    }
    if (items.length === 0) this.fail('empty alternative or group', startAt);
    return items.length === 1 ? items[0] : { t: 'seq', items };
  }

  private quantifier(node: Node): Node {
    const at = this.i;
    const c = this.src[this.i++];
    if (c === '*') return { t: 'rep', node, min: 0, max: Infinity, at };
    if (c === '+') return { t: 'rep', node, min: 1, max: Infinity, at };
    if (c === '?') return { t: 'rep', node, min: 0, max: 1, at };
    // '{n}', '{n,m}', '{n,*}'
    const open = this.i - 1;
    const min = this.int();
    if (this.src[this.i] === '}') {
      this.i++;
      if (min === 0) this.fail('a repeat count of {0} matches nothing', open);
      return { t: 'rep', node, min, max: min, at };
    }
    if (this.src[this.i] !== ',') this.fail("expected ',' or '}' in the repeat", this.i);
    this.i++;
    let max: number;
    if (this.src[this.i] === '*') {
      this.i++;
      max = Infinity;
    } else {
      max = this.int();
      if (max < min) this.fail(`the repeat {${min},${max}} has its maximum below its minimum`, open);
      if (max === 0) this.fail('a repeat of {0,0} matches nothing', open);
    }
    if (this.src[this.i] !== '}') this.fail("expected '}' to close the repeat", this.i);
    this.i++;
    return { t: 'rep', node, min, max, at };
  }

  private int(): number {
    const from = this.i;
    while (this.i < this.src.length && /[0-9]/.test(this.src[this.i])) this.i++;
    if (this.i === from) this.fail('expected a number in the repeat');
    const n = Number(this.src.slice(from, this.i));
    if (n > MAX_REPEAT) this.fail(`repeat count ${n} is larger than ${MAX_REPEAT}`, from);
    return n;
  }

  /** One element of a sequence; a multi-character string yields several single-byte nodes. */
  private element(): Node[] {
    const s = this.src;
    const c = s[this.i];
    if (c === '(') {
      const open = this.i++;
      this.enter(open);
      const inner = this.alternatives();
      if (s[this.i] !== ')') this.fail("the group is not closed with ')'", open);
      this.i++;
      this.depth--;
      return [inner];
    }
    if (c === '.') {
      this.i++;
      return [{ t: 'cls', c: ANY }];
    }
    if (c === '`') {
      // A string is one element: a repeat after it repeats the whole string, as in byteseek.
      return [seqOf(this.quoted('`').map((b) => clsOf(...caseVariants(b))))];
    }
    if (c === "'") {
      const at = this.i;
      const text = this.quotedText("'");
      if (text.length === 1 && text.charCodeAt(0) < 0x80) {
        return [{ t: 'cls', c: this.maybeRange(text.charCodeAt(0), false, at) }];
      }
      return [seqOf(utf8(text).map((b) => clsOf(b)))];
    }
    // Everything else is a single-byte element (possibly inverted).
    return [{ t: 'cls', c: this.singleByte(false) }];
  }

  /** Read `q...q` and return its text (no escapes, as in byteseek). */
  private quotedText(q: string): string {
    const open = this.i++;
    const close = this.src.indexOf(q, this.i);
    if (close < 0) this.fail(`the string opened here is not closed with ${q}`, open);
    const text = this.src.slice(this.i, close);
    if (text.length === 0) this.fail('empty string', open);
    this.i = close + 1;
    return text;
  }

  private quoted(q: string): number[] {
    return utf8(this.quotedText(q));
  }

  /**
   * A single-byte element: hex byte, 1-char string, range, bitmask, set, shorthand, each optionally
   * inverted with '^'. `inSet` allows the extras a set may hold (strings as byte lists, `.`).
   */
  private singleByte(inSet: boolean): Cls {
    const s = this.src;
    let inverted = false;
    if (s[this.i] === '^') {
      inverted = true;
      this.i++;
      this.skip();
    }
    const at = this.i;
    const c = s[this.i];
    if (c === undefined)
      this.fail(inverted ? "'^' must be followed by something to invert" : 'unexpected end of pattern');
    let cls: Cls;
    if (hexVal(c) >= 0) {
      const lo = hexVal(c);
      const hi = this.i + 1 < s.length ? hexVal(s[this.i + 1]) : -1;
      if (hi < 0) this.fail('hex bytes need two digits', at);
      this.i += 2;
      cls = this.maybeRange(lo * 16 + hi, inverted, at);
      return cls; // maybeRange applied the inversion
    } else if (c === "'") {
      const text = this.quotedText("'");
      if (text.length === 1 && text.charCodeAt(0) < 0x80) return this.maybeRange(text.charCodeAt(0), inverted, at);
      if (!inSet) this.fail('only a single-character string can be inverted or used in a range', at);
      if (inverted) this.fail('only a single-character string can be inverted', at);
      return clsOf(...utf8(text));
    } else if (c === '`') {
      if (!inSet) this.fail('a case-insensitive string cannot be inverted', at);
      if (inverted) this.fail('a case-insensitive string cannot be inverted', at);
      return clsOf(...this.quoted('`').flatMap(caseVariants));
    } else if (c === '&' || c === '~') {
      this.i++;
      const h1 = hexVal(s[this.i] ?? ''),
        h2 = hexVal(s[this.i + 1] ?? '');
      if (h1 < 0 || h2 < 0) this.fail(`'${c}' must be followed by a two-digit hex mask`, at);
      this.i += 2;
      const mask = h1 * 16 + h2;
      cls = newCls();
      // & : all mask bits set ((b & m) == m);  ~ : any mask bit set ((b & m) != 0). byteseek semantics.
      for (let b = 0; b < 256; b++) cls[b] = (c === '&' ? (b & mask) === mask : (b & mask) !== 0) ? 1 : 0;
    } else if (c === '[') {
      this.enter(at);
      cls = this.set(at);
      this.depth--;
    } else if (c === '\\') {
      const k = s[this.i + 1];
      const sh = k === undefined ? undefined : SHORTHANDS[k];
      if (sh === undefined) this.fail(`unknown shorthand '\\${k ?? ''}'`, at);
      this.i += 2;
      cls = sh;
    } else if (c === '.') {
      if (inverted) this.fail("'^.' would match nothing", at);
      if (!inSet) this.fail("unexpected '.'", at);
      this.i++;
      cls = ANY;
    } else {
      this.fail(`unexpected '${c}'`, at);
    }
    return inverted ? invert(cls) : cls;
  }

  /** After a byte value: `lo - hi` makes a range. The inversion applies to the whole range. */
  private maybeRange(lo: number, inverted: boolean, at: number): Cls {
    const save = this.i;
    this.skip();
    if (this.src[this.i] !== '-') {
      this.i = save;
      return inverted ? invert(clsOf(lo)) : clsOf(lo);
    }
    this.i++;
    this.skip();
    const s = this.src;
    let hi: number;
    const c = s[this.i];
    if (c !== undefined && hexVal(c) >= 0) {
      const d = this.i + 1 < s.length ? hexVal(s[this.i + 1]) : -1;
      if (d < 0) this.fail('hex bytes need two digits');
      hi = hexVal(c) * 16 + d;
      this.i += 2;
    } else if (c === "'") {
      const endAt = this.i;
      const text = this.quotedText("'");
      if (text.length !== 1 || text.charCodeAt(0) >= 0x80) this.fail('a range ends with a single byte value', endAt);
      hi = text.charCodeAt(0);
    } else {
      this.fail("a range needs a byte value after '-'");
    }
    // Either order is accepted, as in byteseek (an inclusive range between the two values).
    const cls = clsRange(Math.min(lo, hi), Math.max(lo, hi));
    void at;
    return inverted ? invert(cls) : cls;
  }

  private set(open: number): Cls {
    this.i++; // '['
    const cls = newCls();
    let members = 0;
    for (;;) {
      this.skip();
      if (this.i >= this.src.length) this.fail("the set is not closed with ']'", open);
      if (this.src[this.i] === ']') {
        this.i++;
        break;
      }
      union(cls, this.singleByte(true));
      members++;
    }
    if (members === 0) this.fail('empty set', open);
    return cls;
  }
}
