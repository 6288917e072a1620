/**
 * Compiles a query expression (`pcap-query query -q`, a Stellar subset) into a packet predicate:
 * the tree from the generated parser becomes nested closures, checked for types once, so nothing
 * user-supplied is ever evaluated as JavaScript and per-packet work is a few calls.
 *
 * Semantics follow Stellar as Metron's QueryPcapFilter used it, with fixes:
 *  - typed comparisons (METRON-432): numbers with numbers, strings with strings; mixed types are
 *    unequal and unordered (`ip_dst_port == '22'` is false, `protocol == 'foo'` is false), with a
 *    compile-time warning;
 *  - an unknown variable is an error with its position (Stellar silently read it as null);
 *  - operands of and/or/not must be booleans, and so must the whole query, checked before any
 *    packet is read ("does not return a boolean" names the position);
 *  - addresses exist for every IP packet; a field the packet lacks (ports on ICMP, VLAN on an
 *    untagged frame) is null, and null is only equal to null.
 */
import type { PacketFields } from '../../../packet/packet-fields.js';
import { suggest } from '../../../lib/suggest.js';
import { caretExcerpt, QueryError } from '../../errors.js';
import { bindAddressTable, type FlowKey, type PacketFilter } from '../filter.js';
import { parseProtocol } from '../protocols.js';
import type { CmpOp, Expr, Loc } from './ast.js';
import type { Ctx, Ev, Value } from './context.js';
import {
  FlowKeyView,
  indexPredicate as buildIndexPredicate,
  needsFrame,
  termPlanOf,
  usesIndexFields,
  type IndexVars,
} from './index-filter.js';
import { type CompileScope, checkArity, FUNCTION_DEFS, FUNCTIONS } from './functions.js';
import { parseQuery } from './parse.js';
import { type Compiled, describe, eq, isPrimitive, ordered, TY_NAME, type Ty } from './types.js';

export { FUNCTIONS } from './functions.js';
export { parseQuery } from './parse.js';
export type { Value } from './context.js';

export interface CompiledQuery extends PacketFilter {
  readonly kind: 'query';
  readonly source: string;
  /** Null for an empty query (which matches everything). */
  readonly ast: Expr | null;
  /** Things that are legal but almost certainly not what was meant, e.g. `ip_dst_port == '22'`. */
  readonly warnings: readonly string[];
}

interface VarDef {
  ty: Ty;
  ev: Ev;
  /** Available in index entries (FlowKey), so usable for pre-filtering. */
  inIndex: boolean;
  doc: string;
}

/** The variables a query can use. */
export const VARIABLES: Readonly<Record<string, VarDef>> = {
  ip_src_addr: { ty: 'str', ev: (c) => c.p.srcAddr, inIndex: true, doc: 'source IP address (text), null when not IP' },
  ip_dst_addr: {
    ty: 'str',
    ev: (c) => c.p.dstAddr,
    inIndex: true,
    doc: 'destination IP address (text), null when not IP',
  },
  ip_src_port: {
    ty: 'num',
    ev: (c) => (c.p.srcPort < 0 ? null : c.p.srcPort),
    inIndex: true,
    doc: 'TCP/UDP source port, null otherwise',
  },
  ip_dst_port: {
    ty: 'num',
    ev: (c) => (c.p.dstPort < 0 ? null : c.p.dstPort),
    inIndex: true,
    doc: 'TCP/UDP destination port, null otherwise',
  },
  protocol: {
    ty: 'num',
    ev: (c) => (c.p.protocol < 0 ? null : c.p.protocol),
    inIndex: true,
    doc: 'IP protocol number, null when not IP',
  },
  timestamp: {
    ty: 'num',
    ev: (c) => Number(c.p.tsNs / 1_000_000n),
    inIndex: true,
    doc: 'packet time, epoch milliseconds',
  },
  vlan: {
    ty: 'num',
    ev: (c) => (c.p.vlan < 0 ? null : c.p.vlan),
    inIndex: true,
    doc: 'outer VLAN id, null when untagged',
  },
  length: { ty: 'num', ev: (c) => c.p.length, inIndex: false, doc: 'captured frame length in bytes' },
  // A view, made only when `packet` is used other than as BYTEARRAY_MATCHER's data.
  packet: {
    ty: 'bytes',
    ev: (c) => c.frame.subarray(c.start, c.end),
    inIndex: false,
    doc: 'the frame bytes (no pcap headers)',
  },
};

const INDEX_VARS: IndexVars = (name) => (Object.hasOwn(VARIABLES, name) ? VARIABLES[name].inIndex : undefined);

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

class Compiler implements CompileScope {
  readonly warnings: string[] = [];
  constructor(
    readonly src: string,
    private readonly option: string,
  ) {}

  error(message: string, loc: Pick<Loc, 'line' | 'column'>): QueryError {
    return new QueryError(message, {
      option: this.option,
      position: loc.column,
      line: loc.line,
      excerpt: caretExcerpt(this.src, loc.column, loc.line),
    });
  }

