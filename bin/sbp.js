#!/usr/bin/env node
// The installed entry point: runs the compiled CLI (built by `npm ci` / `npm run build`).
import { main } from '../dist/src/cli/main.js';

main(process.argv).catch((err) => {
  console.error(err?.stack ?? String(err));
  process.exit(1);
});
