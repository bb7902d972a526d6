// Rewrites the block of default values in docs/config.md from the schema, so the doc cannot drift.
// Run: npx tsx scripts/gen-config-doc.ts   (test/config/config-doc.test.ts checks it is current)
import { readFileSync, writeFileSync } from 'node:fs';
import { defaultConfigBlock, replaceDefaultsBlock } from '../test/config/config-doc.js';

const path = 'docs/config.md';
writeFileSync(path, replaceDefaultsBlock(readFileSync(path, 'utf8'), defaultConfigBlock()));
console.log(`${path}: defaults block rewritten`);
