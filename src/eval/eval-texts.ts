import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { hashValue } from '../common/hash.js';
import { readCorpusDocs, listCorpusShards } from '../data/corpus-reader.js';
import type { CorpusSplit } from '../data/document.js';
import { normalizeText } from '../data/normalize.js';
import { newSourceCounters } from '../data/source-context.js';
import { describeSource, openSource, parseSourceSpec, sourceFingerprint } from '../data/source-registry.js';
import { inputHash, readManifest, stageDir } from '../stage/stage.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { TokenDataset, listTokenShards } from '../tokens/token-dataset.js';

/** Documents of an evaluation set, as text: every model tokenizes them with its own tokenizer. */
export interface EvalTexts {
  source: string; // where they came from, for results.json
  inputHash: string; // identity for the stage contract
  docs: { id: string; text: string }[];
}

/**
 * The run's held-out split: `corpus/heldout-*.jsonl` when the corpus stage has run, else the
 * `tokens/heldout-*.tok` shards decoded with the run's tokenizer (exact for byte-level BPE).
 */
export async function heldoutTexts(runDir: string, maxDocs: number): Promise<EvalTexts> {
  const corpusDir = stageDir(runDir, 'corpus');
  if (readManifest(runDir, 'corpus')) {
    if (listCorpusShards(corpusDir, 'heldout').length === 0) throw noHeldout(corpusDir);
    const docs = await readCorpusTexts(corpusDir, ['heldout'], maxDocs);
    if (docs.length === 0) throw noHeldout(corpusDir);
    return { source: `${corpusDir} (heldout)`, inputHash: inputHash(runDir, 'corpus', 'sbp prepare'), docs };
  }
  const tokensDir = stageDir(runDir, 'tokens');
  const tokenizerPath = join(stageDir(runDir, 'tokenizer'), 'tokenizer.json');
  if (readManifest(runDir, 'tokens') && listTokenShards(tokensDir, 'heldout').length > 0 && existsSync(tokenizerPath)) {
    const tok = Tokenizer.load(tokenizerPath);
    const ds = TokenDataset.open(tokensDir, 'heldout');
    try {
      const docs: { id: string; text: string }[] = [];
      for (let i = 0; i < ds.numDocs && docs.length < maxDocs; i++) docs.push({ id: ds.docId(i), text: tok.decode(ds.doc(i)) });
      if (docs.length === 0) throw noHeldout(tokensDir);
      return { source: `${tokensDir} (heldout, decoded)`, inputHash: inputHash(runDir, 'tokens', 'sbp tokenize'), docs };
    } finally {
      ds.close();
    }
  }
  throw new UserError(`${runDir}: no held-out data (neither corpus/heldout-*.jsonl nor tokens/heldout-*.tok); run \`sbp prepare\` first, or set eval.heldout=false and eval.cloze.passages=0`);
}

function noHeldout(dir: string): UserError {
  return new UserError(`${dir}: the held-out split holds no documents; set prepare.heldOutFraction > 0 and rerun \`sbp prepare --force\`, or set eval.heldout=false and eval.cloze.passages=0`);
}

async function readCorpusTexts(dir: string, splits: CorpusSplit[], maxDocs: number): Promise<{ id: string; text: string }[]> {
  const docs: { id: string; text: string }[] = [];
  for (const split of splits) {
    for await (const d of readCorpusDocs(dir, split)) {
      if (docs.length >= maxDocs) return docs;
      docs.push({ id: d.id, text: d.text });
    }
  }
  return docs;
}

/**
 * Another corpus for perplexity (e.g. Brown as out-of-domain text): `corpus:<folder>[#train|#heldout]`
 * reads a prepared corpus folder (both splits unless one is named); anything else is a source spec as
 * `sbp prepare --source` takes it (`brown`, `jsonl:file.jsonl`, `text-dir:notes/`), normalised as
 * prepare normalises text. The first `maxDocs` non-empty documents are used.
 */
export async function sourceTexts(spec: string, maxDocs: number, warn: (line: string) => void = () => {}): Promise<EvalTexts> {
  if (spec.startsWith('corpus:')) {
    const [dir, split] = spec.slice('corpus:'.length).split('#') as [string, string | undefined];
    if (split !== undefined && split !== 'train' && split !== 'heldout') throw new UserError(`eval.sets source ${spec}: the split after # must be "train" or "heldout"`);
    if (!existsSync(dir)) throw new UserError(`eval.sets source ${spec}: ${dir} does not exist; give a corpus folder written by \`sbp prepare\``);
    const splits: CorpusSplit[] = split ? [split] : ['train', 'heldout'];
    const shards = splits.flatMap((s) => listCorpusShards(dir, s));
    if (shards.length === 0) throw new UserError(`eval.sets source ${spec}: ${dir} holds no ${splits.join('/')}-*.jsonl corpus shards`);
    const manifest = join(dir, 'manifest.json');
    const identity = existsSync(manifest) ? readFileSync(manifest, 'utf8') : shards.map((p) => [p, statSync(p).size, statSync(p).mtimeMs]);
    const docs = await readCorpusTexts(dir, splits, maxDocs);
    return { source: spec, inputHash: hashValue({ spec, identity }), docs };
  }
  const src = parseSourceSpec(spec);
  const ctx = { counters: newSourceCounters(describeSource(src)), onMalformed: 'skip' as const, concurrency: 1, warn };
  const docs: { id: string; text: string }[] = [];
  for await (const d of openSource(src, ctx)) {
    const text = normalizeText(d.text);
    if (text === '') continue;
    docs.push({ id: d.id, text });
    if (docs.length >= maxDocs) break;
  }
  if (docs.length === 0) throw new UserError(`eval.sets source ${spec}: no documents`);
  return { source: describeSource(src), inputHash: hashValue({ spec, fingerprint: sourceFingerprint(src) }), docs };
}
