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
import { QueryError, caretExcerpt } from '../errors.js';

export interface ByteMatcher {
  /** The pattern as given. */
  readonly pattern: string;
  /** How it is matched: 'bytes' (Buffer.indexOf), 'fixed' (table scan) or 'nfa'. */
  readonly strategy: 'bytes' | 'fixed' | 'nfa';
  /** Minimum number of bytes a match spans (ranges shorter than this never match). */
  readonly minLength: number;
  /** True when the pattern occurs anywhere inside buf[start, end). Not re-entrant (scratch state). */
  matches(buf: Buffer, start?: number, end?: number): boolean;
}

// ---------------------------------------------------------------------------------------------
// AST

type Cls = Uint8Array; // 256 entries, 1 = byte value accepted at this position

type Node =
  | { t: 'cls'; c: Cls }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; alts: Node[] }
  | { t: 'rep'; node: Node; min: number; max: number };

const MAX_PROGRAM = 100_000; // instructions after expanding repeats
const MAX_REPEAT = 65_535; // larger than any frame

const newCls = (): Cls => new Uint8Array(256);
const clsOf = (...bytes: number[]): Cls => {
  const c = newCls();
  for (const b of bytes) c[b] = 1;
  return c;
};
const clsRange = (lo: number, hi: number): Cls => {
  const c = newCls();
  for (let b = lo; b <= hi; b++) c[b] = 1;
  return c;
};
const invert = (c: Cls): Cls => {
  const r = newCls();
  for (let b = 0; b < 256; b++) r[b] = c[b] ? 0 : 1;
  return r;
};
const union = (into: Cls, c: Cls): void => {
  for (let b = 0; b < 256; b++) if (c[b]) into[b] = 1;
};
const ANY = clsRange(0, 255);

const WHITESPACE = clsOf(0x09, 0x0a, 0x0d, 0x20);
const WORD = (() => {
  const c = clsRange(0x30, 0x39);
  union(c, clsRange(0x61, 0x7a));
  union(c, clsRange(0x41, 0x5a));
  c[0x5f] = 1;
  return c;
})();
/** byteseek's shorthands. `\e` is 0x1e in byteseek's parser (ESC would be 0x1b); kept for compatibility. */
const SHORTHANDS: Record<string, Cls> = {
  t: clsOf(0x09),
  n: clsOf(0x0a),
  r: clsOf(0x0d),
  v: clsOf(0x0b),
  f: clsOf(0x0c),
  e: clsOf(0x1e),
  d: clsRange(0x30, 0x39),
  D: invert(clsRange(0x30, 0x39)),
  l: clsRange(0x61, 0x7a),
  L: invert(clsRange(0x61, 0x7a)),
  u: clsRange(0x41, 0x5a),
  U: invert(clsRange(0x41, 0x5a)),
  i: clsRange(0x00, 0x7f),
  I: invert(clsRange(0x00, 0x7f)),
  s: WHITESPACE,
  S: invert(WHITESPACE),
  w: WORD,
  W: invert(WORD),
};

const hexVal = (c: string): number => {
  const x = c.charCodeAt(0);
  if (x >= 48 && x <= 57) return x - 48;
  if (x >= 97 && x <= 102) return x - 87;
  if (x >= 65 && x <= 70) return x - 55;
  return -1;
};

const utf8 = (s: string): number[] => [...Buffer.from(s, 'utf8')];

const seqOf = (classes: Cls[]): Node =>
  classes.length === 1
    ? { t: 'cls', c: classes[0] }
    : { t: 'seq', items: classes.map((c) => ({ t: 'cls', c }) as Node) };

const caseVariants = (b: number): number[] =>
  b >= 0x61 && b <= 0x7a ? [b, b - 32] : b >= 0x41 && b <= 0x5a ? [b, b + 32] : [b];

// ---------------------------------------------------------------------------------------------
// Parser

