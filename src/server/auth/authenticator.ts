/**
 * Who is asking: a session cookie (the web page, after POST /api/v1/auth/login), a bearer token
 * from the configuration (scripts), or HTTP Basic with a configured user's password (Metron's REST
 * clients). Every API route but login needs one of them; the user it yields owns the jobs it submits.
 *
 * Sessions live in memory (a restart logs everyone out). Passwords are checked with scrypt, which
 * is slow on purpose, so a Basic credential that verified is remembered for a few minutes under a
 * keyed hash (a poll loop must not cost 50 ms of CPU per request), and repeated failures from one
 * address are refused for a while.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerConfig } from '../config.js';
import { verifyPassword } from './passwords.js';

export const SESSION_COOKIE = 'pcapline_session';

export interface Session {
  user: string;
  expires: number;
  /** Sent by the page in X-CSRF-Token with every request that changes something. */
  csrf: string;
}

export type AuthResult =
  | { user: string; via: 'session'; session: Session }
  | { user: string; via: 'token' | 'basic' }
  | { error: 'unauthenticated' | 'throttled'; message: string };

const FAILURE_WINDOW_MS = 10 * 60_000;
const MAX_FAILURES = 20;
const BASIC_CACHE_MS = 5 * 60_000;
const MAX_SESSIONS = 10_000;

export class Authenticator {
  private readonly passwords = new Map<string, string>();
  private readonly tokens = new Map<string, string>();
  private readonly sessions = new Map<string, Session>();
  private readonly basicCache = new Map<string, { user: string; until: number }>();
  private readonly failures = new Map<string, { count: number; since: number }>();
  /** Keys the Basic cache, so a memory dump does not hold password hashes that are cheap to attack. */
  private readonly secret = randomBytes(32);

  constructor(private readonly config: Pick<ServerConfig, 'users' | 'tokens' | 'sessionHours'>) {
    for (const u of config.users) if (u.password) this.passwords.set(u.name, u.password);
    for (const t of config.tokens) this.tokens.set(t.sha256, t.user);
  }

  /** True when no user or token is configured (the server refuses to start that way). */
  get empty(): boolean {
    return this.passwords.size === 0 && this.tokens.size === 0;
  }

  async login(user: string, password: string, from: string): Promise<{ id: string; session: Session } | AuthResult> {
    if (this.throttled(from)) return throttledResult();
    const stored = this.passwords.get(user);
    // Unknown users cost a scrypt too, so timing does not tell which names exist.
    const ok = await verifyPassword(password, stored ?? DUMMY_HASH);
    if (!ok || stored === undefined) {
      this.fail(from);
      return { error: 'unauthenticated', message: 'wrong user name or password' };
    }
    this.failures.delete(from);
    if (this.sessions.size >= MAX_SESSIONS) this.sweep();
    const id = randomBytes(32).toString('base64url');
    const session: Session = {
      user,
      expires: Date.now() + this.config.sessionHours * 3_600_000,
      csrf: randomBytes(18).toString('base64url'),
    };
    this.sessions.set(id, session);
    return { id, session };
  }

  logout(sessionId: string | undefined): void {
    if (sessionId) this.sessions.delete(sessionId);
  }

  /** Resolves the request's credentials: Authorization (Bearer or Basic) first, then the session cookie. */
  async authenticate(
    authorization: string | undefined,
    sessionId: string | undefined,
    from: string,
  ): Promise<AuthResult> {
    if (authorization) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (bearer) {
        const user = this.tokens.get(createHash('sha256').update(bearer[1]).digest('hex'));
        if (user !== undefined) return { user, via: 'token' };
        if (this.throttled(from)) return throttledResult();
        this.fail(from);
        return { error: 'unauthenticated', message: 'unknown bearer token' };
      }
      const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
      if (basic) return this.basic(Buffer.from(basic[1], 'base64').toString('utf8'), from);
      return { error: 'unauthenticated', message: 'Authorization must be Bearer <token> or Basic <user:password>' };
    }
    if (sessionId) {
      const s = this.sessions.get(sessionId);
      if (s && s.expires > Date.now()) return { user: s.user, via: 'session', session: s };
      if (s) this.sessions.delete(sessionId);
      return { error: 'unauthenticated', message: 'the session has expired; log in again' };
    }
    return { error: 'unauthenticated', message: 'log in, or send Authorization: Bearer <token> or Basic' };
  }

  /** Constant-time check of the page's CSRF header against its session. */
  static csrfMatches(session: Session, header: string | undefined): boolean {
    if (!header) return false;
    const a = Buffer.from(session.csrf);
    const b = Buffer.from(header);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async basic(decoded: string, from: string): Promise<AuthResult> {
    const colon = decoded.indexOf(':');
    if (colon < 0) return { error: 'unauthenticated', message: 'Basic credentials must be user:password' };
    const user = decoded.slice(0, colon);
    const cacheKey = createHmac('sha256', this.secret).update(decoded).digest('base64');
    const cached = this.basicCache.get(cacheKey);
    if (cached && cached.until > Date.now()) return { user: cached.user, via: 'basic' };
    if (this.throttled(from)) return throttledResult();
    const stored = this.passwords.get(user);
    const ok = await verifyPassword(decoded.slice(colon + 1), stored ?? DUMMY_HASH);
    if (!ok || stored === undefined) {
      this.fail(from);
      return { error: 'unauthenticated', message: 'wrong user name or password' };
    }
    if (this.basicCache.size > MAX_SESSIONS) this.basicCache.clear();
    this.basicCache.set(cacheKey, { user, until: Date.now() + BASIC_CACHE_MS });
    return { user, via: 'basic' };
  }

  private throttled(from: string): boolean {
    const f = this.failures.get(from);
    if (!f) return false;
    if (Date.now() - f.since > FAILURE_WINDOW_MS) {
      this.failures.delete(from);
      return false;
    }
    return f.count >= MAX_FAILURES;
  }

  private fail(from: string): void {
    const f = this.failures.get(from);
    if (!f || Date.now() - f.since > FAILURE_WINDOW_MS) {
      if (this.failures.size > MAX_SESSIONS) this.failures.clear();
      this.failures.set(from, { count: 1, since: Date.now() });
    } else f.count++;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (s.expires <= now) this.sessions.delete(id);
  }
}

const throttledResult = (): AuthResult => ({
  error: 'throttled',
  message: `too many failed logins from this address; try again in ${FAILURE_WINDOW_MS / 60_000} minutes`,
});

/** A valid hash of a random password: verifying against it takes as long as a real check and always fails. */
const DUMMY_HASH = `scrypt$16384$8$1$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`;
