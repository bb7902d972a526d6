// Corpus-layer throughput: `sbp prepare` on a synthetic JSONL beside the floor of just reading and
// parsing the same file (node:readline + JSON.parse), and man-page rendering with groff at
// concurrency 1 beside all cores. Prints one JSON object. Usage: npx tsx bench/prepare-throughput.ts [docs]
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PrepareConfigSchema } from '../src/config/schema.js';
import { prepareCorpus } from '../src/data/prepare-corpus.js';
import { openSource } from '../src/data/source-registry.js';
import { newSourceCounters } from '../src/data/source-context.js';

const docs = Number(process.argv[2] ?? 20000);
const dir = mkdtempSync(join(tmpdir(), 'sbp-bench-prepare-'));
try {
  // Documents of ~1,000 characters with some accents, CRLFs and 5% duplicates.
  const words = ['alpha', 'beta', 'gamma', 'caf\u00e9', 'delta', 'na\u00efve', 'epsilon', 'zeta', 'eta', 'theta'];
  const lines: string[] = [];
  let x = 1;
  for (let i = 0; i < docs; i++) {
    const n = i % 20 === 0 && i > 0 ? i - 1 : i;
    const parts: string[] = [`Document ${n}.`];
    x = n + 1;
    for (let w = 0; w < 150; w++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      parts.push(words[x % words.length]!);
      if (w % 40 === 39) parts.push('\r\n');
    }
    lines.push(JSON.stringify({ text: parts.join(' ') }));
  }
  const file = join(dir, 'bench.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  const mb = statSync(file).size / 1e6;

  let t0 = performance.now();
  let parsed = 0;
  for await (const line of createInterface({ input: createReadStream(file) })) if (line) parsed += (JSON.parse(line) as { text: string }).text.length > 0 ? 1 : 0;
  const peerSec = (performance.now() - t0) / 1000;

  const config = PrepareConfigSchema.parse({ sources: [{ kind: 'jsonl', path: file }], minChars: 10, docsPerShard: 5000 });
  t0 = performance.now();
  const r = await prepareCorpus({ runDir: join(dir, 'run'), config, quiet: true, warn: () => undefined });
  const prepareSec = (performance.now() - t0) / 1000;

  // Man pages: the first N pages of man2, rendered and streamed in order.
  const pages = 48;
  const manRate = async (concurrency: number): Promise<number> => {
    const ctx = { counters: newSourceCounters('manpages'), onMalformed: 'skip' as const, concurrency, warn: () => undefined };
    const t = performance.now();
    let n = 0;
    for await (const _ of openSource({ kind: 'manpages' }, ctx)) if (++n >= pages) break;
    return n / ((performance.now() - t) / 1000);
  };
  let man: Record<string, number | string>;
  try {
    const one = await manRate(1);
    const all = await manRate(availableParallelism());
    man = { pages, concurrency1PagesPerSec: +one.toFixed(1), [`concurrency${availableParallelism()}PagesPerSec`]: +all.toFixed(1), speedup: +(all / one).toFixed(2) };
  } catch (err) {
    man = { skipped: (err as Error).message };
  }

  console.log(
    JSON.stringify({
      bench: 'prepare-throughput',
      cores: availableParallelism(),
      jsonl: {
        docs,
        mb: +mb.toFixed(1),
        peer_readline_json_parse: { sec: +peerSec.toFixed(2), docsPerSec: Math.round(parsed / peerSec), mbPerSec: +(mb / peerSec).toFixed(1) },
        sbp_prepare: {
          sec: +prepareSec.toFixed(2),
          docsPerSec: Math.round(docs / prepareSec),
          mbPerSec: +(mb / prepareSec).toFixed(1),
          docsOut: r.stats.docsOut,
          duplicates: r.stats.drops.duplicate,
        },
        slowdownVsPeer: +(prepareSec / peerSec).toFixed(2),
      },
      manpages: man,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
