/**
 * A passive HTTP/1.x message parser for one direction of a connection: it is fed reassembled
 * payload in arbitrary pieces and reports each complete message (start line, the headers we
 * use, header and body sizes, first and last packet). Bodies are counted, never kept, so memory
 * per connection is the header block at most (capped). Framing per RFC 9112 §6: chunked,
 * Content-Length, none for requests without either, until close for responses without either;
 * no body for responses to HEAD, 1xx, 204 and 304. After garbage or a gap inside a header block
 * it resynchronises on the next segment that starts like a message.
 */
import { StreamBuffer } from '../memory.js';
import type { PacketRef } from '../types.js';

export interface HttpMessage {
  isRequest: boolean;
  method: string;
  uri: string;
  version: string;
  statusCode: number;
  statusPhrase: string;
  /** Lower-cased names; the last value wins for repeated headers. */
  headers: Map<string, string>;
  headerBytes: number;
  bodyBytes: number;
  startNs: bigint;
  endNs: bigint;
  firstRef: PacketRef;
  lastRef: PacketRef;
  /** Bytes of the message lost in a capture gap. */
  gapBytes: number;
}

type Mode = 'headers' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'resync';

export const HTTP_METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'CONNECT',
  'TRACE',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'REPORT',
  'SEARCH',
];
const METHOD_PREFIXES = HTTP_METHODS.map((m) => Buffer.from(`${m} `, 'latin1'));
const RESPONSE_PREFIX = Buffer.from('HTTP/1.', 'latin1');

function startsWith(b: Uint8Array, prefix: Uint8Array): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

/** 0 when `b` starts like a request, 1 like a response, null otherwise (content dispatch and resync). */
export function httpMessageStart(b: Uint8Array): 0 | 1 | null {
  if (startsWith(b, RESPONSE_PREFIX)) return 1;
  for (const p of METHOD_PREFIXES) if (startsWith(b, p)) return 0;
  return null;
}

const MAX_LINE = 4096;

export class HttpStreamParser {
  private mode: Mode = 'headers';
  private readonly head: StreamBuffer;
  private msg: HttpMessage | null = null;
  private remaining = 0;
  private line = '';

  constructor(
    private readonly isRequestSide: boolean,
    maxHeaderBytes: number,
    budget: import('../memory.js').ByteBudget,
    private readonly onMessage: (m: HttpMessage) => void,
    /** For responses: the method of the request this response answers (HEAD has no body). */
    private readonly requestMethod: () => string | undefined,
    private readonly onError: () => void,
  ) {
    this.head = new StreamBuffer(budget, maxHeaderBytes);
  }

  feed(data: Uint8Array, tsNs: bigint, ref: PacketRef): void {
    let p = 0;
    if (this.mode === 'resync') {
      if (httpMessageStart(data) === null) return;
      this.mode = 'headers';
    }
    while (p < data.length) {
      if (this.msg !== null) {
        this.msg.endNs = tsNs;
        this.msg.lastRef = ref;
      }
      switch (this.mode) {
        case 'headers':
          p = this.headers(data, p, tsNs, ref);
          break;
        case 'length': {
          const n = Math.min(this.remaining, data.length - p);
          this.body(n);
          p += n;
          this.remaining -= n;
          if (this.remaining === 0) this.complete();
          break;
        }
        case 'close':
          this.body(data.length - p);
          p = data.length;
          break;
        case 'chunk-size':
        case 'trailers':
        case 'chunk-crlf':
          p = this.chunkLine(data, p);
          break;
        case 'chunk-data': {
          const n = Math.min(this.remaining, data.length - p);
          this.body(n);
          p += n;
          this.remaining -= n;
          if (this.remaining === 0) this.mode = 'chunk-crlf';
          break;
        }
        default:
          return; // resync: wait for the next segment that starts a message
      }
    }
  }

  /** Bytes lost: inside a body of known size they are counted and the message goes on; elsewhere we resync. */
  gap(nbytes: number): void {
    if (this.msg !== null && (this.mode === 'length' || this.mode === 'chunk-data') && nbytes <= this.remaining) {
      this.msg.gapBytes += nbytes;
      this.msg.bodyBytes += nbytes;
      this.remaining -= nbytes;
      if (this.remaining === 0) {
        if (this.mode === 'length') this.complete();
        else this.mode = 'chunk-crlf';
      }
      return;
    }
    if (this.msg !== null && this.mode === 'close') {
      this.msg.gapBytes += nbytes;
      return;
    }
    this.reset('resync');
  }

  /** The sender closed: a body delimited by the close is complete now. */
  fin(): void {
    if (this.mode === 'close' && this.msg !== null) this.complete();
    else this.reset('headers');
  }

  /** Connection gone: nothing more will come. */
  close(): void {
    this.fin();
    this.head.clear();
  }

  get inMessage(): boolean {
    return this.msg !== null || this.head.length > 0;
  }

  private body(n: number): void {
    if (this.msg !== null) this.msg.bodyBytes += n;
  }

