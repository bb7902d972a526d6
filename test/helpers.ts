import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

/** The repository root (the folder holding package.json), whether tests run from src or dist. */
export const repoRoot: string = (() => {
  let dir = resolve(process.cwd());
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the working directory');
    dir = up;
  }
  return dir;
})();

/** A fresh temporary folder removed when the process exits. */
const tempDirs: string[] = [];
let cleanupRegistered = false;

export function tempDir(prefix = 'sbp-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  if (!cleanupRegistered) {
    // One exit listener for all folders (one per call would trip MaxListeners in big test files).
    cleanupRegistered = true;
    process.on('exit', () => {
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

/** Runs the built CLI (`bin/sbp.js`) and returns its exit status and output. */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(repoRoot, 'bin/sbp.js'), ...args], {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 300_000,
  });
}
