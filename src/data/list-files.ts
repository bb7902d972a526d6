import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/**
 * Every regular file under `root` (recursively) whose name passes `accept`, as relative paths with
 * '/' separators, sorted by code unit order so the stream order is the same on every machine.
 * Symbolic links are not followed (Debian doc trees use them for aliases).
 */
export function listFiles(root: string, accept: (name: string) => boolean, onSkip?: (rel: string, reason: 'dangling-symlink' | 'symlink') => void): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && accept(entry.name)) out.push(relative(root, full).split(sep).join('/'));
      else if (entry.isSymbolicLink() && onSkip && accept(entry.name)) onSkip(relative(root, full).split(sep).join('/'), existsSync(full) ? 'symlink' : 'dangling-symlink');
    }
  };
  walk(root);
  return out.sort(compareCodeUnits);
}

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Size and modification time of each file: a cheap fingerprint of a source's inputs for the stage hash. */
export function fileFingerprints(root: string, files: string[]): Array<[string, number, number]> {
  return files.map((f) => {
    const st = statSync(join(root, f));
    return [f, st.size, Math.floor(st.mtimeMs)];
  });
}
