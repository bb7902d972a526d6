import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserError } from '../../common/errors.js';

/**
 * Built-in corpora are packages the user installs by name. When one is missing, the error says
 * exactly which command installs it; a custom location (the source's `path`) replaces the default.
 */
export class SourceNotInstalledError extends UserError {
  constructor(source: string, missing: string, installCommand: string, pathHint = true) {
    super(
      `source "${source}" is not installed: ${missing} not found. Install it with: ${installCommand}` +
        (pathHint ? ` (or point the source at another copy with { kind: "${source}", path: ... })` : ''),
    );
    this.name = 'SourceNotInstalledError';
  }
}

/** The folder of an npm package, resolved from the working directory first, then from sbp itself. */
export function npmPackageDir(source: string, pkg: string, override?: string): string {
  if (override !== undefined) {
    if (!existsSync(join(override, 'package.json'))) throw new SourceNotInstalledError(source, join(override, 'package.json'), `npm i ${pkg}`);
    return override;
  }
  for (const base of [join(process.cwd(), 'package.json'), import.meta.url]) {
    try {
      return dirname(createRequire(base).resolve(`${pkg}/package.json`));
    } catch {
      // not resolvable from this base; try the next one
    }
  }
  throw new SourceNotInstalledError(source, `npm package ${pkg}`, `npm i ${pkg}`, false);
}

/** Checks that a file a Debian-packaged source reads exists. */
export function requireDebianFile(source: string, path: string, debPackage: string): void {
  if (!existsSync(path)) throw new SourceNotInstalledError(source, path, `sudo apt-get install ${debPackage}`);
}
