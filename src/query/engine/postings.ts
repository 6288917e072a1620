/**
 * Evaluating a filter's term plan on one index v2 file: dictionary lookups first (they give every
 * term's posting count without reading postings), then posting lists, cheapest first. An `and`
 * reads the smallest list and skips a sibling whose list is much longer than the candidates so far
 * (the candidates are then checked on the packet, which is read anyway); an `and` that pins the
 * whole 5-tuple also reads the flow term, one short list for both directions of a flow. `or`
 * unions, `not` complements an exact set. Ordinals come out sorted.
 */
import type { TermEntry } from '../../formats/index/v2/format.js';
import type { IndexV2 } from '../../formats/index/v2/reader.js';
import { flowTerm, fnv1a, type Term } from '../../formats/index/v2/terms.js';
import type { TermMatch, TermPlan } from '../filter/filter.js';

/** Candidates of one file: `ordinals` null means every packet. `exact`: the candidates are the matches. */
export interface PostingResult {
  ordinals: Uint32Array | null;
  exact: boolean;
}

/** A sibling list this many times longer than the candidates is not read (its test moves to the packet). */
const SKIP_FACTOR = 16;

type Node =
  | { op: 'all' | 'none' | 'unknown' }
  | { op: 'leaf'; field: string; match: TermMatch; implied: boolean; entries?: TermEntry[]; count?: number }
  | { op: 'and' | 'or'; parts: Node[] }
  | { op: 'not'; part: Node };

/** Terms pinned to one value by the conjuncts around a node (a branch of an `or` inherits its `and`'s). */
type Pinned = ReadonlyMap<string, Term>;

function build(p: TermPlan, flows = new Map<number, Node>(), pinned: Pinned = new Map()): Node {
  switch (p.op) {
    case 'term':
      return { op: 'leaf', field: p.field, match: p.match, implied: false };
    case 'and': {
      // Flatten nested ands so the flow rewrite sees every conjunct.
      const flat: TermPlan[] = [];
      const flatten = (q: TermPlan) => {
        if (q.op === 'and') q.parts.forEach(flatten);
        else flat.push(q);
      };
      flatten(p);
      const here = new Map(pinned);
      for (const q of flat) if (q.op === 'term' && q.match.only !== undefined) here.set(q.field, q.match.only);
      const parts = flat.map((x) => build(x, flows, here));
      const flow = flowLeaf(here, flows);
      return { op: 'and', parts: flow ? [...parts, flow] : parts };
    }
    case 'or':
      return { op: 'or', parts: p.parts.map((x) => build(x, flows, pinned)) };
    case 'not':
      return { op: 'not', part: build(p.part, flows) };
    default:
      return { op: p.op };
  }
}

/**
 * The flow term implied by protocol, both addresses and both ports pinned (here or by enclosing
 * conjuncts: `p and ((a and b) or (b and a))` pins the protocol of both branches). Adding it as a
 * conjunct is sound: every packet matching the pinned terms carries that flow term.
 */
function flowLeaf(only: Pinned, flows: Map<number, Node>): Node | null {
  const src = only.get('src');
  const dst = only.get('dst');
  const sp = only.get('srcPort');
  const dp = only.get('dstPort');
  const proto = only.get('protocol');
  if (!(src instanceof Uint8Array) || !(dst instanceof Uint8Array) || src.length === 0 || dst.length === 0) return null;
  if (typeof sp !== 'number' || typeof dp !== 'number' || typeof proto !== 'number') return null;
  const term = flowTerm(proto, src, fnv1a(src), sp, dst, fnv1a(dst), dp);
  // Both directions of a flow (-ir) share one term: one node, read once.
  let leaf = flows.get(term);
  if (!leaf) {
    leaf = { op: 'leaf', field: 'flow', match: { lo: term, hi: term, accepts: (t) => t === term }, implied: true };
    flows.set(term, leaf);
  }
  return leaf;
}

function intersect(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(Math.min(a.length, b.length));
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) {
    if (a[i] < b[j]) i++;
    else if (a[i] > b[j]) j++;
    else {
      out[k++] = a[i];
      i++;
      j++;
    }
  }
  return out.subarray(0, k);
}

function union(all: Uint32Array[], count: number): Uint32Array {
  // Both directions of a flow (-ir) give the very same list: one is enough.
  const sets = all.filter((s, k) => s.length > 0 && all.indexOf(s) === k);
  if (sets.length <= 1) return sets[0] ?? new Uint32Array(0);
  const total = sets.reduce((n, s) => n + s.length, 0);
  if (total * 16 < count) {
    // Short lists: sort their concatenation and drop repeats (no pass over the whole file).
    const joined = new Uint32Array(total);
    let at = 0;
    for (const s of sets) {
      joined.set(s, at);
      at += s.length;
    }
    joined.sort();
    let k = 0;
    for (let i = 0; i < joined.length; i++) if (i === 0 || joined[i] !== joined[i - 1]) joined[k++] = joined[i];
    return joined.subarray(0, k);
  }
  const seen = new Uint8Array(count);
  for (const s of sets) for (let i = 0; i < s.length; i++) seen[s[i]] = 1;
  return ordinalsOf(seen, false);
}

function ordinalsOf(flags: Uint8Array, want0: boolean): Uint32Array {
  let n = 0;
  for (let i = 0; i < flags.length; i++) if ((flags[i] === 0) === want0) n++;
  const out = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < flags.length; i++) if ((flags[i] === 0) === want0) out[k++] = i;
  return out;
}

function complement(set: Uint32Array, count: number): Uint32Array {
  const flags = new Uint8Array(count);
  for (let i = 0; i < set.length; i++) flags[set[i]] = 1;
  return ordinalsOf(flags, true);
}

