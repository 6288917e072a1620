/** "did you mean …?" for names a user mistyped (variables, functions, options, configuration keys). */

/** Edit distance (insertions, deletions, substitutions), one row of memory. */
export function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, k) => k);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

export const suggest = (name: string, known: readonly string[]): string => {
  let best = '';
  let bestD = Infinity;
  for (const k of known) {
    const dist = levenshtein(name.toLowerCase(), k.toLowerCase());
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? `did you mean ${best}? ` : '';
};
