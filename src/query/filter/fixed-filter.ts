/**
 * Metron's fixed filter (`pcap-query fixed`, FixedPcapFilter, metron-compat §6.8), with its defects fixed:
 * addresses may be CIDR blocks and IPv6 (compared as addresses, not strings), ports may be ranges,
 * protocols may be names, addresses are checked for every IP packet (ICMP included), and `-pf`
 * searches the frame only, not the pcap headers.
 *
 * Kept from Metron: fields absent or blank are not constrained; a constrained field the packet
 * lacks (a port on ICMP) fails; include_reverse swaps source and destination pairwise (address and
 * port together); protocol is never swapped; the byte pattern is applied after the header test.
 */
import { compileByteseek, type ByteMatcher } from './byteseek/index.js';
import { QueryError } from '../errors.js';
import {
  addressBlockMatch,
  type FlowKey,
  type IndexedFlow,
  numberRangeMatch,
  type PacketFilter,
  type TermPlan,
  termAnd,
  termOr,
} from './filter.js';
import { compileAddressMatcher, type AddressMatcher } from './ip.js';
import { parseProtocol, PROTOCOL_NAMES_HINT } from './protocols.js';

export interface FixedFilterSpec {
  srcAddr?: string | null;
  dstAddr?: string | null;
  /** A port (80, '80') or an inclusive range ('1000-2000'). */
  srcPort?: string | number | null;
  dstPort?: string | number | null;
  /** A protocol number (6, '6') or name ('tcp', 'UDP', 'icmp', 'icmpv6', …). */
  protocol?: string | number | null;
  includeReverse?: boolean;
  /** A byteseek pattern searched in the frame bytes. */
  packetFilter?: string | null;
}

/** The CLI option each field came from, for error messages. */
export const FIXED_OPTIONS: Readonly<Record<keyof FixedFilterSpec, string>> = {
  srcAddr: '-sa',
  dstAddr: '-da',
  srcPort: '-sp',
  dstPort: '-dp',
  protocol: '-p',
  includeReverse: '-ir',
  packetFilter: '-pf',
};

/** Build a spec from Metron's field map (REST bodies, job configs): ip_src_addr … packet_filter. */
export function fixedSpecFromMetronFields(fields: Readonly<Record<string, string | undefined>>): FixedFilterSpec {
  return {
    srcAddr: fields.ip_src_addr,
    dstAddr: fields.ip_dst_addr,
    srcPort: fields.ip_src_port,
    dstPort: fields.ip_dst_port,
    protocol: fields.protocol,
    includeReverse: (fields.includes_reverse_traffic ?? fields.include_reverse ?? '').trim().toLowerCase() === 'true',
    packetFilter: fields.packet_filter,
  };
}

interface PortRange {
  lo: number;
  hi: number;
  text: string;
}

/** Blank strings count as "not given", as in Metron (only trimmed non-empty values were kept). */
const given = (v: string | number | null | undefined): v is string | number =>
  v !== null && v !== undefined && (typeof v === 'number' || v.trim() !== '');

function compilePort(v: string | number, option: string): PortRange {
  const text = String(v).trim();
  const m = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(text);
  if (m === null) {
    const bad = text.search(/[^\d\s-]/);
    throw new QueryError(`'${text}' is not a port (0-65535) or a port range like 1000-2000`, {
      option,
      position: bad >= 0 ? bad + 1 : 1,
    });
  }
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo > 65535 || hi > 65535) {
    throw new QueryError(`port ${Math.max(lo, hi)} is out of range (0-65535)`, {
      option,
      position: lo > 65535 ? 1 : text.lastIndexOf(m[2] ?? '') + 1,
    });
  }
  if (hi < lo) throw new QueryError(`the port range ${text} ends below its start`, { option, position: 1 });
  return { lo, hi, text: lo === hi ? String(lo) : `${lo}-${hi}` };
}

function compileAddress(v: string, option: string): AddressMatcher {
  const r = compileAddressMatcher(v);
  if ('problem' in r)
    throw new QueryError(`${r.problem}; give an IPv4/IPv6 address or a CIDR block like 10.0.0.0/8`, {
      option,
      position: r.column,
    });
  return r;
}

function compileProtocol(v: string | number, option: string): number {
  const n = typeof v === 'number' ? (Number.isInteger(v) && v >= 0 && v <= 255 ? v : null) : parseProtocol(v);
  if (n === null)
    throw new QueryError(`unknown protocol '${String(v).trim()}'; give ${PROTOCOL_NAMES_HINT}`, {
      option,
      position: 1,
    });
  return n;
}

const inRange = (port: number, r: PortRange): boolean => port >= r.lo && port <= r.hi;

