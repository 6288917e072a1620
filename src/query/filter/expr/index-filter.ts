/**
 * The index pre-filter of an expression: the same query evaluated over an index entry (FlowKey),
 * where what only the packet bytes hold (`packet`, `length`) is unknown. Three-valued logic
 * (Kleene) keeps it sound: an entry is skipped only when the query is false whatever the unknowns
 * are; a subtree that needs no unknowns is compiled exactly as for packets.
 */
import { addressBlockMatch, type FlowKey, type TermField, type TermMatch, type TermPlan } from '../filter.js';
import { addressTextToBytes, compareBytes, type Term } from '../../../formats/index/v2/terms.js';
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

// ---- The expression over the inverted index's terms (index v2) ----------------------------------

const TERM_FIELD_OF_VAR: Readonly<Record<string, TermField>> = {
  ip_src_addr: 'src',
  ip_dst_addr: 'dst',
  ip_src_port: 'srcPort',
  ip_dst_port: 'dstPort',
  protocol: 'protocol',
  vlan: 'vlan',
};

/** Every variable a subtree reads (whatever node types the grammar grows). */
function variablesOf(e: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(e)) for (const x of e) variablesOf(x, into);
  else if (e !== null && typeof e === 'object' && 'type' in e) {
    const node = e as { type: string; name?: string };
    if (node.type === 'var' && typeof node.name === 'string') into.add(node.name);
    for (const [k, v] of Object.entries(node))
      if (k !== 'loc' && v !== null && typeof v === 'object') variablesOf(v, into);
  }
  return into;
}

/** Fields with one term set, all others absent: what a one-variable subtree is evaluated against. */
class TermView implements Fields {
  tsNs = 0n;
  protocol = -1;
  srcAddr: string | null = null;
  dstAddr: string | null = null;
  srcPort = -1;
  dstPort = -1;
  vlan = -1;
  readonly length = 0;
}

const termText = (t: Term): string | null => (typeof t === 'number' || t.length === 0 ? null : addressBytesToText(t));

/** Bounds of the terms a one-variable comparison can accept, read from the syntax (a superset). */
function boundsOf(e: Expr, field: TermField): Pick<TermMatch, 'lo' | 'hi' | 'only'> {
  const numeric = field !== 'src' && field !== 'dst';
  const literal = (x: Expr): Term | undefined => {
    if (x.type === 'null') return numeric ? -1 : new Uint8Array(0);
    if (numeric && x.type === 'num' && Number.isInteger(x.value)) return x.value;
    if (!numeric && x.type === 'str') {
      const b = addressTextToBytes(x.value);
      return b.length ? b : undefined;
    }
    return undefined;
  };
  const isVar = (x: Expr) => x.type === 'var';
  if (e.type === 'cmp' && (isVar(e.left) || isVar(e.right))) {
    const k = literal(isVar(e.left) ? e.right : e.left);
    if (k === undefined) return {};
    const flipped = !isVar(e.left);
    const op = flipped
      ? (({ '<': '>', '<=': '>=', '>': '<', '>=': '<=' } as Record<string, string>)[e.op] ?? e.op)
      : e.op;
    if (op === '==') return { lo: k, hi: k, only: k };
    if (!numeric || typeof k !== 'number' || k < 0) return {};
    if (op === '<' || op === '<=') return { lo: 0, hi: op === '<' ? k - 1 : k };
    if (op === '>' || op === '>=') return { lo: op === '>' ? k + 1 : k };
    return {};
  }
  if (e.type === 'in' && !e.negated && isVar(e.left) && e.right.type === 'list') {
    const items = e.right.items.map(literal);
    if (items.some((x) => x === undefined) || !items.length) return {};
    const sorted = (items as Term[]).sort((a, b) =>
      typeof a === 'number' ? a - (b as number) : Buffer.compare(Buffer.from(a), Buffer.from(b as Uint8Array)),
    );
    if (!numeric) return {}; // bytes of mixed lengths: the dictionary order is by length first
    return { lo: sorted[0], hi: sorted[sorted.length - 1], only: sorted.length === 1 ? sorted[0] : undefined };
  }
  if (e.type === 'call' && e.name.toUpperCase() === 'IN_SUBNET' && e.args.length >= 2 && !numeric) {
    let lo: Uint8Array | undefined;
    let hi: Uint8Array | undefined;
    for (const a of e.args.slice(1)) {
      if (a.type !== 'str') return {};
      const m = addressBlockMatch(a.value.trim(), () => true);
      if (!m.lo || !m.hi) return {};
      if (!lo || compareBytes(m.lo as Uint8Array, lo) < 0) lo = m.lo as Uint8Array;
      if (!hi || compareBytes(m.hi as Uint8Array, hi) > 0) hi = m.hi as Uint8Array;
    }
    return { lo, hi };
  }
  return {};
}

/**
 * The expression as term-level logic: and/or/not keep their shape; a subtree that reads one index
 * field is evaluated per dictionary term (with `compile`, exactly as for packets, so the index never
 * disagrees with the full test); constants fold; anything else (packet bytes, length, time, two
 * fields compared) is `unknown` and checked on the packet.
 */
export function termPlanOf(e: Expr, compile: (e: Expr) => Ev): TermPlan {
  switch (e.type) {
    case 'and':
      return { op: 'and', parts: [termPlanOf(e.left, compile), termPlanOf(e.right, compile)] };
    case 'or':
      return { op: 'or', parts: [termPlanOf(e.left, compile), termPlanOf(e.right, compile)] };
    case 'not':
      return { op: 'not', part: termPlanOf(e.operand, compile) };
    default:
      break;
  }
  const vars = [...variablesOf(e)];
  if (vars.length === 0) {
    const ev = compile(e);
    const ctx: Ctx = { p: new TermView(), frame: Buffer.alloc(0), start: 0, end: 0 };
    return ev(ctx) === true ? { op: 'all' } : { op: 'none' };
  }
  const field = vars.length === 1 ? TERM_FIELD_OF_VAR[vars[0]] : undefined;
  if (field === undefined) return { op: 'unknown' };
  const ev = compile(e);
  const view = new TermView();
  const ctx: Ctx = { p: view, frame: Buffer.alloc(0), start: 0, end: 0 };
  const set = (t: Term): void => {
    switch (field) {
      case 'src':
        view.srcAddr = termText(t);
        break;
      case 'dst':
        view.dstAddr = termText(t);
        break;
      default:
        view[field] = typeof t === 'number' ? t : -1;
    }
  };
  const accepts = (t: Term): boolean => {
    set(t);
    return ev(ctx) === true;
  };
  return { op: 'term', field, match: { ...boundsOf(e, field), accepts } };
}