class Parser {
  private i = 0;
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
    this.skip();
    if (this.i >= this.src.length) this.fail('the pattern is empty');
    const node = this.alternatives();
    if (this.i < this.src.length) this.fail(`unexpected '${this.src[this.i]}' (no group is open)`);
    return node;
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
    const c = this.src[this.i++];
    if (c === '*') return { t: 'rep', node, min: 0, max: Infinity };
    if (c === '+') return { t: 'rep', node, min: 1, max: Infinity };
    if (c === '?') return { t: 'rep', node, min: 0, max: 1 };
    // '{n}', '{n,m}', '{n,*}'
    const open = this.i - 1;
    const min = this.int();
    if (this.src[this.i] === '}') {
      this.i++;
      if (min === 0) this.fail('a repeat count of {0} matches nothing', open);
      return { t: 'rep', node, min, max: min };
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
    return { t: 'rep', node, min, max };
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
      const inner = this.alternatives();
      if (s[this.i] !== ')') this.fail("the group is not closed with ')'", open);
      this.i++;
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
      cls = this.set(at);
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

// ---------------------------------------------------------------------------------------------
// Compilation

/** Fixed-length list of classes, or null when the node has alternatives or variable repeats. */
function flatten(node: Node, out: Cls[]): boolean {
  switch (node.t) {
    case 'cls':
      out.push(node.c);
      return true;
    case 'seq':
      return node.items.every((n) => flatten(n, out));
    case 'alt':
      return false;
    case 'rep': {
      if (node.min !== node.max) return false;
      const one: Cls[] = [];
      if (!flatten(node.node, one)) return false;
      if (one.length * node.min > MAX_PROGRAM) return false;
      for (let k = 0; k < node.min; k++) out.push(...one);
      return true;
    }
  }
}

const singleByteOf = (c: Cls): number => {
  let found = -1;
  for (let b = 0; b < 256; b++) {
    if (c[b]) {
      if (found >= 0) return -1;
      found = b;
    }
  }
  return found;
};

function minLen(node: Node): number {
  switch (node.t) {
    case 'cls':
      return 1;
    case 'seq':
      return node.items.reduce((a, n) => a + minLen(n), 0);
    case 'alt':
      return Math.min(...node.alts.map(minLen));
    case 'rep':
      return node.min * minLen(node.node);
  }
}

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

/** Clamp [start, end) into the buffer; an inverted range is empty. */
const bounds = (buf: Buffer, start: number | undefined, end: number | undefined): [number, number] => {
  const e = end === undefined ? buf.length : Math.max(0, Math.min(buf.length, end));
  return [start === undefined ? 0 : Math.min(Math.max(0, start), e), e];
};

function bytesMatcher(pattern: string, needle: Buffer): ByteMatcher {
  const n = needle.length;
  return {
    pattern,
    strategy: 'bytes',
    minLength: n,
    matches(buf, start, end) {
      const [s, e] = bounds(buf, start, end);
      if (e - s < n) return false;
      // indexOf cannot stop at `end`. When the frame ends the buffer (a record value) it searches
      // in place; otherwise a view keeps the scan inside the frame even when `buf` is a large
      // read buffer holding many packets (one small view object per call).
      if (e === buf.length) return buf.indexOf(needle, s) >= 0;
      return buf.subarray(s, e).indexOf(needle) >= 0;
    },
  };
}

function fixedMatcher(pattern: string, classes: Cls[]): ByteMatcher {
  const n = classes.length;
  const table = new Uint8Array(n * 256);
  for (let k = 0; k < n; k++) table.set(classes[k], k * 256);
  // Start the check at the most selective position: fewest accepted bytes rejects soonest.
  let anchor = 0;
  let best = 257;
  classes.forEach((c, k) => {
    let count = 0;
    for (let b = 0; b < 256; b++) count += c[b];
    if (count < best) {
      best = count;
      anchor = k;
    }
  });
  const anchorBase = anchor * 256;
  const anchorByte = singleByteOf(classes[anchor]);
  return {
    pattern,
    strategy: 'fixed',
    minLength: n,
    matches(buf, start, end) {
      const [s, e] = bounds(buf, start, end);
      const last = e - n;
      if (anchorByte >= 0) {
        // A literal byte somewhere in the pattern: let memchr find candidates. A view ending at
        // `e` (same offsets) keeps the search inside the frame; no view when the frame ends the buffer.
        const hay = e === buf.length ? buf : buf.subarray(0, e);
        let p = s;
        while (p <= last) {
          const q = hay.indexOf(anchorByte, p + anchor);
          if (q < 0 || q - anchor > last) return false;
          p = q - anchor;
          let k = 0;
          while (k < n && table[k * 256 + buf[p + k]] !== 0) k++;
          if (k === n) return true;
          p++;
        }
        return false;
      }
      for (let p = s; p <= last; p++) {
        if (table[anchorBase + buf[p + anchor]] === 0) continue;
        let k = 0;
        while (k < n && table[k * 256 + buf[p + k]] !== 0) k++;
        if (k === n) return true;
      }
      return false;
    },
  };
}

const OP_CLS = 0;
const OP_SPLIT = 1;
const OP_JMP = 2;
const OP_MATCH = 3;

function nfaMatcher(pattern: string, ast: Node, option: string | undefined): ByteMatcher {
  const op: number[] = [];
  const x: number[] = [];
  const y: number[] = [];
  const classes: Cls[] = [];
  const emit = (o: number, a = 0, b = 0): number => {
    if (op.length >= MAX_PROGRAM) {
      throw new QueryError(
        `invalid byte pattern: too large once its repeats are expanded (limit ${MAX_PROGRAM} steps)`,
        { option, position: 1 },
      );
    }
    op.push(o);
    x.push(a);
    y.push(b);
    return op.length - 1;
  };
  const gen = (n: Node): void => {
    switch (n.t) {
      case 'cls':
        classes.push(n.c);
        emit(OP_CLS, classes.length - 1);
        return;
      case 'seq':
        n.items.forEach(gen);
        return;
      case 'alt': {
        const jumps: number[] = [];
        n.alts.forEach((alt, k) => {
          if (k < n.alts.length - 1) {
            const split = emit(OP_SPLIT);
            x[split] = op.length;
            gen(alt);
            jumps.push(emit(OP_JMP));
            y[split] = op.length;
          } else {
            gen(alt);
          }
        });
        for (const j of jumps) x[j] = op.length;
        return;
      }
      case 'rep': {
        for (let k = 0; k < n.min; k++) gen(n.node);
        if (n.max === Infinity) {
          const split = emit(OP_SPLIT);
          x[split] = op.length;
          gen(n.node);
          emit(OP_JMP, split);
          y[split] = op.length;
        } else {
          const splits: number[] = [];
          for (let k = n.min; k < n.max; k++) {
            const split = emit(OP_SPLIT);
            x[split] = op.length;
            splits.push(split);
            gen(n.node);
          }
          for (const sp of splits) y[sp] = op.length;
        }
        return;
      }
    }
  };
  gen(ast);
  emit(OP_MATCH);

  const size = op.length;
  const ops = Int32Array.from(op);
  const xs = Int32Array.from(x);
  const ys = Int32Array.from(y);
  const clsTable = new Uint8Array(classes.length * 256);
  for (let k = 0; k < classes.length; k++) clsTable.set(classes[k], k * 256);
  // Scratch state, allocated once per matcher.
  let cur = new Int32Array(size);
  let next = new Int32Array(size);
  const mark = new Int32Array(size);
  const stack = new Int32Array(size * 2 + 2);
  let generation = 0;
  let curLen = 0;
  let nextLen = 0;
  const minLength = minLen(ast);
  // Bytes that can begin a match: while no thread is alive, positions holding other bytes are
  // skipped without running the machine (the usual case for patterns starting with a literal).
  const first = new Uint8Array(256);
  {
    const seen = new Uint8Array(size);
    const todo = [0];
    while (todo.length > 0) {
      const p = todo.pop()!;
      if (seen[p]) continue;
      seen[p] = 1;
      if (ops[p] === OP_CLS) union(first, classes[xs[p]]);
      else if (ops[p] === OP_JMP) todo.push(xs[p]);
      else if (ops[p] === OP_SPLIT) todo.push(xs[p], ys[p]);
    }
  }

  /** Follow JMP/SPLIT from `pc`; CLS instructions land in `list`. Returns true on reaching MATCH. */
  const add = (list: Int32Array, len: number, pc: number, setLen: (n: number) => void): boolean => {
    let sp = 0;
    stack[sp++] = pc;
    while (sp > 0) {
      const p = stack[--sp];
      if (mark[p] === generation) continue;
      mark[p] = generation;
      switch (ops[p]) {
        case OP_CLS:
          list[len++] = p;
          break;
        case OP_JMP:
          stack[sp++] = xs[p];
          break;
        case OP_SPLIT:
          stack[sp++] = ys[p];
          stack[sp++] = xs[p];
          break;
        case OP_MATCH:
          setLen(len);
          return true;
      }
    }
    setLen(len);
    return false;
  };
  const setCur = (n: number) => {
    curLen = n;
  };
  const setNext = (n: number) => {
    nextLen = n;
  };

  return {
    pattern,
    strategy: 'nfa',
    minLength,
    matches(buf, start, end) {
      const [s, e] = bounds(buf, start, end);
      if (e - s < minLength) return false;
      if (generation > 0x3fffffff) {
        mark.fill(0);
        generation = 0;
      }
      generation++;
      curLen = 0;
      for (let p = s; ; p++) {
        if (curLen === 0) {
          while (p < e && first[buf[p]] === 0) p++;
          if (e - p < minLength) return false;
        }
        // Unanchored search: a new thread starts at every position.
        if (add(cur, curLen, 0, setCur)) return true;
        if (p >= e) return false;
        const b = buf[p];
        generation++;
        nextLen = 0;
        for (let k = 0; k < curLen; k++) {
          const pc = cur[k];
          if (clsTable[xs[pc] * 256 + b] !== 0 && add(next, nextLen, pc + 1, setNext)) return true;
        }
        const t = cur;
        cur = next;
        next = t;
        curLen = nextLen;
        if (curLen === 0 && e - p - 1 < minLength) return false;
      }
    },
  };
}
