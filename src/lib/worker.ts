import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * The module `name` beside `base` (an `import.meta.url`): `.ts` when running from source, `.js`
 * when compiled.
 */
export const siblingModule = (base: string, name: string): URL =>
  new URL(`./${name}.${base.endsWith('.ts') ? 'ts' : 'js'}`, base);

/**
 * Starts a worker thread on `entry`. Running from source (tests, tsx) the worker registers tsx
 * before it loads the TypeScript entry; compiled, it loads the entry directly.
 */
export function startWorker(entry: URL, options: WorkerOptions): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return new Worker(`import(${tsx}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); })`, {
    ...options,
    eval: true,
  });
}
