/** Small HTTP pieces shared by the routes: error bodies (fastify's shape), cookies, the user of a request. */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** fastify's own error body shape, so clients see one shape for every error. */
export function sendError(
  reply: FastifyReply,
  statusCode: number,
  message: string,
  extra: Record<string, unknown> = {},
) {
  const error =
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      413: 'Payload Too Large',
      429: 'Too Many Requests',
      503: 'Service Unavailable',
    }[statusCode] ?? 'Internal Server Error';
  return reply.code(statusCode).send({ statusCode, error, message, ...extra });
}

export const notFound = (reply: FastifyReply, what = 'no such job') => sendError(reply, 404, what);

/** One cookie's value from the Cookie header. */
export function cookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user (set by the auth hook on every /api/v1 route but login). */
    user: string;
    /** The session's CSRF token when the request came with the page's cookie, else null. */
    csrfToken: string | null;
  }
}
