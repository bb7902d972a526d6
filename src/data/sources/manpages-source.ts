import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Document } from '../document.js';
import { listFiles } from '../list-files.js';
import { reportMalformed } from '../malformed.js';
import { mapOrdered } from '../ordered-map.js';
import type { SourceContext } from '../source-context.js';
import { decodeUtf8 } from '../utf8.js';
import { SourceNotInstalledError } from './installed.js';

export const MAN_DEFAULT_DIR = '/usr/share/man';
/** Sections shipped by Debian `manpages-dev`: system calls (2) and library functions (3). */
export const MAN_SECTIONS = ['2', '3'];

export interface ManpagesSourceOptions {
  /** The man tree holding man2/ and man3/. */
  path?: string;
  /** The groff executable (a path, or a name looked up on PATH). */
  groff?: string;
}

// -man: the man macros; -t: tables (many pages use tbl); -Tutf8: terminal text; -P-cbou: no SGR
// colour escapes and no overstrike for bold/underline, so the output is plain characters.
// -rHY=0 turns hyphenation off so words are not split across lines.
const GROFF_ARGS = ['-man', '-t', '-Tutf8', '-P-cbou', '-rHY=0'];
// Left-aligned lines instead of justified ones: justification pads words with extra spaces.
const ROFF_PRELUDE = Buffer.from('.ad l\n');

/**
 * Linux man pages, sections 2 and 3 (Debian `manpages-dev`), rendered to text with groff, one
 * document per page. Alias pages (symbolic links and `.so` redirects) are skipped and counted;
 * renders run with bounded concurrency and come out in sorted file order.
 */
export async function* manpagesSource(opts: ManpagesSourceOptions, ctx: SourceContext): AsyncGenerator<Document> {
  const root = opts.path ?? MAN_DEFAULT_DIR;
  const groff = opts.groff ?? 'groff';
  const sentinel = join(root, 'man2', 'open.2.gz');
  if (!existsSync(sentinel)) throw new SourceNotInstalledError('manpages', sentinel, 'sudo apt-get install manpages-dev');
  const probe = spawnSync(groff, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new SourceNotInstalledError('manpages', `the groff program (${groff})`, 'sudo apt-get install groff-base', false);

  const pages: string[] = [];
  for (const section of MAN_SECTIONS) {
    const dir = join(root, `man${section}`);
    if (!existsSync(dir)) continue;
    for (const f of listFiles(dir, (name) => /\.\d\w*(\.gz)?$/.test(name))) pages.push(`man${section}/${f}`);
  }

  const rendered = mapOrdered(pages, ctx.concurrency, async (rel) => {
    let source: Uint8Array = await readFile(join(root, rel));
    if (rel.endsWith('.gz')) source = gunzipSync(source);
    const { text: roff, repaired } = decodeUtf8(source);
    if (/^\.so\s/.test(roff.trimStart())) return { rel, alias: true as const };
    const out = await renderMan(groff, source);
    return { rel, alias: false as const, repaired, ...out };
  });
  for await (const page of rendered) {
    if (page.alias) {
      ctx.counters.skippedFiles['man-alias'] = (ctx.counters.skippedFiles['man-alias'] ?? 0) + 1;
      continue;
    }
    if (page.code !== 0) {
      reportMalformed(ctx, join(root, page.rel), `groff exited with ${page.code}: ${page.stderr.trim().split('\n')[0] ?? ''}`);
      continue;
    }
    const { text, repaired } = decodeUtf8(page.stdout);
    if (repaired || page.repaired) ctx.counters.invalidUtf8Repaired++;
    const name = page.rel.replace(/^man\w+\//, '').replace(/\.gz$/, '');
    yield { id: `man:${name}`, text: stripRunningHeaders(text), meta: { source: 'manpages', page: name, section: page.rel.slice(3, 4) } };
  }
}

function renderMan(groff: string, roff: Uint8Array): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(groff, GROFF_ARGS, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, GROFF_NO_SGR: '1' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => undefined); // groff may exit before reading all input; 'close' reports it
    child.stdin.end(Buffer.concat([ROFF_PRELUDE, roff]));
  });
}

/** Drops the page's running header ("open(2)  System Calls Manual  open(2)") and footer lines. */
export function stripRunningHeaders(page: string): string {
  const lines = page.split('\n');
  let first = 0;
  while (first < lines.length && lines[first]!.trim() === '') first++;
  let last = lines.length - 1;
  while (last > first && lines[last]!.trim() === '') last--;
  if (last - first < 2) return page;
  return lines.slice(first + 1, last).join('\n');
}
