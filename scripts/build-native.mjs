// Builds the native addon. The first build (or a changed binding.gyp) configures from scratch;
// later builds are incremental (`node-gyp build` only recompiles changed sources), so `npm test`
// does not pay for a full C++ rebuild every time.
import { existsSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const configured = existsSync('build/Makefile') && existsSync('build/config.gypi');
const stale = configured && statSync('binding.gyp').mtimeMs > statSync('build/Makefile').mtimeMs;
const args = configured && !stale ? ['build'] : ['rebuild'];
const r = spawnSync('node-gyp', args, { stdio: 'inherit', shell: process.platform === 'win32' });
if (r.error) {
  console.error(`could not run node-gyp (${r.error.message}); it ships with npm — run the build through npm (npm ci / npm run build)`);
  process.exit(1);
}
process.exit(r.status ?? 1);
