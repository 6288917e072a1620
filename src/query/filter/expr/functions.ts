/**
 * The functions a query can call, one entry each: its arity, its usage line for messages, and a
 * compiler that turns its arguments into a closure. Adding a function is adding an entry here.
 * Constant arguments (the common case: a literal pattern or CIDR) are compiled once, up front.
 */
import { type ByteMatcher, compileByteseek } from '../byteseek/index.js';
import { QueryError } from '../../errors.js';
import { type AddressMatcher, compileAddressMatcher } from '../ip.js';
import type { Expr, Loc } from './ast.js';
import type { Value } from './context.js';
import { type Compiled, describe, matchValue, TY_NAME, textOf, type Ty } from './types.js';

/** What a function compiler needs from the expression compiler. */
export interface CompileScope {
  readonly src: string;
  compile(e: Expr): Compiled;
  constant(value: Value, ty: Ty): Compiled;
  error(message: string, loc: Pick<Loc, 'line' | 'column'>): QueryError;
}

interface FunctionDef {
  /** Shown in arity errors, e.g. 'IN_SUBNET(address, cidr, ...)'. */
  usage: string;
  minArgs: number;
  maxArgs: number;
  compile(scope: CompileScope, args: Expr[], loc: Loc): Compiled;
}

/** Compiled patterns and CIDRs that only become known per packet are cached up to this many. */
const DYNAMIC_CACHE_LIMIT = 1000;

const inSubnet: FunctionDef = {
  usage: 'IN_SUBNET(address, cidr, ...)',
  minArgs: 2,
  maxArgs: Infinity,
  compile(scope, args) {
    const addr = scope.compile(args[0]).ev;
    const blocks = args.slice(1).map((a) => ({ e: a, c: scope.compile(a) }));
    if (blocks.every((b) => b.c.constant)) {
      const matchers: AddressMatcher[] = [];
      for (const b of blocks) {
        const v = b.c.constant!.value;
        if (typeof v !== 'string')
          throw scope.error(
            `IN_SUBNET needs CIDR blocks as strings, like '10.0.0.0/8', not ${describe(b.e, scope.src)}`,
            b.e.loc,
          );
        const m = compileAddressMatcher(v);
        if ('problem' in m)
          throw scope.error(`IN_SUBNET: ${m.problem}`, { line: b.e.loc.line, column: b.e.loc.column + m.column });
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
            if (cache.size < DYNAMIC_CACHE_LIMIT) cache.set(cidr, m);
          }
          if (m?.matches(a)) return true;
        }
        return false;
      },
    };
  },
};

const byteArrayMatcher: FunctionDef = {
  usage: 'BYTEARRAY_MATCHER(pattern, packet)',
  minArgs: 2,
  maxArgs: 2,
  compile(scope, args) {
    const pat = scope.compile(args[0]);
    const dataExpr = args[1];
    const data = scope.compile(dataExpr);
    if (data.ty !== 'bytes' && data.ty !== 'str' && data.ty !== 'null') {
      throw scope.error(`BYTEARRAY_MATCHER searches bytes (packet), not ${TY_NAME[data.ty]}`, dataExpr.loc);
    }
    const onPacket = dataExpr.type === 'var' && dataExpr.name === 'packet';
    if (pat.constant) {
      const v = pat.constant.value;
      if (v === null) return scope.constant(false, 'bool');
      if (typeof v !== 'string')
        throw scope.error(
          `BYTEARRAY_MATCHER needs its pattern as a string, like '2f56..14bc', not ${describe(args[0], scope.src)}`,
          args[0].loc,
        );
      let m: ByteMatcher;
      try {
        m = compileByteseek(v);
      } catch (err) {
        if (err instanceof QueryError) {
          // Point into the query: the column inside the pattern, after the opening quote.
          throw scope.error(err.message, {
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
          if (cache.size < DYNAMIC_CACHE_LIMIT) cache.set(p, m);
        }
        if (m === null) return false;
        return onPacket ? m.matches(c.frame, c.start, c.end) : matchValue(m, D(c));
      },
    };
  },
};

const affix = (name: string, starts: boolean): FunctionDef => ({
  usage: `${name}(string, ${starts ? 'prefix' : 'suffix'})`,
  minArgs: 2,
  maxArgs: 2,
  compile(scope, args) {
    const A = scope.compile(args[0]).ev;
    const B = scope.compile(args[1]).ev;
    return {
      ty: 'bool',
      ev: (c) => {
        const a = textOf(A(c));
        const b = textOf(B(c));
        if (a === null || b === null) return false;
        return starts ? a.startsWith(b) : a.endsWith(b);
      },
    };
  },
});

const caseChange = (name: string, lower: boolean): FunctionDef => ({
  usage: `${name}(string)`,
  minArgs: 1,
  maxArgs: 1,
  compile(scope, args) {
    const a = scope.compile(args[0]);
    const A = a.ev;
    return {
      ty: a.ty,
      ev: (c) => {
        const v = A(c);
        return typeof v === 'string' ? (lower ? v.toLowerCase() : v.toUpperCase()) : v;
      },
    };
  },
});

/** Every function, by its upper-case name (names are case-insensitive, as in Stellar). */
export const FUNCTION_DEFS: Readonly<Record<string, FunctionDef>> = {
  IN_SUBNET: inSubnet,
  BYTEARRAY_MATCHER: byteArrayMatcher,
  STARTS_WITH: affix('STARTS_WITH', true),
  ENDS_WITH: affix('ENDS_WITH', false),
  TO_LOWER: caseChange('TO_LOWER', true),
  TO_UPPER: caseChange('TO_UPPER', false),
};

export const FUNCTIONS: readonly string[] = Object.keys(FUNCTION_DEFS);

/** The arity check every call goes through, with the usage line in its message. */
export function checkArity(scope: CompileScope, name: string, def: FunctionDef, args: Expr[], loc: Loc): void {
  const { minArgs: min, maxArgs: max } = def;
  if (args.length >= min && args.length <= max) return;
  const count = min === max ? String(min) : max === Infinity ? `${min} or more` : `${min} to ${max}`;
  throw scope.error(`${name} takes ${count} argument${max === 1 ? '' : 's'} (${def.usage}), not ${args.length}`, loc);
}
