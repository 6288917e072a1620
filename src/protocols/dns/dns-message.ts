/**
 * One DNS message → Packetbeat's `dns.*` fields. Decoding is dns-packet's (it throws on malformed
 * input; callers count that); this module only checks the header cheaply first (content sniffing
 * runs on arbitrary UDP), decodes, and maps the result to ECS names.
 */
import dnsPacket from 'dns-packet';
import { parse as parseDomain } from 'tldts';

/** The subset of dns-packet's decoded shape we read. */
interface RawRecord {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  data?: unknown;
  udpPayloadSize?: number;
  extendedRcode?: number;
  ednsVersion?: number;
  flag_do?: boolean;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  opcode: string;
  rcode: string;
  flags: {
    authoritative: boolean;
    truncated_response: boolean;
    recursion_desired: boolean;
    recursion_available: boolean;
    authentic_data: boolean;
    checking_disabled: boolean;
  };
  questions: RawRecord[];
  answers: RawRecord[];
  authorities: RawRecord[];
  additionals: RawRecord[];
  size: number;
}

const u16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];

/**
 * Cheap plausibility test on a DNS header (for content dispatch): one question, small section
 * counts, a standard opcode, Z clear. Returns 0 for a query, 1 for a response, null otherwise.
 */
export function plausibleDnsHeader(b: Uint8Array, offset = 0): 0 | 1 | null {
  if (b.length - offset < 17) return null;
  const flags = u16(b, offset + 2);
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0 && opcode !== 4 && opcode !== 5) return null;
  if ((flags & 0x40) !== 0) return null; // Z must be zero
  if (u16(b, offset + 4) !== 1) return null;
  if (u16(b, offset + 6) > 100 || u16(b, offset + 8) > 100 || u16(b, offset + 10) > 100) return null;
  // the question name: labels of 1..63 bytes ending with a zero byte, then type and class
  let p = offset + 12;
  for (let labels = 0; ; labels++) {
    if (p >= b.length || labels > 127) return null;
    const len = b[p];
    if (len === 0) break;
    if (len > 63) return null;
    p += len + 1;
  }
  if (p + 5 > b.length) return null;
  const qclass = u16(b, p + 3);
  if (qclass !== 1 && qclass !== 3 && qclass !== 4 && qclass !== 255 && (qclass & 0x7fff) !== 1) return null;
  return (flags & 0x8000) !== 0 ? 1 : 0;
}

/** Decodes one message; throws on malformed input. */
export function decodeDns(payload: Uint8Array): DnsMessage {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  // biome-ignore lint/suspicious/noExplicitAny: dns-packet's decoded shape is looser than its types
  const d = dnsPacket.decode(buf) as any;
  return {
    id: d.id ?? 0,
    response: d.type === 'response',
    opcode: d.opcode ?? 'QUERY',
    rcode: d.rcode ?? 'NOERROR',
    flags: {
      authoritative: Boolean(d.flag_aa),
      truncated_response: Boolean(d.flag_tc),
      recursion_desired: Boolean(d.flag_rd),
      recursion_available: Boolean(d.flag_ra),
      authentic_data: Boolean(d.flag_ad),
      checking_disabled: Boolean(d.flag_cd),
    },
    questions: d.questions ?? [],
    answers: d.answers ?? [],
    authorities: d.authorities ?? [],
    additionals: d.additionals ?? [],
    size: payload.length,
  };
}

const HEADER_FLAG_NAMES: [keyof DnsMessage['flags'], string][] = [
  ['authoritative', 'AA'],
  ['truncated_response', 'TC'],
  ['recursion_desired', 'RD'],
  ['recursion_available', 'RA'],
  ['authentic_data', 'AD'],
  ['checking_disabled', 'CD'],
];

/** Record data as Packetbeat prints it: addresses and names as text, MX as the exchange, TXT joined. */
export function recordData(r: RawRecord): string {
  const d = r.data as unknown;
  if (d === undefined || d === null) return '';
  if (typeof d === 'string') return d;
  if (Buffer.isBuffer(d)) return d.toString('latin1');
  if (Array.isArray(d)) return d.map((x) => (Buffer.isBuffer(x) ? x.toString('latin1') : String(x))).join('');
  if (typeof d === 'object') {
    const o = d as Record<string, unknown>;
    if (r.type === 'MX') return String(o.exchange ?? '');
    if (r.type === 'SRV') return `${o.priority} ${o.weight} ${o.port} ${o.target}`;
    if (r.type === 'SOA') return `${o.mname} ${o.rname} ${o.serial} ${o.refresh} ${o.retry} ${o.expire} ${o.minimum}`;
    if (r.type === 'CAA') return `${o.flags ?? 0} ${o.tag} "${o.value}"`;
    return JSON.stringify(o, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v));
  }
  return String(d);
}

const domainCache = new Map<string, ReturnType<typeof parseDomain>>();

function domainParts(name: string): Record<string, string> {
  let p = domainCache.get(name);
  if (p === undefined) {
    if (domainCache.size > 10_000) domainCache.clear();
    p = parseDomain(name, { allowPrivateDomains: false });
    domainCache.set(name, p);
  }
  const out: Record<string, string> = {};
  if (p.domain) {
    out.registered_domain = p.domain;
    out.etld_plus_one = p.domain;
  }
  if (p.subdomain) out.subdomain = p.subdomain;
  if (p.publicSuffix) out.top_level_domain = p.publicSuffix;
  return out;
}

/** The `dns` object of an event from the query and/or the response. */
export function dnsFields(query: DnsMessage | null, response: DnsMessage | null): Record<string, unknown> {
  const m = (response ?? query) as DnsMessage;
  const dns: Record<string, unknown> = { id: m.id, op_code: m.opcode, type: response ? 'answer' : 'query' };
  const flagsFrom = response ?? query;
  if (flagsFrom) {
    dns.flags = { ...flagsFrom.flags };
    dns.header_flags = HEADER_FLAG_NAMES.filter(([k]) => flagsFrom.flags[k]).map(([, n]) => n);
  }
  if (response) dns.response_code = response.rcode;
  const q = (query ?? response)?.questions[0];
  if (q) {
    const name = q.name === '' ? '.' : q.name;
    dns.question = { name, type: q.type, class: q.class ?? 'IN', ...domainParts(q.name) };
  }
  if (response) {
    dns.answers_count = response.answers.length;
    dns.authorities_count = response.authorities.length;
    dns.additionals_count = response.additionals.filter((r) => r.type !== 'OPT').length;
    if (response.answers.length > 0) {
      dns.answers = response.answers.map((r) => ({
        name: r.name,
        type: r.type,
        class: r.class ?? 'IN',
        ttl: r.ttl ?? 0,
        data: recordData(r),
      }));
      const ips = response.answers.filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => String(r.data));
      if (ips.length > 0) dns.resolved_ip = ips;
    }
  }
  const opt = (response ?? query)?.additionals.find((r) => r.type === 'OPT');
  if (opt) {
    dns.opt = {
      version: String(opt.ednsVersion ?? 0),
      do: Boolean(opt.flag_do),
      udp_size: opt.udpPayloadSize ?? 0,
      ext_rcode: (opt.extendedRcode ?? 0) === 0 ? 'NOERROR' : String(opt.extendedRcode),
    };
  }
  return dns;
}
