/**
 * Structural rules of the source tree, checked on every run: no import cycles among src/ modules
 * (type-only imports included: a cycle of types is still two modules that cannot be understood
 * apart), nothing under src/ imports tests, test support or benchmarks, and every "§" citation in
 * src/ and test/ names a heading that exists in a document of the repository.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const sourcesUnder = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => join(ROOT, dir, f));

/** Relative imports of a module (static, dynamic, re-exports), resolved to .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push(resolve(dirname(file), m[1]).replace(/\.js$/, '.ts'));
  }
  return out;
}

test('src/ has no import cycles', () => {
  const files = sourcesUnder('src');
  assert.ok(files.length > 50, 'the sources were found');
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((d) => d.endsWith('.ts'))]));
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'visiting') {
      const loop = path.slice(path.indexOf(f)).concat(f);
      cycles.push(loop.map((p) => relative(ROOT, p)).join(' → '));
      return;
    }
    state.set(f, 'visiting');
    for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  assert.deepEqual(cycles, []);
});

test('src/ never imports tests, test support or benchmarks (they are not shipped)', () => {
  const offenders: string[] = [];
  for (const f of sourcesUnder('src')) {
    for (const d of importsOf(f)) {
      const rel = relative(ROOT, d);
      if (rel.startsWith('test/') || rel.startsWith('bench/') || rel.startsWith('scripts/')) {
        offenders.push(`${relative(ROOT, f)} imports ${rel}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

/** Heading numbers ("6.2", "8.9") of a markdown document. */
function headingNumbers(doc: string): Set<string> {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s/gm)) out.add(m[1]);
  return out;
}

test('every § citation in src/ and test/ names an existing heading of a document in the repo', () => {
  const docs: Record<string, Set<string>> = {
    'metron-compat': headingNumbers('docs/metron-compat.md'),
    design: headingNumbers('docs/design.md'),
    'exactly-once': headingNumbers('docs/exactly-once.md'),
  };
  const files = [...sourcesUnder('src'), ...sourcesUnder('test')];
  const bad: string[] = [];
  let cited = 0;
  for (const f of files) {
    const lines = readFileSync(f, 'utf8').split('\n');
    lines.forEach((line, k) => {
      let previous: { doc: string; end: number } | null = null;
      for (const m of line.matchAll(/(?:([\w-]+)(?:\.md)?\s+)?§\s?(\d+(?:\.\d+)*)/g)) {
        cited++;
        const where = `${relative(ROOT, f)}:${k + 1}`;
        let doc = m[1] ?? '';
        // "metron-compat §3.2, §6.4": a bare § right after a citation belongs to the same document.
        const between = previous === null ? '' : line.slice(previous.end, m.index);
        if (previous !== null && /^\s*(,|and|or)\s*$/.test(between) && m[1] === undefined) doc = previous.doc;
        previous = { doc, end: (m.index ?? 0) + m[0].length };
        // RFC sections are external standards, cited as "RFC 5952 §4.2.2".
        if (/^\d+$/.test(doc) && /RFC\s+\d+\s+§/.test(line)) continue;
        if (!(doc in docs)) {
          bad.push(`${where}: '${m[0]}' does not name a document (write e.g. metron-compat §${m[2]})`);
        } else if (!docs[doc].has(m[2])) {
          bad.push(`${where}: docs/${doc}.md has no heading ${m[2]}`);
        }
      }
    });
  }
  assert.ok(cited > 20, 'the citations were found');
  assert.deepEqual(bad, []);
});
