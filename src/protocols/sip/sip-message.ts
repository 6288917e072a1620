/**
 * One SIP message (RFC 3261 §7): start line and headers, compact header names expanded
 * (RFC 3261 §7.3.3), name-addr values split into display name, URI and tag.
 */
export interface SipMessage {
  isRequest: boolean;
  method: string;
  uri: string;
  version: string;
  statusCode: number;
  reason: string;
  headers: Map<string, string[]>;
  headerBytes: number;
  contentLength: number;
}

const COMPACT: Record<string, string> = {
  f: 'from',
  t: 'to',
  i: 'call-id',
  v: 'via',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
  s: 'subject',
  e: 'content-encoding',
};

const REQUEST_LINE = /^([A-Z]{2,20}) (\S+) SIP\/(\d\.\d)$/;
const STATUS_LINE = /^SIP\/(\d\.\d) (\d{3}) ?(.*)$/;

/** Where the header block ends (just past the blank line), or -1. */
export function sipHeaderEnd(text: string): number {
  const crlf = text.indexOf('\r\n\r\n');
  if (crlf >= 0) return crlf + 4;
  const lf = text.indexOf('\n\n');
  return lf >= 0 ? lf + 2 : -1;
}

/** Parses a header block (start line included); null when it is not SIP. */
export function parseSipHead(head: string): SipMessage | null {
  const lines = head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
  const first = lines[0] ?? '';
  const m: SipMessage = {
    isRequest: false,
    method: '',
    uri: '',
    version: '',
    statusCode: 0,
    reason: '',
    headers: new Map(),
    headerBytes: head.length,
    contentLength: 0,
  };
  const req = REQUEST_LINE.exec(first);
  if (req) {
    m.isRequest = true;
    m.method = req[1];
    m.uri = req[2];
    m.version = req[3];
  } else {
    const st = STATUS_LINE.exec(first);
    if (st === null) return null;
    m.version = st[1];
    m.statusCode = Number(st[2]);
    m.reason = st[3];
  }
  for (let i = 1; i < lines.length; i++) {
    const c = lines[i].indexOf(':');
    if (c <= 0) continue;
    let name = lines[i].slice(0, c).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    const list = m.headers.get(name) ?? [];
    if (list.length < 32) list.push(lines[i].slice(c + 1).trim());
    m.headers.set(name, list);
  }
  const cl = Number(m.headers.get('content-length')?.[0] ?? '0');
  m.contentLength = Number.isFinite(cl) && cl >= 0 ? cl : 0;
  return m;
}

export const header = (m: SipMessage, name: string): string | undefined => m.headers.get(name)?.[0];

/** `"Alice" <sip:alice@example.com>;tag=12` → display name, URI, tag. */
export function nameAddr(value: string | undefined): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  const out: Record<string, unknown> = {};
  const angle = /^\s*(?:"([^"]*)"|([^<]*?))\s*<([^>]*)>(.*)$/.exec(value);
  let params: string;
  if (angle) {
    const display = (angle[1] ?? angle[2] ?? '').trim();
    if (display) out.display_info = display;
    out.uri = { original: angle[3] };
    params = angle[4];
  } else {
    const semi = value.indexOf(';');
    out.uri = { original: (semi < 0 ? value : value.slice(0, semi)).trim() };
    params = semi < 0 ? '' : value.slice(semi);
  }
  const tag = /;\s*tag=([^;\s]+)/i.exec(params);
  if (tag) out.tag = tag[1];
  return out;
}
