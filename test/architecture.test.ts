// The layering in docs/architecture.md holds: every relative import in src/ points to a lower layer, or
// to a module of the same layer listed above it in the table; every folder of src/ is in the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { repoRoot } from './helpers.js';

export interface ModuleRow {
  name: string; // a folder of src/, or a file directly in src/ (index.ts)
  layer: number;
  order: number; // row index in the table
}

/** The module table of docs/architecture.md: rows of `| \`name\` | layer | owns |`. */
export function parseModuleTable(markdown: string): Map<string, ModuleRow> {
  const rows = new Map<string, ModuleRow>();
  for (const line of markdown.split('\n')) {
    const m = /^\| `([A-Za-z0-9._-]+)` \| (\d+) \|/.exec(line);
    if (!m) continue;
    if (rows.has(m[1]!)) throw new Error(`docs/architecture.md lists module ${m[1]} twice`);
    rows.set(m[1]!, { name: m[1]!, layer: Number(m[2]), order: rows.size });
  }
  return rows;
}

/** The relative module specifiers a TypeScript source imports or re-exports (static and dynamic). */
export function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'";]*?\sfrom\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of source.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

/** The module a path under src/ belongs to: its first folder, or the file itself when it lies in src/. */
function moduleOf(pathInSrc: string): string {
  const parts = pathInSrc.split('/');
  return parts.length === 1 ? parts[0]!.replace(/\.js$/, '.ts') : parts[0]!;
}

/** Every import that breaks the table, as "file: imports target (why)". `files` maps src-relative paths to source. */
export function layerViolations(files: ReadonlyMap<string, string>, table: ReadonlyMap<string, ModuleRow>): string[] {
  const problems: string[] = [];
  for (const [file, source] of files) {
    const from = table.get(moduleOf(file));
    if (!from) {
      problems.push(`${file}: module ${moduleOf(file)} is not in the table of docs/architecture.md`);
      continue;
    }
    for (const spec of importSpecifiers(source)) {
      if (!spec.startsWith('.')) continue; // packages and node: builtins
      const target = normalize(join(dirname(file), spec));
      if (target.startsWith('..')) {
        problems.push(`${file}: imports ${spec}, outside src/`);
        continue;
      }
      const toName = moduleOf(target);
      if (toName === from.name) continue;
      const to = table.get(toName);
      if (!to) problems.push(`${file}: imports ${spec} from module ${toName}, which is not in the table`);
      else if (to.layer > from.layer) problems.push(`${file}: imports ${spec} — ${toName} (layer ${to.layer}) is above ${from.name} (layer ${from.layer})`);
      else if (to.layer === from.layer && to.order > from.order) {
        problems.push(`${file}: imports ${spec} — ${toName} is listed below ${from.name} in its layer (${to.layer}); swap their rows or move the code`);
      }
    }
  }
  return problems;
}

function sourcesUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts')) out.set(relative(dir, p).split('\\').join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

const table = parseModuleTable(readFileSync(join(repoRoot, 'docs/architecture.md'), 'utf8'));

test('architecture: the module table is complete', () => {
  assert.ok(table.size >= 19, `parsed ${table.size} modules from docs/architecture.md`);
  for (const name of readdirSync(join(repoRoot, 'src'))) {
    const isDir = statSync(join(repoRoot, 'src', name)).isDirectory();
    if (isDir || name.endsWith('.ts')) assert.ok(table.has(name), `src/${name} is not in the module table of docs/architecture.md`);
  }
});

test('architecture: no import in src/ points up a layer or down the table inside a layer', () => {
  const files = sourcesUnder(join(repoRoot, 'src'));
  let relativeImports = 0;
  for (const source of files.values()) relativeImports += importSpecifiers(source).filter((s) => s.startsWith('.')).length;
  assert.ok(relativeImports > 500, `only ${relativeImports} relative imports found: the parser is broken`);
  assert.deepEqual(layerViolations(files, table), []);
});

test('architecture: the checker catches an upward import, a sideways one against the order, and an unknown module', () => {
  const files = new Map([
    ['report/run-snapshot.ts', "import type { SweepAlpha } from '../experiment/compute-matched-plan.js';"],
    ['sample/x.ts', "export { train } from '../train/trainer.js';"],
    ['engine/y.ts', "const m = await import('../model/llama.js');"],
    ['widgets/z.ts', "import { a } from '../common/errors.js';"],
    ['model/ok.ts', "import { UserError } from '../common/errors.js';\nimport { createHash } from 'node:crypto';\nimport { x } from './own.js';"],
  ]);
  const problems = layerViolations(files, table);
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems[0]!, /experiment \(layer 4\) is above report \(layer 3\)/);
  assert.match(problems[1]!, /train is listed below sample/);
  assert.match(problems[2]!, /model \(layer 2\) is above engine \(layer 1\)/);
  assert.match(problems[3]!, /module widgets is not in the table/);
});
