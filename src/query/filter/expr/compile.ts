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
import { compileByteseek, type ByteMatcher } from '../byteseek.js';
import { QueryError, caretExcerpt } from '../../errors.js';
import { bindAddressTable, type FlowKey, type PacketFilter } from '../filter.js';
import { compileAddressMatcher, type AddressMatcher } from '../ip.js';
import { parseProtocol } from '../protocols.js';
import type { CmpOp, Expr, Loc } from './ast.js';
import type { Ctx, Ev, Value } from './context.js';
import {
  FlowKeyView,
  indexPredicate as buildIndexPredicate,
  needsFrame,
  usesIndexFields,
  type IndexVars,
} from './index-filter.js';
import { parse, SyntaxError as PeggySyntaxError, type Expectation } from './parser.js';

export type { Value } from './context.js';

/** Static types: every node's type is known at compile time (no user-defined variables). */
type Ty = 'bool' | 'num' | 'str' | 'bytes' | 'null' | 'list';

interface Compiled {
  ev: Ev;
  ty: Ty;
  /** Set when the value does not depend on the packet. */
  constant?: { value: Value };
}

export interface CompiledQuery extends PacketFilter {
  readonly kind: 'query';
  readonly source: string;
  /** Null for an empty query (which matches everything). */
  readonly ast: Expr | null;
  /** Things that are legal but almost certainly not what was meant, e.g. `ip_dst_port == '22'`. */
  readonly warnings: readonly string[];
}

const TY_NAME: Record<Ty, string> = {
  bool: 'a boolean',
  num: 'a number',
  str: 'a string',
  bytes: 'bytes',
  null: 'null',
  list: 'a list',
};

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

export const FUNCTIONS = [
  'IN_SUBNET',
  'BYTEARRAY_MATCHER',
  'STARTS_WITH',
  'ENDS_WITH',
  'TO_LOWER',
  'TO_UPPER',
] as const;

// ---------------------------------------------------------------------------------------------

function eq(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, k) => eq(x, b[k]));
  return false;
}

/** Ordering is defined for two numbers or two strings only; anything else compares false. */
const ordered = (a: Value, b: Value): boolean =>
  (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');

const isPrimitive = (v: Value): v is string | number | boolean | null =>
  v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

const textOf = (v: Value): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, k) => k);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

