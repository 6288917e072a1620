/** byteseek patterns as a tree of byte classes, and the byte-class building blocks the parser uses. */

export type Cls = Uint8Array; // 256 entries, 1 = byte value accepted at this position

export type Node =
  | { t: 'cls'; c: Cls }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; alts: Node[] }
  /** `at`: 0-based offset of the quantifier in the pattern, for errors. */
  | { t: 'rep'; node: Node; min: number; max: number; at: number };

export const MAX_REPEAT = 65_535; // larger than any frame
/** Characters of pattern source; a pasted payload of a few KiB fits. */
export const MAX_PATTERN_LENGTH = 16_384;
/** Groups and sets inside one another (the parser recurses once per level). */
export const MAX_PATTERN_NESTING = 64;
/**
 * The work budget per packet byte: a search of L bytes may take (L + 1) × MAX_STEPS_PER_BYTE steps.
 * A program's worst case is (L + 1) × its steps per byte (match.ts: 2 × instructions + 1 on the
 * Pike VM, classes + 1 for a table scan); one that could exceed the budget is refused at compile
 * time. 512 admits `'GET'.{0,120}'HTTP'` and keeps a 1500-byte frame under ~770,000 steps
 * (about 25 ms on a 2-core shared machine in the worst case: every position a live thread).
 */
export const MAX_STEPS_PER_BYTE = 512;
/** Bytes of a plain byte string (matched with Buffer.indexOf, which needs no step budget). */
export const MAX_LITERAL = 65_536;

export const newCls = (): Cls => new Uint8Array(256);
export const clsOf = (...bytes: number[]): Cls => {
  const c = newCls();
  for (const b of bytes) c[b] = 1;
  return c;
};
export const clsRange = (lo: number, hi: number): Cls => {
  const c = newCls();
  for (let b = lo; b <= hi; b++) c[b] = 1;
  return c;
};
export const invert = (c: Cls): Cls => {
  const r = newCls();
  for (let b = 0; b < 256; b++) r[b] = c[b] ? 0 : 1;
  return r;
};
export const union = (into: Cls, c: Cls): void => {
  for (let b = 0; b < 256; b++) if (c[b]) into[b] = 1;
};
export const ANY = clsRange(0, 255);

export const WHITESPACE = clsOf(0x09, 0x0a, 0x0d, 0x20);
export const WORD = (() => {
  const c = clsRange(0x30, 0x39);
  union(c, clsRange(0x61, 0x7a));
  union(c, clsRange(0x41, 0x5a));
  c[0x5f] = 1;
  return c;
})();
/** byteseek's shorthands. `\e` is 0x1e in byteseek's parser (ESC would be 0x1b); kept for compatibility. */
export const SHORTHANDS: Record<string, Cls> = {
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

export const hexVal = (c: string): number => {
  const x = c.charCodeAt(0);
  if (x >= 48 && x <= 57) return x - 48;
  if (x >= 97 && x <= 102) return x - 87;
  if (x >= 65 && x <= 70) return x - 55;
  return -1;
};

export const utf8 = (s: string): number[] => [...Buffer.from(s, 'utf8')];

export const seqOf = (classes: Cls[]): Node =>
  classes.length === 1
    ? { t: 'cls', c: classes[0] }
    : { t: 'seq', items: classes.map((c) => ({ t: 'cls', c }) as Node) };

export const caseVariants = (b: number): number[] =>
  b >= 0x61 && b <= 0x7a ? [b, b - 32] : b >= 0x41 && b <= 0x5a ? [b, b + 32] : [b];

// Tree analysis used to pick a matcher.

/** Fixed-length list of classes, or null when the node has alternatives or variable repeats. */
export function flatten(node: Node, out: Cls[]): boolean {
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
      if (one.length * node.min > MAX_LITERAL) return false;
      for (let k = 0; k < node.min; k++) out.push(...one);
      return true;
    }
  }
}

export const singleByteOf = (c: Cls): number => {
  let found = -1;
  for (let b = 0; b < 256; b++) {
    if (c[b]) {
      if (found >= 0) return -1;
      found = b;
    }
  }
  return found;
};

/**
 * Instructions the Pike VM program of `node` has (match.ts's code generator), computed without
 * generating it; saturates (floating point) for absurd nestings of repeats.
 */
export function programSize(node: Node): number {
  switch (node.t) {
    case 'cls':
      return 1;
    case 'seq':
      return node.items.reduce((a, n) => a + programSize(n), 0);
    case 'alt':
      return node.alts.reduce((a, n) => a + programSize(n), 0) + 2 * (node.alts.length - 1);
    case 'rep': {
      const one = programSize(node.node);
      return node.min * one + (node.max === Infinity ? one + 2 : (node.max - node.min) * (one + 1));
    }
  }
}

/** The repeat with the largest program among those larger than `limit` (the one to point at). */
export function largestRepeat(node: Node, limit: number): { at: number; size: number } | null {
  let best: { at: number; size: number } | null = null;
  const visit = (n: Node): void => {
    if (n.t === 'seq') n.items.forEach(visit);
    else if (n.t === 'alt') n.alts.forEach(visit);
    else if (n.t === 'rep') {
      const size = programSize(n);
      if (size > limit && (best === null || size > best.size)) best = { at: n.at, size };
      visit(n.node);
    }
  };
  visit(node);
  return best;
}

const isAny = (n: Node): boolean => n.t === 'cls' && singleByteOf(n.c) < 0 && n.c.every((b) => b === 1);

/**
 * Matching is unanchored ("occurs anywhere in the frame"), so a leading or trailing run of any
 * byte `.{n,m}` matches exactly when `.{n}` does: a longer run contains a shorter one at its end
 * (leading) or start (trailing). Trimming them turns `.{1,40000}00` (80,000 instructions) into
 * `.00` (a table scan).
 */
export function trimUnanchoredEnds(node: Node): Node {
  const trim = (n: Node): Node =>
    n.t === 'rep' && n.max !== n.min && n.min >= 1 && isAny(n.node) ? { ...n, max: n.min } : n;
  if (node.t === 'rep') return trim(node);
  if (node.t !== 'seq' || node.items.length === 0) return node;
  const items = [...node.items];
  items[0] = trim(items[0]);
  items[items.length - 1] = trim(items[items.length - 1]);
  return { t: 'seq', items };
}

export function minLen(node: Node): number {
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
