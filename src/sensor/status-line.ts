/**
 * The periodic one-line status on stderr that pycapa's pretty-print gave ("packets in/out"): a
 * counter set sampled every interval, with per-second rates for the counters that move.
 */

/** label → current value; `rate: true` adds "(N/s)" since the previous line. */
export interface StatusCounter {
  label: string;
  value: number;
  rate?: boolean;
}

export function formatStatus(
  name: string,
  counters: readonly StatusCounter[],
  previous: ReadonlyMap<string, number>,
  elapsedMs: number,
): string {
  const parts = counters.map((c) => {
    if (!c.rate || elapsedMs <= 0) return `${c.label} ${c.value}`;
    const per = ((c.value - (previous.get(c.label) ?? 0)) * 1000) / elapsedMs;
    return `${c.label} ${c.value} (${Math.round(per)}/s)`;
  });
  return `${name}: ${parts.join(', ')}`;
}

/** Writes a status line every `intervalMs` until the returned function is called (no-op when intervalMs <= 0). */
export function startStatusLine(
  name: string,
  intervalMs: number,
  sample: () => StatusCounter[],
  write: (line: string) => void = (line) => void process.stderr.write(`${line}\n`),
): () => void {
  if (!(intervalMs > 0)) return () => {};
  let previous = new Map<string, number>();
  let at = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    const counters = sample();
    write(formatStatus(name, counters, previous, now - at));
    previous = new Map(counters.map((c) => [c.label, c.value]));
    at = now;
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
