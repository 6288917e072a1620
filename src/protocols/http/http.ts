/**
 * HTTP/1.x (Packetbeat's protos/http): requests and responses of a connection are paired in
 * order (pipelining included) into one event each; a response with no request and requests left
 * when the connection ends are reported alone, noted "Unmatched response" / "Unmatched request"
 * (elastic/beats#6794). Fields follow Packetbeat's ECS mapping: `http.*`, `url.*`,
 * `user_agent.original`, `user.name` from Basic credentials (never the password).
 */
import { addNote, baseEvent } from '../events/event.js';
import type {
  AppEvent,
  Direction,
  GapResult,
  Packet,
  ProtocolContext,
  ProtocolDefinition,
  ProtocolPlugin,
  TcpConnection,
} from '../types.js';
import { type HttpMessage, HttpStreamParser, httpMessageStart } from './http-stream.js';

/** Requests held per connection waiting for responses (a client pipelining without answers is not unbounded). */
const MAX_PENDING_REQUESTS = 64;
const MAX_HEADER_BYTES = 64 * 1024;

interface HttpState {
  parsers: [HttpStreamParser, HttpStreamParser];
  requests: HttpMessage[];
  /** Methods of requests whose response has not started: a response to HEAD has no body. */
  methods: string[];
}

class HttpPlugin implements ProtocolPlugin {
  readonly name = 'http';

  constructor(private readonly ctx: ProtocolContext) {}

  readonly tcp = {
    parse: (pkt: Packet, conn: TcpConnection, dir: Direction, state: HttpState | undefined): HttpState => {
      const s = state ?? this.newState(conn);
      s.parsers[dir].feed(pkt.payload, pkt.tsNs, pkt.ref);
      return s;
    },
    receivedFin: (_conn: TcpConnection, dir: Direction, state: HttpState | undefined) => {
      state?.parsers[dir].fin();
      return state;
    },
    gapInStream: (
      _c: TcpConnection,
      dir: Direction,
      nbytes: number,
      state: HttpState | undefined,
    ): GapResult<HttpState> => {
      state?.parsers[dir].gap(nbytes);
      return { state, drop: false };
    },
    expired: (conn: TcpConnection, state: HttpState | undefined): void => {
      if (state === undefined) return;
      state.parsers[0].close();
      state.parsers[1].close();
      for (const req of state.requests.splice(0)) this.publish(conn, req, null);
    },
  };

  private newState(conn: TcpConnection): HttpState {
    const s = {} as HttpState;
    s.requests = [];
    s.methods = [];
    const onError = () => this.ctx.stats.parseErrors++;
    s.parsers = [
      new HttpStreamParser(
        true,
        MAX_HEADER_BYTES,
        this.ctx.memory,
        (m) => {
          if (s.requests.length >= MAX_PENDING_REQUESTS) this.publish(conn, s.requests.shift() as HttpMessage, null);
          s.requests.push(m);
          if (s.methods.length < MAX_PENDING_REQUESTS) s.methods.push(m.method);
        },
        () => undefined,
        onError,
      ),
      new HttpStreamParser(
        false,
        MAX_HEADER_BYTES,
        this.ctx.memory,
        (m) => {
          // 1xx responses are interim: the final response still answers the same request.
          if (m.statusCode >= 100 && m.statusCode < 200) return;
          s.methods.shift();
          this.publish(conn, s.requests.shift() ?? null, m);
        },
        () => s.methods[0],
        onError,
      ),
    ];
    return s;
  }

