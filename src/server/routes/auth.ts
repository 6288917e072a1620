/**
 * Log in and out (the web page) and the authentication hook for every other /api/v1 route.
 * The page holds an HttpOnly, SameSite=Strict session cookie; requests that change something
 * with that cookie must also carry the session's CSRF token (X-CSRF-Token), which a page on
 * another origin cannot read. Scripts send a bearer token or HTTP Basic instead, and need neither.
 */
import type { FastifyInstance } from 'fastify';
import { Authenticator, SESSION_COOKIE } from '../auth/authenticator.js';
import { cookie, sendError } from '../http.js';

export interface AuthRouteOptions {
  auth: Authenticator;
  sessionHours: number;
  secureCookies: boolean;
  /** Routes under /api/v1 that need no credentials. */
  publicPaths: ReadonlySet<string>;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function authRoutes(app: FastifyInstance, o: AuthRouteOptions): void {
  const setCookie = (value: string, maxAgeS: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${o.secureCookies ? '; Secure' : ''}`;

  app.decorateRequest('user', '');
  app.decorateRequest('csrfToken', null);
  app.addHook('preHandler', async (request, reply) => {
    const path = request.url.split('?')[0];
    if (!path.startsWith('/api/') || o.publicPaths.has(path)) return;
    const result = await o.auth.authenticate(
      request.headers.authorization,
      cookie(request, SESSION_COOKIE),
      request.ip,
    );
    if ('error' in result) {
      if (result.error === 'throttled') return sendError(reply, 429, result.message);
      // No WWW-Authenticate: browsers would pop up their own Basic dialog over the page's login form.
      return sendError(reply, 401, result.message);
    }
    if (
      result.via === 'session' &&
      UNSAFE.has(request.method) &&
      !Authenticator.csrfMatches(result.session, header(request.headers['x-csrf-token']))
    )
      return sendError(reply, 403, 'missing or wrong X-CSRF-Token (reload the page)');
    request.user = result.user;
    request.csrfToken = result.via === 'session' ? result.session.csrf : null;
  });

  app.post('/api/v1/auth/login', async (request, reply) => {
    const body = request.body as { username?: unknown; password?: unknown } | undefined;
    if (!body || typeof body.username !== 'string' || typeof body.password !== 'string')
      return sendError(reply, 400, 'send {"username": ..., "password": ...}');
    if (body.username.length > 256 || body.password.length > 1024)
      return sendError(reply, 400, 'user name or password too long');
    const r = await o.auth.login(body.username, body.password, request.ip);
    if ('error' in r) return sendError(reply, r.error === 'throttled' ? 429 : 401, r.message);
    if (!('id' in r)) return sendError(reply, 401, 'wrong user name or password');
    reply.header('set-cookie', setCookie(r.id, Math.round(o.sessionHours * 3600)));
    return { user: r.session.user, csrfToken: r.session.csrf };
  });

  app.post('/api/v1/auth/logout', async (request, reply) => {
    o.auth.logout(cookie(request, SESSION_COOKIE));
    reply.header('set-cookie', setCookie('', 0));
    return { user: null };
  });

  app.get('/api/v1/auth/me', async (request) => ({ user: request.user, csrfToken: request.csrfToken }));
}

const header = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
