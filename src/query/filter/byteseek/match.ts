/**
 * The three ways a compiled byteseek pattern is matched (see index.ts): a plain byte string with
 * Buffer.indexOf, a fixed-length pattern with a table-driven scan, anything else with a Pike VM.
 * Scratch state is allocated once per matcher, so matching allocates nothing per call.
 */
import { type Cls, MAX_STEPS_PER_BYTE, minLen, type Node, singleByteOf, union } from './ast.js';

export interface ByteMatcher {
  /** The pattern as given. */
  readonly pattern: string;
  /** How it is matched: 'bytes' (Buffer.indexOf), 'fixed' (table scan) or 'nfa'. */
  readonly strategy: 'bytes' | 'fixed' | 'nfa';
  /** Minimum number of bytes a match spans (ranges shorter than this never match). */
  readonly minLength: number;
  /**
   * Worst-case steps per byte searched: a search of L bytes costs at most (L + 1) × stepsPerByte
   * steps (the per-packet budget; compileByteseek refuses programs over MAX_STEPS_PER_BYTE).
   */
  readonly stepsPerByte: number;
  /**
   * Steps the last matches() call took: instructions visited (Pike VM) or table lookups (scan),
   * plus positions skipped by the first-byte filter; for 'bytes', the length searched by the
   * native Buffer.indexOf. Counted, not timed, so tests can check the budget on any machine.
   */
  lastSteps: number;
  /** True when the pattern occurs anywhere inside buf[start, end). Not re-entrant (scratch state). */
  matches(buf: Buffer, start?: number, end?: number): boolean;
}

/** End of the searched range, clamped into the buffer. Two number-returning helpers, not a tuple: no allocation per call. */
const clampEnd = (buf: Buffer, end: number | undefined): number =>
  end === undefined ? buf.length : Math.max(0, Math.min(buf.length, end));
/** Start of the searched range, clamped into [0, end]: an inverted range is empty. */
const clampStart = (start: number | undefined, end: number): number =>
  start === undefined ? 0 : Math.min(Math.max(0, start), end);

export function bytesMatcher(pattern: string, needle: Buffer): ByteMatcher {
  const n = needle.length;
  return {
    pattern,
    strategy: 'bytes',
    minLength: n,
    stepsPerByte: 1,
    lastSteps: 0,
    matches(buf, start, end) {
      const e = clampEnd(buf, end);
      const s = clampStart(start, e);
      this.lastSteps = e - s;
      if (e - s < n) return false;
      // indexOf cannot stop at `end`. When the frame ends the buffer (a record value) it searches
      // in place; otherwise a view keeps the scan inside the frame even when `buf` is a large
      // read buffer holding many packets (one small view object per call).
      if (e === buf.length) return buf.indexOf(needle, s) >= 0;
      return buf.subarray(s, e).indexOf(needle) >= 0;
    },
  };
}

export function fixedMatcher(pattern: string, classes: Cls[]): ByteMatcher {
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
    stepsPerByte: fixedStepsPerByte(n),
    lastSteps: 0,
    matches(buf, start, end) {
      const e = clampEnd(buf, end);
      const s = clampStart(start, e);
      const last = e - n;
      let steps = 0;
      let found = false;
      if (anchorByte >= 0) {
        // A literal byte somewhere in the pattern: let memchr find candidates. A view ending at
        // `e` (same offsets) keeps the search inside the frame; no view when the frame ends the buffer.
        const hay = e === buf.length ? buf : buf.subarray(0, e);
        let p = s;
        while (p <= last) {
          const q = hay.indexOf(anchorByte, p + anchor);
          if (q < 0 || q - anchor > last) {
            steps += last - p + 1;
            break;
          }
          steps += q - anchor - p + 1;
          p = q - anchor;
          let k = 0;
          while (k < n && table[k * 256 + buf[p + k]] !== 0) k++;
          steps += k;
          if (k === n) {
            found = true;
            break;
          }
          p++;
        }
      } else {
        for (let p = s; p <= last; p++) {
          steps++;
          if (table[anchorBase + buf[p + anchor]] === 0) continue;
          let k = 0;
          while (k < n && table[k * 256 + buf[p + k]] !== 0) k++;
          steps += k;
          if (k === n) {
            found = true;
            break;
          }
        }
      }
      this.lastSteps = steps;
      return found;
    },
  };
}

const OP_CLS = 0;
const OP_SPLIT = 1;
const OP_JMP = 2;
const OP_MATCH = 3;

/** The Pike VM; the caller (compileByteseek) has checked the program's size against the budget. */
export function nfaMatcher(pattern: string, ast: Node): ByteMatcher {
  const op: number[] = [];
  const x: number[] = [];
  const y: number[] = [];
  const classes: Cls[] = [];
  const emit = (o: number, a = 0, b = 0): number => {
    if (op.length >= MAX_STEPS_PER_BYTE)
      throw new RangeError('byteseek program over its budget (check programSize first)');
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

  let steps = 0;
  /** Follow JMP/SPLIT from `pc`; CLS instructions land in `list`. Returns true on reaching MATCH. */
  const add = (list: Int32Array, len: number, pc: number, setLen: (n: number) => void): boolean => {
    let sp = 0;
    stack[sp++] = pc;
    while (sp > 0) {
      const p = stack[--sp];
      if (mark[p] === generation) continue;
      mark[p] = generation;
      steps++;
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

  const run = (buf: Buffer, s: number, e: number): boolean => {
    if (e - s < minLength) return false;
    if (generation > 0x3fffffff) {
      mark.fill(0);
      generation = 0;
    }
    generation++;
    curLen = 0;
    for (let p = s; ; p++) {
      if (curLen === 0) {
        const from = p;
        while (p < e && first[buf[p]] === 0) p++;
        steps += p - from;
        if (e - p < minLength) return false;
      }
      // Unanchored search: a new thread starts at every position.
      if (add(cur, curLen, 0, setCur)) return true;
      if (p >= e) return false;
      const b = buf[p];
      generation++;
      nextLen = 0;
      steps += curLen;
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
  };

  return {
    pattern,
    strategy: 'nfa',
    minLength,
    stepsPerByte: nfaStepsPerByte(size),
    lastSteps: 0,
    matches(buf, start, end) {
      const e = clampEnd(buf, end);
      const s = clampStart(start, e);
      steps = 0;
      const found = run(buf, s, e);
      this.lastSteps = steps;
      return found;
    },
  };
}

/**
 * Worst-case steps per input byte of a Pike VM program of `size` instructions: each instruction
 * is visited at most once per position (the generation marks) and each live thread stepped once.
 */
export const nfaStepsPerByte = (size: number): number => 2 * size + 1;
/** Worst-case steps per input byte of a table scan over `n` classes: n lookups and one move. */
export const fixedStepsPerByte = (n: number): number => n + 1;