/** Compile a fixed filter. Throws QueryError naming the option and column of the first bad field. */
export function compileFixedFilter(spec: FixedFilterSpec): PacketFilter {
  const sa = given(spec.srcAddr) ? compileAddress(String(spec.srcAddr), FIXED_OPTIONS.srcAddr) : null;
  const da = given(spec.dstAddr) ? compileAddress(String(spec.dstAddr), FIXED_OPTIONS.dstAddr) : null;
  const sp = given(spec.srcPort) ? compilePort(spec.srcPort, FIXED_OPTIONS.srcPort) : null;
  const dp = given(spec.dstPort) ? compilePort(spec.dstPort, FIXED_OPTIONS.dstPort) : null;
  const proto = given(spec.protocol) ? compileProtocol(spec.protocol, FIXED_OPTIONS.protocol) : -1;
  const reverse = spec.includeReverse === true;
  const pf: ByteMatcher | null = given(spec.packetFilter)
    ? compileByteseek(spec.packetFilter, FIXED_OPTIONS.packetFilter)
    : null;

  const headerFiltering = sa !== null || da !== null || sp !== null || dp !== null || proto >= 0;

  // Header test over a FlowKey: PacketFields qualifies structurally, index entries too.
  const header = (k: FlowKey): boolean => {
    if (proto >= 0 && k.protocol !== proto) return false;
    if (
      (sa === null || sa.matches(k.srcAddr)) &&
      (sp === null || inRange(k.srcPort, sp)) &&
      (da === null || da.matches(k.dstAddr)) &&
      (dp === null || inRange(k.dstPort, dp))
    ) {
      return true;
    }
    return (
      reverse &&
      (sa === null || sa.matches(k.dstAddr)) &&
      (sp === null || inRange(k.dstPort, sp)) &&
      (da === null || da.matches(k.srcAddr)) &&
      (dp === null || inRange(k.srcPort, dp))
    );
  };

  // Per index file: decide each address-table entry once, then test entries by id.
  const forAddressTable = (addresses: readonly string[]) => {
    const n = addresses.length;
    const flags = (m: AddressMatcher | null): Uint8Array | null => {
      if (m === null) return null;
      const f = new Uint8Array(n);
      for (let k = 0; k < n; k++) f[k] = m.matches(addresses[k]) ? 1 : 0;
      return f;
    };
    const saOk = flags(sa);
    const daOk = flags(da);
    const ok = (f: Uint8Array | null, id: number): boolean => f === null || (id >= 0 && id < n && f[id] === 1);
    return (e: IndexedFlow): boolean => {
      if (proto >= 0 && e.protocol !== proto) return false;
      if (
        ok(saOk, e.src) &&
        (sp === null || inRange(e.srcPort, sp)) &&
        ok(daOk, e.dst) &&
        (dp === null || inRange(e.dstPort, dp))
      ) {
        return true;
      }
      return (
        reverse &&
        ok(saOk, e.dst) &&
        (sp === null || inRange(e.dstPort, sp)) &&
        ok(daOk, e.src) &&
        (dp === null || inRange(e.srcPort, dp))
      );
    };
  };

  // The same header test over the inverted index's terms (index v2).
  const addrTerm = (field: 'src' | 'dst', m: AddressMatcher): TermPlan => ({
    op: 'term',
    field,
    match: addressBlockMatch(m.text, (b) => m.matches(b)),
  });
  const portTerm = (field: 'srcPort' | 'dstPort', r: PortRange): TermPlan => ({
    op: 'term',
    field,
    match: numberRangeMatch(r.lo, r.hi),
  });
  const direction = (srcF: 'src' | 'dst', dstF: 'src' | 'dst'): TermPlan =>
    termAnd([
      ...(sa ? [addrTerm(srcF, sa)] : []),
      ...(sp ? [portTerm(srcF === 'src' ? 'srcPort' : 'dstPort', sp)] : []),
      ...(da ? [addrTerm(dstF, da)] : []),
      ...(dp ? [portTerm(dstF === 'dst' ? 'dstPort' : 'srcPort', dp)] : []),
    ]);
  const termPlan: TermPlan | null = headerFiltering
    ? termAnd([
        ...(proto >= 0 ? [{ op: 'term', field: 'protocol', match: numberRangeMatch(proto, proto) } as TermPlan] : []),
        reverse ? termOr([direction('src', 'dst'), direction('dst', 'src')]) : direction('src', 'dst'),
        ...(pf !== null ? [{ op: 'unknown' } as TermPlan] : []),
      ])
    : null;

  let test: PacketFilter['test'];
  if (headerFiltering && pf !== null) test = (p, frame, s, e) => header(p) && pf.matches(frame, s, e);
  else if (headerFiltering) test = (p) => header(p);
  else if (pf !== null) test = (_p, frame, s, e) => pf.matches(frame, s, e);
  else test = () => true;

  const parts: string[] = [];
  if (sa) parts.push(`ip_src_addr=${sa.text}`);
  if (sp) parts.push(`ip_src_port=${sp.text}`);
  if (da) parts.push(`ip_dst_addr=${da.text}`);
  if (dp) parts.push(`ip_dst_port=${dp.text}`);
  if (proto >= 0) parts.push(`protocol=${proto}`);
  if (reverse && headerFiltering) parts.push('include_reverse');
  if (pf) parts.push(`packet_filter=${pf.pattern}`);

  return {
    kind: 'fixed',
    matchesAll: !headerFiltering && pf === null,
    test,
    indexPredicate: headerFiltering ? header : null,
    forAddressTable: headerFiltering ? forAddressTable : null,
    indexExact: pf === null,
    termPlan,
    description: parts.length === 0 ? 'all packets' : parts.join(' '),
  };
}
