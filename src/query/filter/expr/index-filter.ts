/**
 * The index pre-filter of an expression: the same query evaluated over an index entry (FlowKey),
 * where what only the packet bytes hold (`packet`, `length`) is unknown. Three-valued logic
 * (Kleene) keeps it sound: an entry is skipped only when the query is false whatever the unknowns
 * are; a subtree that needs no unknowns is compiled exactly as for packets.
 */
import type { FlowKey } from '../filter.js';
import { addressBytesToText } from '../ip.js';
import type { Expr } from './ast.js';
import type { Ctx, Ev, Fields } from './context.js';

const UNKNOWN: unique symbol = Symbol('unknown');
type Tri = boolean | typeof UNKNOWN;
export type TriEv = (c: Ctx) => Tri;

/** Which variables an index entry provides (true), which only the packet has (false). */
export type IndexVars = (name: string) => boolean | undefined;

function some(e: Expr, pred: (name: string) => boolean): boolean {
  switch (e.type) {
    case 'var':
      return pred(e.name);
    case 'and':
    case 'or':
    case 'cmp':
    case 'in':
      return some(e.left, pred) || some(e.right, pred);
    case 'not':
      return some(e.operand, pred);
    case 'call':
      return e.args.some((a) => some(a, pred));
    case 'list':
      return e.items.some((i) => some(i, pred));
    default:
      return false;
  }
}

/** Does the expression read something an index entry does not have? */
export const needsFrame = (e: Expr, vars: IndexVars): boolean => some(e, (n) => vars(n) === false);

/** Does the expression read anything an index entry has (else it cannot pre-filter)? */
export const usesIndexFields = (e: Expr, vars: IndexVars): boolean => some(e, (n) => vars(n) === true);

/** Compile for index entries; `compile` is the ordinary (packet) compiler for exact subtrees. */
export function compileIndex(e: Expr, vars: IndexVars, compile: (e: Expr) => Ev): TriEv {
  if (!needsFrame(e, vars)) {
    const f = compile(e);
    return (c) => f(c) === true;
  }
  switch (e.type) {
    case 'and': {
      const l = compileIndex(e.left, vars, compile);
      const r = compileIndex(e.right, vars, compile);
      return (c) => {
        const a = l(c);
        if (a === false) return false;
        const b = r(c);
        if (b === false) return false;
        return a === true && b === true ? true : UNKNOWN;
      };
    }
    case 'or': {
      const l = compileIndex(e.left, vars, compile);
      const r = compileIndex(e.right, vars, compile);
      return (c) => {
        const a = l(c);
        if (a === true) return true;
        const b = r(c);
        if (b === true) return true;
        return a === false && b === false ? false : UNKNOWN;
      };
    }
    case 'not': {
      const o = compileIndex(e.operand, vars, compile);
      return (c) => {
        const v = o(c);
        return v === UNKNOWN ? UNKNOWN : !v;
      };
    }
    default:
      return () => UNKNOWN;
  }
}

/** Presents a FlowKey as the fields an expression reads (index addresses may be raw bytes). */
export class FlowKeyView implements Fields {
  k: FlowKey = { tsNs: 0n, protocol: -1, srcAddr: null, dstAddr: null, srcPort: -1, dstPort: -1, vlan: -1 };
  get tsNs() {
    return this.k.tsNs;
  }
  get protocol() {
    return this.k.protocol;
  }
  get srcPort() {
    return this.k.srcPort;
  }
  get dstPort() {
    return this.k.dstPort;
  }
  get srcAddr() {
    const a = this.k.srcAddr;
    return a instanceof Uint8Array ? addressBytesToText(a) : a;
  }
  get dstAddr() {
    const a = this.k.dstAddr;
    return a instanceof Uint8Array ? addressBytesToText(a) : a;
  }
  get vlan() {
    return this.k.vlan;
  }
  readonly length = 0;
}

/** The index predicate: false only when the entry certainly does not match. */
export function indexPredicate(e: Expr, vars: IndexVars, compile: (e: Expr) => Ev): (k: FlowKey) => boolean {
  const tri = compileIndex(e, vars, compile);
  const view = new FlowKeyView();
  const ctx: Ctx = { p: view, frame: Buffer.alloc(0), start: 0, end: 0 };
  return (k) => {
    view.k = k;
    return tri(ctx) !== false;
  };
}
