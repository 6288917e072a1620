/**
 * TLS handshake messages read passively (RFC 8446 §4, RFC 5246 §7.4): ClientHello, ServerHello
 * and Certificate, the only ones sent in the clear (TLS 1.3 encrypts the certificate). Every read
 * is bounds-checked through a cursor that throws TlsParseError, which callers count.
 */
export class TlsParseError extends Error {}

class Cursor {
  constructor(
    readonly b: Uint8Array,
    public p: number,
    readonly end: number,
  ) {}
  need(n: number): void {
    if (this.p + n > this.end) throw new TlsParseError('truncated handshake message');
  }
  u8(): number {
    this.need(1);
    return this.b[this.p++];
  }
  u16(): number {
    this.need(2);
    const v = (this.b[this.p] << 8) | this.b[this.p + 1];
    this.p += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = (this.b[this.p] << 16) | (this.b[this.p + 1] << 8) | this.b[this.p + 2];
    this.p += 3;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return v;
  }
  sub(n: number): Cursor {
    this.need(n);
    const c = new Cursor(this.b, this.p, this.p + n);
    this.p += n;
    return c;
  }
  get left(): number {
    return this.end - this.p;
  }
}

export const EXT_SERVER_NAME = 0;
export const EXT_SUPPORTED_GROUPS = 10;
export const EXT_EC_POINT_FORMATS = 11;
export const EXT_SIGNATURE_ALGORITHMS = 13;
export const EXT_ALPN = 16;
export const EXT_SUPPORTED_VERSIONS = 43;
export const EXT_PRE_SHARED_KEY = 41;

/** GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa; fingerprints ignore them. */
export const isGrease = (v: number): boolean => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);

export interface ClientHello {
  legacyVersion: number;
  sessionId: Uint8Array;
  ciphers: number[];
  /** Extension types in the order sent. */
  extensions: number[];
  serverName: string | null;
  alpn: string[];
  supportedGroups: number[];
  ecPointFormats: number[];
  signatureAlgorithms: number[];
  supportedVersions: number[];
}

export interface ServerHello {
  legacyVersion: number;
  sessionId: Uint8Array;
  cipher: number;
  extensions: number[];
  alpn: string | null;
  /** From supported_versions (TLS 1.3), else null. */
  selectedVersion: number | null;
  pskAccepted: boolean;
}

function alpnList(c: Cursor): string[] {
  const out: string[] = [];
  const list = c.sub(c.u16());
  while (list.left > 0) out.push(Buffer.from(list.bytes(list.u8())).toString('latin1'));
  return out;
}

function u16List(c: Cursor, lenBytes: 1 | 2): number[] {
  const n = lenBytes === 1 ? c.u8() : c.u16();
  const l = c.sub(n);
  const out: number[] = [];
  while (l.left >= 2) out.push(l.u16());
  return out;
}

/** `body` is the ClientHello message body (after the 4-byte handshake header). */
export function parseClientHello(body: Uint8Array): ClientHello {
  const c = new Cursor(body, 0, body.length);
  const h: ClientHello = {
    legacyVersion: c.u16(),
    sessionId: new Uint8Array(0),
    ciphers: [],
    extensions: [],
    serverName: null,
    alpn: [],
    supportedGroups: [],
    ecPointFormats: [],
    signatureAlgorithms: [],
    supportedVersions: [],
  };
  c.bytes(32); // random
  h.sessionId = c.bytes(c.u8()).slice();
  const cs = c.sub(c.u16());
  while (cs.left >= 2) h.ciphers.push(cs.u16());
  c.bytes(c.u8()); // compression methods
  if (c.left < 2) return h;
  const exts = c.sub(c.u16());
  while (exts.left >= 4) {
    const type = exts.u16();
    const e = exts.sub(exts.u16());
    h.extensions.push(type);
    switch (type) {
      case EXT_SERVER_NAME: {
        const list = e.sub(e.u16());
        while (list.left >= 3) {
          const kind = list.u8();
          const name = list.bytes(list.u16());
          if (kind === 0 && h.serverName === null) h.serverName = Buffer.from(name).toString('latin1');
        }
        break;
      }
      case EXT_ALPN:
        h.alpn = alpnList(e);
        break;
      case EXT_SUPPORTED_GROUPS:
        h.supportedGroups = u16List(e, 2);
        break;
      case EXT_EC_POINT_FORMATS: {
        const l = e.sub(e.u8());
        while (l.left > 0) h.ecPointFormats.push(l.u8());
        break;
      }
      case EXT_SIGNATURE_ALGORITHMS:
        h.signatureAlgorithms = u16List(e, 2);
        break;
      case EXT_SUPPORTED_VERSIONS:
        h.supportedVersions = u16List(e, 1);
        break;
    }
  }
  return h;
}

export function parseServerHello(body: Uint8Array): ServerHello {
  const c = new Cursor(body, 0, body.length);
  const h: ServerHello = {
    legacyVersion: c.u16(),
    sessionId: new Uint8Array(0),
    cipher: 0,
    extensions: [],
    alpn: null,
    selectedVersion: null,
    pskAccepted: false,
  };
  c.bytes(32);
  h.sessionId = c.bytes(c.u8()).slice();
  h.cipher = c.u16();
  c.u8(); // compression
  if (c.left < 2) return h;
  const exts = c.sub(c.u16());
  while (exts.left >= 4) {
    const type = exts.u16();
    const e = exts.sub(exts.u16());
    h.extensions.push(type);
    if (type === EXT_ALPN) h.alpn = alpnList(e)[0] ?? null;
    else if (type === EXT_SUPPORTED_VERSIONS && e.left >= 2) h.selectedVersion = e.u16();
    else if (type === EXT_PRE_SHARED_KEY) h.pskAccepted = true;
  }
  return h;
}

/** The DER certificates of a TLS ≤ 1.2 Certificate message, leaf first. */
export function parseCertificateList(body: Uint8Array): Uint8Array[] {
  const c = new Cursor(body, 0, body.length);
  const list = c.sub(c.u24());
  const out: Uint8Array[] = [];
  while (list.left >= 3) out.push(list.bytes(list.u24()).slice());
  return out;
}