  private publish(conn: TcpConnection, req: HttpMessage | null, resp: HttpMessage | null): void {
    const first = (req ?? resp) as HttpMessage;
    const last = resp ?? first;
    const tuple = {
      ipVersion: conn.ipVersion,
      transport: 'tcp' as const,
      srcIp: conn.clientIp,
      dstIp: conn.serverIp,
      srcPort: conn.clientPort,
      dstPort: conn.serverPort,
    };
    const e = baseEvent(
      'http',
      {
        tuple,
        startNs: first.startNs,
        endNs: last.endNs,
        firstRef: first.firstRef,
        lastRef: last.lastRef,
        clientBytes: req ? req.headerBytes + req.bodyBytes : undefined,
        serverBytes: resp ? resp.headerBytes + resp.bodyBytes : undefined,
      },
      resp === null || resp.statusCode >= 400 ? 'Error' : 'OK',
    );
    const http: Record<string, unknown> = { version: first.version };
    if (req) {
      const request: Record<string, unknown> = {
        method: req.method,
        bytes: req.headerBytes + req.bodyBytes,
        body: { bytes: req.bodyBytes },
      };
      const referrer = req.headers.get('referer');
      if (referrer) request.referrer = referrer;
      const type = req.headers.get('content-type');
      if (type) request.mime_type = type.split(';')[0].trim();
      http.request = request;
      this.requestFields(e, req, conn);
    }
    if (resp) {
      const response: Record<string, unknown> = {
        status_code: resp.statusCode,
        status_phrase: resp.statusPhrase,
        bytes: resp.headerBytes + resp.bodyBytes,
        body: { bytes: resp.bodyBytes },
      };
      const type = resp.headers.get('content-type');
      if (type) response.mime_type = type.split(';')[0].trim();
      http.response = response;
    }
    e.http = http;
    if (req === null) {
      addNote(e, 'Unmatched response');
      this.ctx.stats.unmatched++;
    } else if (resp === null) {
      addNote(e, 'Unmatched request');
      this.ctx.stats.unmatched++;
    }
    if (req && req.gapBytes > 0) addNote(e, 'Packet loss while capturing the request');
    if (resp && resp.gapBytes > 0) addNote(e, 'Packet loss while capturing the response');
    this.ctx.report(e);
  }

  private requestFields(e: AppEvent, req: HttpMessage, conn: TcpConnection): void {
    const hostHeader = req.headers.get('host');
    const url: Record<string, unknown> = {};
    let domain: string | undefined;
    let port = conn.serverPort;
    if (hostHeader) {
      const h = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(hostHeader);
      domain = h?.[1] ?? hostHeader;
      if (h?.[2]) port = Number(h[2]);
    }
    const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(req.uri);
    let pathAndQuery = req.uri;
    if (absolute) {
      // a request to a proxy: the URI carries the scheme and host
      try {
        const u = new URL(req.uri);
        domain = u.hostname;
        if (u.port) port = Number(u.port);
        pathAndQuery = `${u.pathname}${u.search}`;
      } catch {
        /* keep the raw URI as the path */
      }
    }
    const q = pathAndQuery.indexOf('?');
    const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
    const query = q < 0 ? undefined : pathAndQuery.slice(q + 1);
    const host = domain ?? conn.serverIp;
    const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    url.scheme = 'http';
    url.full = `http://${hostPart}${port === 80 ? '' : `:${port}`}${pathAndQuery}`;
    if (domain) url.domain = domain;
    if (port !== 80) url.port = port;
    url.path = path;
    if (query !== undefined) url.query = query;
    e.url = url;
    e.method = req.method;
    e.query = `${req.method} ${path}`;
    const ua = req.headers.get('user-agent');
    if (ua) e.user_agent = { original: ua };
    const related = e.related as Record<string, unknown>;
    if (domain) {
      (e.destination as Record<string, unknown>).domain = domain;
      (e.server as Record<string, unknown>).domain = domain;
      related.hosts = [domain];
    }
    const auth = req.headers.get('authorization');
    if (auth && /^basic\s+/i.test(auth)) {
      const decoded = Buffer.from(auth.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
      const user = decoded.split(':')[0];
      if (user) {
        e.user = { name: user };
        related.user = [user];
      }
    }
  }
}

export const httpProtocol: ProtocolDefinition = {
  name: 'http',
  defaultPorts: [80, 8080, 8000, 5000, 8002],
  transports: ['tcp'],
  sniffTcp: httpMessageStart,
  create: (ctx) => new HttpPlugin(ctx),
};
