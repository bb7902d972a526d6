import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

/**
 * The sbp package's own folder: the nearest folder above this module holding package.json. The same
 * from src/ (tsx) and dist/src/ (built), and from an installed copy under node_modules/sbp; the
 * native addon, the presets in configs/ and the Python trainer in python/ are found from it.
 */
export function packageRoot(): string {
  if (root !== null) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`package.json not found above ${fileURLToPath(import.meta.url)}; the sbp package is incomplete`);
    dir = up;
  }
  root = dir;
  return dir;
}
