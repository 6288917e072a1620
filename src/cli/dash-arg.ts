/**
 * `-i -` as `-i=-` (also `-o -`): with short-option-groups off, yargs takes a lone '-' for a positional and
 * leaves the option empty.
 */
export function stdinDash(argv: readonly string[], options: readonly string[]): string[] {
  const out: string[] = [];
  for (let k = 0; k < argv.length; k++) {
    if (options.includes(argv[k]) && argv[k + 1] === '-') {
      out.push(`${argv[k]}=-`);
      k++;
    } else out.push(argv[k]);
  }
  return out;
}