const suggest = (name: string, known: readonly string[]): string => {
  let best = '';
  let bestD = Infinity;
  for (const k of known) {
    const dist = levenshtein(name.toLowerCase(), k.toLowerCase());
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? `did you mean ${best}? ` : '';
};

const describe = (e: Expr, src: string): string => {
  const text = src.slice(e.loc.start, e.loc.end);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
};

// ---------------------------------------------------------------------------------------------

class Compiler {
  readonly warnings: string[] = [];
  constructor(
    private readonly src: string,
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

  private constant(value: Value, ty: Ty): Compiled {
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
    const arity = (min: number, max: number, usage: string) => {
      if (args.length < min || args.length > max) {
        throw this.error(
          `${fn} takes ${min === max ? min : max === Infinity ? `${min} or more` : `${min} to ${max}`} argument${max === 1 ? '' : 's'} (${usage}), not ${args.length}`,
          loc,
        );
      }
    };
    switch (fn) {
      case 'IN_SUBNET': {
        arity(2, Infinity, 'IN_SUBNET(address, cidr, ...)');
        const addr = this.compile(args[0]).ev;
        const blocks = args.slice(1).map((a) => ({ e: a, c: this.compile(a) }));
        if (blocks.every((b) => b.c.constant)) {
          const matchers: AddressMatcher[] = [];
          for (const b of blocks) {
            const v = b.c.constant!.value;
            if (typeof v !== 'string')
              throw this.error(
                `IN_SUBNET needs CIDR blocks as strings, like '10.0.0.0/8', not ${describe(b.e, this.src)}`,
                b.e.loc,
              );
            const m = compileAddressMatcher(v);
            if ('problem' in m)
              throw this.error(`IN_SUBNET: ${m.problem}`, { line: b.e.loc.line, column: b.e.loc.column + m.column });
            matchers.push(m);
          }
          const n = matchers.length;
          return {
            ty: 'bool',
            ev: (c) => {
              const a = addr(c);
              if (typeof a !== 'string') return false;
              for (let k = 0; k < n; k++) if (matchers[k].matches(a)) return true;
              return false;
            },
          };
        }
        const cache = new Map<string, AddressMatcher | null>();
        const evs = blocks.map((b) => b.c.ev);
        return {
          ty: 'bool',
          ev: (c) => {
            const a = addr(c);
            if (typeof a !== 'string') return false;
            for (const f of evs) {
              const cidr = f(c);
              if (typeof cidr !== 'string') continue;
              let m = cache.get(cidr);
              if (m === undefined) {
                const r = compileAddressMatcher(cidr);
                m = 'problem' in r ? null : r;
                if (cache.size < 1000) cache.set(cidr, m);
              }
              if (m?.matches(a)) return true;
            }
            return false;
          },
        };
      }
      case 'BYTEARRAY_MATCHER': {
        arity(2, 2, 'BYTEARRAY_MATCHER(pattern, packet)');
        const pat = this.compile(args[0]);
        const dataExpr = args[1];
        const data = this.compile(dataExpr);
        if (data.ty !== 'bytes' && data.ty !== 'str' && data.ty !== 'null') {
          throw this.error(`BYTEARRAY_MATCHER searches bytes (packet), not ${TY_NAME[data.ty]}`, dataExpr.loc);
        }
        const onPacket = dataExpr.type === 'var' && dataExpr.name === 'packet';
        if (pat.constant) {
          const v = pat.constant.value;
          if (v === null) return this.constant(false, 'bool');
          if (typeof v !== 'string')
            throw this.error(
              `BYTEARRAY_MATCHER needs its pattern as a string, like '2f56..14bc', not ${describe(args[0], this.src)}`,
              args[0].loc,
            );
          let m: ByteMatcher;
          try {
            m = compileByteseek(v);
          } catch (err) {
            if (err instanceof QueryError) {
              // Point into the query: the column inside the pattern, after the opening quote.
              throw this.error(err.message, {
                line: args[0].loc.line,
                column: args[0].loc.column + (err.position ?? 1),
              });
            }
            throw err;
          }
          // The common case runs straight on the frame: no view, no copy.
          if (onPacket) return { ty: 'bool', ev: (c) => m.matches(c.frame, c.start, c.end) };
          const D = data.ev;
          return { ty: 'bool', ev: (c) => matchValue(m, D(c)) };
        }
        const P = pat.ev;
        const D = data.ev;
        const cache = new Map<string, ByteMatcher | null>();
        return {
          ty: 'bool',
          ev: (c) => {
            const p = P(c);
            if (typeof p !== 'string') return false;
            let m = cache.get(p);
            if (m === undefined) {
              try {
                m = compileByteseek(p);
              } catch {
                m = null;
              }
              if (cache.size < 1000) cache.set(p, m);
            }
            if (m === null) return false;
            return onPacket ? m.matches(c.frame, c.start, c.end) : matchValue(m, D(c));
          },
        };
      }
      case 'STARTS_WITH':
      case 'ENDS_WITH': {
        arity(2, 2, `${fn}(string, ${fn === 'STARTS_WITH' ? 'prefix' : 'suffix'})`);
        const A = this.compile(args[0]).ev;
        const B = this.compile(args[1]).ev;
        const starts = fn === 'STARTS_WITH';
        return {
          ty: 'bool',
          ev: (c) => {
            const a = textOf(A(c));
            const b = textOf(B(c));
            if (a === null || b === null) return false;
            return starts ? a.startsWith(b) : a.endsWith(b);
          },
        };
      }
      case 'TO_LOWER':
      case 'TO_UPPER': {
        arity(1, 1, `${fn}(string)`);
        const a = this.compile(args[0]);
        const A = a.ev;
        const lower = fn === 'TO_LOWER';
        return {
          ty: a.ty,
          ev: (c) => {
            const v = A(c);
            return typeof v === 'string' ? (lower ? v.toLowerCase() : v.toUpperCase()) : v;
          },
        };
      }
      default:
        throw this.error(
          `unknown function '${name}'; ${suggest(fn, FUNCTIONS)}the functions are ${FUNCTIONS.join(', ')}`,
          loc,
        );
    }
  }

  private warn(message: string, loc: Loc): void {
    this.warnings.push(`${message} (at ${loc.line > 1 ? `line ${loc.line}, ` : ''}column ${loc.column})`);
  }
}

function matchValue(m: ByteMatcher, d: Value): boolean {
  if (Buffer.isBuffer(d)) return m.matches(d, 0, d.length);
  if (typeof d === 'string') return m.matches(Buffer.from(d, 'utf8'));
  return false;
}

// ---------------------------------------------------------------------------------------------

function syntaxError(err: PeggySyntaxError, src: string, option: string): QueryError {
  const { line, column } = err.location.start;
  const names = new Set<string>();
  for (const x of err.expected as Expectation[]) {
    if (x.type === 'literal') names.add(`'${x.text}'`);
    else if (x.type === 'other') names.add(x.description);
    else if (x.type === 'end') names.add('the end of the query');
  }
  // Peggy lists every token that could have come next; keep the ones that help a person.
  let list = [...names].filter((n) => n !== 'whitespace' && n !== 'name');
  if (list.length > 1) list = list.filter((n) => n !== "'('" && n !== "'['");
  const expected =
    list.length === 0
      ? ''
      : list.length === 1
        ? list[0]
        : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
  // Show the whole word that was found, not just its first character.
  const word = /^(?:[A-Za-z_$][A-Za-z0-9_.$]*|[0-9.]+|\S)/.exec(src.slice(err.location.start.offset))?.[0];
  const found =
    err.found === null || err.found === undefined || word === undefined ? 'the end of the query' : `'${word}'`;
  let hint = '';
  if (err.found === '=') hint = " (use '==' to compare)";
  else if ((err.found === "'" || err.found === '"') && names.has('value')) {
    return new QueryError(`syntax error: the string that starts here is not closed with ${err.found}`, {
      option,
      position: column,
      line,
      excerpt: caretExcerpt(src, column, line),
    });
  }
  return new QueryError(`syntax error: expected ${expected || 'something else'} but found ${found}${hint}`, {
    option,
    position: column,
    line,
    excerpt: caretExcerpt(src, column, line),
  });
}

/** Parse only (for tools and tests). Throws QueryError on a syntax error. */
export function parseQuery(source: string, option = '-q'): Expr | null {
  try {
    return parse(source);
  } catch (err) {
    if (err instanceof PeggySyntaxError) throw syntaxError(err, source, option);
    throw err;
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
  if (usesIndexFields(ast, INDEX_VARS)) {
    const indexCompiler = new Compiler(src, option);
    indexPredicate = buildIndexPredicate(ast, INDEX_VARS, (e) => indexCompiler.compile(e).ev);
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
    description: src.trim().replace(/\s+/g, ' '),
  };
}