/** Flow candidates up to this many are taken as they are: checking them on the packet is cheaper than more reads. */
const FLOW_ENOUGH = 4096;

type Leaf = Extract<Node, { op: 'leaf' }> & { lookup?: Promise<void>; result?: Promise<PostingResult> };

/** Evaluates `plan` on `index` (a null plan: every packet, exactly). */
export async function evaluateTermPlan(index: IndexV2, plan: TermPlan | null): Promise<PostingResult> {
  if (plan === null) return { ordinals: null, exact: true };
  const root = build(plan);
  const count = index.count;
  // Dictionary lookups happen when a leaf is first needed, once: each reads only the blocks its bounds allow.
  const lookup = (leaf: Leaf): Promise<void> =>
    (leaf.lookup ??= (async () => {
      const field = index.field(leaf.field);
      if (!field) {
        // An index without this field cannot narrow it: every packet is a candidate.
        leaf.count = count;
        return;
      }
      const entries = (await index.terms(field, leaf.match.lo, leaf.match.hi)).filter((e) =>
        leaf.match.accepts(e.term),
      );
      leaf.entries = entries;
      leaf.count = entries.reduce((n, e) => n + e.count, 0);
    })());
  /** The flow term an `and` pinning a whole 5-tuple carries among its parts (see `build`). */
  const flowPart = (n: { parts: Node[] }): Leaf | undefined =>
    n.parts.find((p): p is Leaf => p.op === 'leaf' && p.implied);
  /**
   * How many candidates the flow terms inside `n` bound it to, when flows alone decide it (an `and`
   * with a flow term, or an `or` of such branches), else null. Reads only the flow dictionaries.
   */
  const flowBound = async (n: Node): Promise<number | null> => {
    if (n.op === 'and') {
      const flow = flowPart(n);
      if (!flow) return null;
      await lookup(flow);
      return flow.entries === undefined ? null : (flow.count ?? count);
    }
    if (n.op !== 'or') return null;
    let total = 0;
    for (const b of n.parts) {
      const x = await flowBound(b);
      if (x === null) return null;
      total += x;
    }
    return total;
  };
  const estimate = async (n: Node): Promise<number> => {
    switch (n.op) {
      case 'none':
        return 0;
      case 'leaf':
        await lookup(n);
        return n.count ?? count;
      case 'and': {
        // A short flow list decides the and alone (see below): no other lookup is needed.
        const own = await flowBound(n);
        if (own !== null && own <= FLOW_ENOUGH) return own;
        return Math.min(count, ...(await Promise.all(n.parts.map(estimate))));
      }
      case 'or':
        return Math.min(
          count,
          (await Promise.all(n.parts.map(estimate))).reduce((s, x) => s + x, 0),
        );
      default:
        return count;
    }
  };
  const evaluateLeaf = (n: Leaf): Promise<PostingResult> =>
    (n.result ??= (async () => {
      await lookup(n);
      if (n.entries === undefined) return { ordinals: null, exact: false };
      return { ordinals: await index.postings(index.field(n.field)!, n.entries), exact: !n.implied };
    })());
  const evaluate = async (n: Node): Promise<PostingResult> => {
    switch (n.op) {
      case 'all':
        return { ordinals: null, exact: true };
      case 'none':
        return { ordinals: new Uint32Array(0), exact: true };
      case 'unknown':
        return { ordinals: null, exact: false };
      case 'leaf':
        return evaluateLeaf(n);
      case 'not': {
        const r = await evaluate(n.part);
        if (!r.exact) return { ordinals: null, exact: false };
        return { ordinals: r.ordinals === null ? new Uint32Array(0) : complement(r.ordinals, count), exact: true };
      }
      case 'or': {
        const results = await Promise.all(n.parts.map(evaluate));
        const exact = results.every((r) => r.exact);
        if (results.some((r) => r.ordinals === null)) return { ordinals: null, exact };
        return {
          ordinals: union(
            results.map((r) => r.ordinals!),
            count,
          ),
          exact,
        };
      }
      case 'and': {
        // A pinned 5-tuple: the flow term's list alone, when short, is the candidate set.
        const own = await flowBound(n);
        if (own !== null && own <= FLOW_ENOUGH) return evaluateLeaf(flowPart(n)!);
        // A part that short flow lists decide (`p and ((a and b) or (b and a))`, -ir's shape) is
        // the candidate set too: the other parts' lookups (the protocol's dictionary, say) would be
        // skipped as far longer anyway, so they are not even read. Their test moves to the packet.
        for (const p of n.parts) {
          const bound = await flowBound(p);
          if (bound !== null && bound <= FLOW_ENOUGH) {
            const r = await evaluate(p);
            return { ordinals: r.ordinals, exact: r.exact && n.parts.length === 1 };
          }
        }
        const sized = await Promise.all(n.parts.map(async (p) => ({ p, size: await estimate(p) })));
        sized.sort((a, b) => a.size - b.size);
        let current: Uint32Array | null = null;
        let exact = true;
        for (const { p, size } of sized) {
          const implied = p.op === 'leaf' && p.implied;
          if (current !== null && current.length === 0) break;
          if (current !== null && size > SKIP_FACTOR * current.length) {
            // Not read: its test happens on the packet (an implied term adds nothing to test).
            if (!implied) exact = false;
            continue;
          }
          const r = await evaluate(p);
          if (!r.exact && !implied) exact = false;
          if (r.ordinals === null) continue;
          current = current === null ? r.ordinals : intersect(current, r.ordinals);
        }
        return { ordinals: current, exact };
      }
    }
  };
  return evaluate(root);
}