  compile(e: Expr): Compiled {
    switch (e.type) {
      case 'str':
      case 'num':
      case 'bool':
        return this.constant(e.value, e.type === 'str' ? 'str' : e.type === 'num' ? 'num' : 'bool');
      case 'null':
        return this.constant(null, 'null');
      case 'var':
        return this.variable(e);
      case 'list': {
        const items = e.items.map((i) => this.compile(i));
        if (items.every((i) => i.constant))
          return this.constant(
            items.map((i) => i.constant!.value),
            'list',
          );
        const evs = items.map((i) => i.ev);
        return { ty: 'list', ev: (c) => evs.map((f) => f(c)) };
      }
      case 'not': {
        const o = this.boolOperand(e.operand, 'not');
        const f = o.ev;
        return { ty: 'bool', ev: (c) => !f(c) };
      }
      case 'and': {
        const l = this.boolOperand(e.left, 'and').ev;
        const r = this.boolOperand(e.right, 'and').ev;
        return { ty: 'bool', ev: (c) => l(c) === true && r(c) === true };
      }
      case 'or': {
        const l = this.boolOperand(e.left, 'or').ev;
        const r = this.boolOperand(e.right, 'or').ev;
        return { ty: 'bool', ev: (c) => l(c) === true || r(c) === true };
      }
      case 'cmp':
        return this.comparison(e.op, e.left, e.right, e.loc);
      case 'in':
        return this.membership(e.negated, e.left, e.right);
      case 'call':
        return this.call(e.name, e.args, e.loc);
    }
  }

  constant(value: Value, ty: Ty): Compiled {
    return { ty, ev: () => value, constant: { value } };
  }

  private variable(e: Extract<Expr, { type: 'var' }>): Compiled {
    const def = Object.hasOwn(VARIABLES, e.name) ? VARIABLES[e.name] : undefined;
    if (def === undefined) {
      const known = Object.keys(VARIABLES);
      const lower = known.find((k) => k === e.name.toLowerCase());
      const hint = lower !== undefined ? `did you mean ${lower}? ` : suggest(e.name, known);
      throw this.error(`unknown variable '${e.name}'; ${hint}the variables are ${known.join(', ')}`, e.loc);
    }
    return { ty: def.ty, ev: def.ev };
  }

  private boolOperand(e: Expr, op: string): Compiled {
    const c = this.compile(e);
    if (c.ty !== 'bool') {
      throw this.error(`'${op}' needs true/false operands, but ${describe(e, this.src)} is ${TY_NAME[c.ty]}`, e.loc);
    }
    return c;
  }

  private comparison(op: CmpOp, le: Expr, re: Expr, loc: Loc): Compiled {
    const l = this.compile(le);
    const r = this.compile(re);
    const L = l.ev;
    const R = r.ev;
    if (op === '==' || op === '!=') {
      if (l.ty !== r.ty && l.ty !== 'null' && r.ty !== 'null') {
        let fix =
          (l.ty === 'num' && r.ty === 'str') || (l.ty === 'str' && r.ty === 'num')
            ? ' (numbers are written without quotes)'
            : '';
        // `protocol == 'tcp'`: point at the number.
        const [v, k] = le.type === 'var' ? [le, re] : [re, le];
        if (v.type === 'var' && v.name === 'protocol' && k.type === 'str') {
          const n = parseProtocol(k.value);
          if (n !== null) fix = ` (protocol is a number: write protocol == ${n})`;
        }
        this.warn(
          `${describe(le, this.src)} ${op} ${describe(re, this.src)} compares ${TY_NAME[l.ty]} with ${TY_NAME[r.ty]}: they are never equal${fix}`,
          loc,
        );
      }
      let ev: Ev;
      // A primitive constant on one side: plain === is exactly the typed equality.
      const k =
        r.constant && isPrimitive(r.constant.value)
          ? r.constant.value
          : l.constant && isPrimitive(l.constant.value)
            ? l.constant.value
            : undefined;
      if (k !== undefined) {
        const other = r.constant && isPrimitive(r.constant.value) ? L : R;
        ev = (c) => other(c) === k;
      } else {
        ev = (c) => eq(L(c), R(c));
      }
      if (op === '!=') {
        const pos = ev;
        ev = (c) => !pos(c);
      }
      return { ty: 'bool', ev };
    }
    const orderable = (t: Ty) => t === 'num' || t === 'str';
    if (!orderable(l.ty) || !orderable(r.ty) || l.ty !== r.ty) {
      this.warn(
        `${describe(le, this.src)} ${op} ${describe(re, this.src)} orders ${TY_NAME[l.ty]} against ${TY_NAME[r.ty]}: always false (only numbers with numbers, strings with strings)`,
        loc,
      );
    }
    switch (op) {
      case '<':
        return {
          ty: 'bool',
          ev: (c) => {
            const a = L(c),
              b = R(c);
            return ordered(a, b) && (a as number) < (b as number);
          },
        };
      case '<=':
        return {
          ty: 'bool',
          ev: (c) => {
            const a = L(c),
              b = R(c);
            return ordered(a, b) && (a as number) <= (b as number);
          },
        };
      case '>':
        return {
          ty: 'bool',
          ev: (c) => {
            const a = L(c),
              b = R(c);
            return ordered(a, b) && (a as number) > (b as number);
          },
        };
      case '>=':
        return {
          ty: 'bool',
          ev: (c) => {
            const a = L(c),
              b = R(c);
            return ordered(a, b) && (a as number) >= (b as number);
          },
        };
    }
  }