  private headers(data: Uint8Array, p: number, tsNs: bigint, ref: PacketRef): number {
    if (this.head.length === 0) {
      // skip the empty lines some clients send between messages (RFC 9112 §2.2)
      while (p < data.length && (data[p] === 13 || data[p] === 10)) p++;
      if (p === data.length) return p;
      this.msgStart = tsNs;
      this.msgRef = ref;
    }
    const before = this.head.length;
    if (!this.head.append(data.subarray(p))) {
      this.onError();
      this.reset('resync');
      return data.length;
    }
    const v = this.head.view();
    const end = findHeaderEnd(v, Math.max(0, before - 3));
    if (end < 0) return data.length;
    const consumed = end - before; // bytes of `data` (from p) that belong to the header block
    const block = Buffer.from(v.buffer, v.byteOffset, end).toString('latin1');
    this.head.consume(v.length);
    this.head.clear();
    if (!this.parseHead(block, end, tsNs, ref)) {
      this.onError();
      this.reset('resync');
      return data.length;
    }
    return p + consumed;
  }

  private msgStart = 0n;
  private msgRef: PacketRef = { index: -1, position: -1, partition: -1 };

  private parseHead(block: string, size: number, tsNs: bigint, ref: PacketRef): boolean {
    const lines = block.split(/\r?\n/);
    const start = lines[0];
    const m: HttpMessage = {
      isRequest: this.isRequestSide,
      method: '',
      uri: '',
      version: '',
      statusCode: 0,
      statusPhrase: '',
      headers: new Map(),
      headerBytes: size,
      bodyBytes: 0,
      startNs: this.msgStart,
      endNs: tsNs,
      firstRef: this.msgRef,
      lastRef: ref,
      gapBytes: 0,
    };
    if (this.isRequestSide) {
      const r = /^([A-Z][A-Z-]{0,31}) (\S+) HTTP\/(\d\.\d)$/.exec(start);
      if (r === null) return false;
      m.method = r[1];
      m.uri = r[2];
      m.version = r[3];
    } else {
      const r = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(start);
      if (r === null) return false;
      m.version = r[1];
      m.statusCode = Number(r[2]);
      m.statusPhrase = r[3] ?? '';
    }
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      if (line === '') continue;
      const c = line.indexOf(':');
      if (c <= 0) continue;
      m.headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
    }
    this.msg = m;
    const te = m.headers.get('transfer-encoding');
    const cl = m.headers.get('content-length');
    const noBody =
      !this.isRequestSide &&
      ((m.statusCode >= 100 && m.statusCode < 200) ||
        m.statusCode === 204 ||
        m.statusCode === 304 ||
        this.requestMethod() === 'HEAD');
    if (noBody) this.complete();
    else if (te !== undefined && /chunked\s*$/i.test(te)) this.mode = 'chunk-size';
    else if (cl !== undefined && /^\d{1,15}$/.test(cl)) {
      this.remaining = Number(cl);
      if (this.remaining === 0) this.complete();
      else this.mode = 'length';
    } else if (this.isRequestSide) this.complete();
    else this.mode = 'close';
    return true;
  }

  /** Chunk-size lines, the CRLF after chunk data, and trailers: small lines collected across segments. */
  private chunkLine(data: Uint8Array, p: number): number {
    const nl = data.indexOf(10, p);
    const stop = nl < 0 ? data.length : nl + 1;
    this.line += Buffer.from(data.buffer, data.byteOffset + p, stop - p).toString('latin1');
    if (this.msg) this.msg.bodyBytes += stop - p;
    if (this.line.length > MAX_LINE) {
      this.onError();
      this.reset('resync');
      return data.length;
    }
    if (nl < 0) return stop;
    const text = this.line.trim();
    this.line = '';
    if (this.mode === 'chunk-crlf') {
      this.mode = 'chunk-size';
      if (text !== '') {
        this.onError();
        this.reset('resync');
        return data.length;
      }
    } else if (this.mode === 'chunk-size') {
      const size = Number.parseInt(text.split(';')[0], 16);
      if (!Number.isFinite(size) || size < 0 || !/^[0-9a-fA-F]+/.test(text)) {
        this.onError();
        this.reset('resync');
        return data.length;
      }
      if (size === 0) this.mode = 'trailers';
      else {
        this.remaining = size;
        this.mode = 'chunk-data';
      }
    } else if (text === '') this.complete(); // end of trailers
    return stop;
  }

  private complete(): void {
    const m = this.msg;
    this.reset('headers');
    if (m !== null) this.onMessage(m);
  }

  private reset(mode: Mode): void {
    this.msg = null;
    this.mode = mode;
    this.remaining = 0;
    this.line = '';
    this.head.clear();
  }
}

/** Index just past the blank line ending a header block (CRLFCRLF or LFLF), or -1. */
function findHeaderEnd(b: Uint8Array, from: number): number {
  for (let i = from; i < b.length; i++) {
    if (b[i] !== 10) continue;
    if (i + 1 < b.length && b[i + 1] === 10) return i + 2;
    if (i + 2 < b.length && b[i + 1] === 13 && b[i + 2] === 10) return i + 3;
  }
  return -1;
}
