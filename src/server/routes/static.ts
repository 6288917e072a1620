/**
 * The web page: a fixed list of files from src/server/web (copied to dist/server/web by the build),
 * read once at start. Nothing from the URL is used as a path.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

export const WEB_FILES = ['index.html', 'app.js', 'api.js', 'pcap.js', 'views.js', 'style.css', 'favicon.svg'] as const;

export function staticRoutes(app: FastifyInstance, webDir: URL): void {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of WEB_FILES) {
    files.set(name, { body: readFileSync(new URL(name, webDir)), type: TYPES[name.slice(name.lastIndexOf('.') + 1)] });
  }
  const send = (name: string) => {
    const f = files.get(name)!;
    return async (_req: unknown, reply: import('fastify').FastifyReply) =>
      reply.type(f.type).header('cache-control', 'no-cache').send(f.body);
  };
  app.get('/', send('index.html'));
  for (const name of WEB_FILES) if (name !== 'index.html') app.get(`/static/${name}`, send(name));
}