  private membership(negated: boolean, le: Expr, re: Expr): Compiled {
    const l = this.compile(le);
    const r = this.compile(re);
    const L = l.ev;
    let ev: Ev;
    if (r.ty === 'list') {
      const items = r.constant?.value as Value[] | undefined;
      if (items?.every(isPrimitive)) {
        // Set membership uses SameValueZero: typed, like ==.
        const set = new Set<Value>(items);
        ev = (c) => set.has(L(c));
      } else {
        const R = r.ev;
        ev = (c) => {
          const a = L(c);
          const list = R(c) as Value[];
          for (const x of list) if (eq(a, x)) return true;
          return false;
        };
      }
    } else if (r.ty === 'str') {
      // Stellar: `x in 'text'` tests for a substring.
      const R = r.ev;
      ev = (c) => {
        const a = L(c);
        const s = R(c);
        return typeof a === 'string' && typeof s === 'string' && s.includes(a);
      };
    } else if (r.ty === 'null') {
      ev = () => false;
    } else {
      throw this.error(
        `'${negated ? 'not in' : 'in'}' needs a list like [80, 443] or a string on its right, but ${describe(re, this.src)} is ${TY_NAME[r.ty]}`,
        re.loc,
      );
    }
    if (negated) {
      const pos = ev;
      ev = (c) => !pos(c);
    }
    return { ty: 'bool', ev };
  }

  private call(name: string, args: Expr[], loc: Loc): Compiled {
    const fn = name.toUpperCase();
    const def = Object.hasOwn(FUNCTION_DEFS, fn) ? FUNCTION_DEFS[fn] : undefined;
    if (def === undefined) {
      throw this.error(
        `unknown function '${name}'; ${suggest(fn, FUNCTIONS)}the functions are ${FUNCTIONS.join(', ')}`,
        loc,
      );
    }
    checkArity(this, fn, def, args, loc);
    return def.compile(this, args, loc);
  }

  private warn(message: string, loc: Loc): void {
    this.warnings.push(`${message} (at ${loc.line > 1 ? `line ${loc.line}, ` : ''}column ${loc.column})`);
  }
}

/**
 * Compile a query into a packet filter. A null, empty or blank query matches everything.
 * Throws QueryError (option `-q` unless given) for syntax errors, unknown names, type errors.
 */
export function compileQuery(source: string | null | undefined, option = '-q'): CompiledQuery {
  const src = source ?? '';
  const ast = src.trim() === '' ? null : parseQuery(src, option);
  if (ast === null) {
    return {
      kind: 'query',
      source: src,
      ast: null,
      warnings: [],
      matchesAll: true,
      test: () => true,
      indexPredicate: null,
      forAddressTable: null,
      indexExact: true,
      termPlan: null,
      description: 'all packets',
    };
  }
  const compiler = new Compiler(src, option);
  const root = compiler.compile(ast);
  if (root.ty !== 'bool') {
    throw compiler.error(
      `the query does not return a boolean: it gives ${TY_NAME[root.ty]}; compare it, e.g. ip_dst_port == 22`,
      ast.loc,
    );
  }
  const ev = root.ev;
  const ctx: Ctx = { p: new FlowKeyView(), frame: Buffer.alloc(0), start: 0, end: 0 }; // p: placeholder until the first packet
  const test = (p: PacketFields, frame: Buffer, start: number, end: number): boolean => {
    ctx.p = p;
    ctx.frame = frame;
    ctx.start = start;
    ctx.end = end;
    return ev(ctx) === true;
  };

  let indexPredicate: ((k: FlowKey) => boolean) | null = null;
  let termPlan: PacketFilter['termPlan'] = null;
  if (usesIndexFields(ast, INDEX_VARS)) {
    const indexCompiler = new Compiler(src, option);
    indexPredicate = buildIndexPredicate(ast, INDEX_VARS, (e) => indexCompiler.compile(e).ev);
    termPlan = termPlanOf(ast, (e) => indexCompiler.compile(e).ev);
  }
  const constant = root.constant?.value;
  return {
    kind: 'query',
    source: src,
    ast,
    warnings: compiler.warnings,
    matchesAll: constant === true,
    test,
    indexPredicate,
    forAddressTable: indexPredicate === null ? null : (addresses) => bindAddressTable(indexPredicate!, addresses),
    indexExact: !needsFrame(ast, INDEX_VARS),
    termPlan,
    description: src.trim().replace(/\s+/g, ' '),
  };
}
