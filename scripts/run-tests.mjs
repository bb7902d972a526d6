// Runs every compiled test file (dist/test/**/*.test.js) with node's built-in test runner.
// Usage: node scripts/run-tests.mjs [substring ...]  — only files whose path contains a substring.
// Tests under test/pystack/ need the Python stack (.venv, scripts/install-python-deps.sh): they run only
// when a substring selects them (`npm run test:pystack`), so the Node suite stands on its own.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const PYSTACK = join('dist', 'test', 'pystack');
const files = collect('dist/test')
  .filter((f) => (filters.length === 0 ? !f.startsWith(PYSTACK) : filters.some((s) => f.includes(s))))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/test — run `npm run build` first');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
