/** The compiler's static types and the value semantics shared by operators and functions. */
import type { ByteMatcher } from '../byteseek/index.js';
import type { Expr } from './ast.js';
import type { Ev, Value } from './context.js';

/** Static types: every node's type is known at compile time (no user-defined variables). */
export type Ty = 'bool' | 'num' | 'str' | 'bytes' | 'null' | 'list';

export interface Compiled {
  ev: Ev;
  ty: Ty;
  /** Set when the value does not depend on the packet. */
  constant?: { value: Value };
}

export const TY_NAME: Record<Ty, string> = {
  bool: 'a boolean',
  num: 'a number',
  str: 'a string',
  bytes: 'bytes',
  null: 'null',
  list: 'a list',
};

export function eq(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, k) => eq(x, b[k]));
  return false;
}

/** Ordering is defined for two numbers or two strings only; anything else compares false. */
export const ordered = (a: Value, b: Value): boolean =>
  (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');

export const isPrimitive = (v: Value): v is string | number | boolean | null =>
  v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

export const textOf = (v: Value): string | null =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;

/** The source text of a node, shortened, for messages. */
export const describe = (e: Expr, src: string): string => {
  const text = src.slice(e.loc.start, e.loc.end);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
};

export function matchValue(m: ByteMatcher, d: Value): boolean {
  if (Buffer.isBuffer(d)) return m.matches(d, 0, d.length);
  if (typeof d === 'string') return m.matches(Buffer.from(d, 'utf8'));
  return false;
}
