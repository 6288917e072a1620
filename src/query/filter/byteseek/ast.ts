/** byteseek patterns as a tree of byte classes, and the byte-class building blocks the parser uses. */

export type Cls = Uint8Array; // 256 entries, 1 = byte value accepted at this position

export type Node =
  | { t: 'cls'; c: Cls }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; alts: Node[] }
  | { t: 'rep'; node: Node; min: number; max: number };

export const MAX_PROGRAM = 100_000; // instructions after expanding repeats
export const MAX_REPEAT = 65_535; // larger than any frame

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
      if (one.length * node.min > MAX_PROGRAM) return false;
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
