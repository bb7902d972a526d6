// The synthesizer's levers, one at a time, on a finished experiment run (baseline, embeddings and
// pairs done): for each variant, tune a synthesizer (models/lever-<name>), synthesize a small corpus
// (synth-lever-<name>) and read back the two conditioning numbers —
//   conditionalGain  on held-out pairs, the synthesizer's loss on d2 alone minus its loss on d2 given
//                    d1 (nats per d2 token; tune-eval.json)
//   pairIrrelevance  kept synthetic documents whose embedding's cosine with their seed's is below the
//                    run's α, always measured with the run's own embedder (quality.json)
// — next to the peer measured in the same run: the `default` variant (the run's own tune/synthesize
// settings) and `untuned` (the baseline itself as the synthesizer). Embedder variants mine their pairs
// in a sibling run folder (symlinked corpus, tokens and baseline) and synthesize here, so their
// irrelevance is measured by the same embedder as every other variant; their conditional gain is on
// the held-out pairs of their own mining. Every variant shares tune.heldoutFraction/evalPairs below.
// Prints one JSON object.
// Usage: npx tsx bench/synth-levers.ts --run runs/demo [--variants default,steps300,...] [--target 20000] [--samples 300]
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SynthesizeConfigSchema, TuneConfigSchema, type RunConfig } from '../src/config/schema.js';
import { runEmbedStage } from '../src/embed/embed-stage.js';
import { openBackend } from '../src/engine/open-backend.js';
import { runPairStage } from '../src/pairs/pair-stage.js';
import { runSynthesizeStage } from '../src/synth/synthesize-stage.js';
import { runTuneStage, TUNE_EVAL_FILE, type TuneEval } from '../src/synth/tune-stage.js';
import { flag } from './train.js';

interface Variant {
  tune?: Record<string, unknown>;
  synthesize?: Record<string, unknown>;
  embedder?: 'lm' | 'use' | 'hash';
  untuned?: boolean; // the baseline itself synthesizes
  reuse?: string; // synthesize only, with this variant's synthesizer
}

/** Each lever alone, against `default` (the run's config). */
export const VARIANTS: Record<string, Variant> = {
  default: {},
  untuned: { untuned: true },
  steps300: { tune: { steps: 300 } },
  steps300_lr3e4: { tune: { steps: 300, lr: 3e-4 } },
  steps300_lr3e3: { tune: { steps: 300, lr: 3e-3 } },
  lr3e4: { tune: { lr: 3e-4 } },
  lr3e3: { tune: { lr: 3e-3 } },
  seq256: { tune: { seqLen: 256 } }, // d2 may run to ~127 tokens instead of ~63
  d1_025: { tune: { d1Fraction: 0.25 } },
  d1_075: { tune: { d1Fraction: 0.75 } },
  temp07: { reuse: 'default', synthesize: { temperature: 0.7 } },
  temp085: { reuse: 'default', synthesize: { temperature: 0.85 } },
  topp1: { reuse: 'default', synthesize: { topP: 1.0 } },
  topp07: { reuse: 'default', synthesize: { topP: 0.7 } },
  ppl07: { reuse: 'default', synthesize: { filters: { maxLossQuantile: 0.7 } } },
  ppl05: { reuse: 'default', synthesize: { filters: { maxLossQuantile: 0.5 } } },
  embed_use: { embedder: 'use' },
  embed_hash: { embedder: 'hash' },
};

/** A run folder that shares corpus, tokenizer, tokens and the baseline with `runDir` but mines its own pairs. */
function siblingRun(runDir: string, name: string): string {
  const dir = `${runDir}-${name}`;
  mkdirSync(join(dir, 'models'), { recursive: true });
  for (const p of ['corpus', 'tokenizer', 'tokens', 'models/baseline']) {
    if (!existsSync(join(dir, p))) symlinkSync(resolve(runDir, p), join(dir, p));
  }
  return dir;
}

async function main(): Promise<void> {
  const runDir = flag('run', 'runs/demo');
  const names = flag('variants', Object.keys(VARIANTS).join(',')).split(',');
  const target = Number(flag('target', '20000'));
  const samples = Number(flag('samples', '300'));
  const cfg = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as RunConfig;
  const common = { seed: cfg.seed, createBackend: openBackend, quiet: true, threads: Number(flag('threads', '2')) };
  const evalSplit = { heldoutFraction: 0.1, evalPairs: 256 }; // the same held-out pairs for every variant of one mining
  const results: Record<string, unknown> = {};
  for (const name of names) {
    const v = VARIANTS[name];
    if (!v) throw new Error(`unknown variant ${name}; one of ${Object.keys(VARIANTS).join(', ')}`);
    const t0 = performance.now();
    const tune = TuneConfigSchema.parse({ ...cfg.tune, ...evalSplit, ...v.tune, evalEvery: 0, checkpointEvery: 0 });
    let model: string;
    let tuneEval: TuneEval | null = null;
    if (v.untuned) model = 'baseline';
    else if (v.reuse) {
      model = `lever-${v.reuse}`;
      tuneEval = JSON.parse(readFileSync(join(runDir, 'models', model, TUNE_EVAL_FILE), 'utf8')) as TuneEval;
    } else {
      let tuneRun = runDir;
      if (v.embedder) {
        tuneRun = siblingRun(runDir, `embed-${v.embedder}`);
        await runEmbedStage({ runDir: tuneRun, config: { ...cfg.embed, embedder: v.embedder }, quiet: true, threads: common.threads });
        await runPairStage({ runDir: tuneRun, config: cfg.pair, seed: cfg.seed, quiet: true, threads: common.threads });
      }
      const r = await runTuneStage({ runDir: tuneRun, config: tune, modelName: `lever-${name}`, ...common });
      tuneEval = r.manifest.stats.eval;
      model = tuneRun === runDir ? `lever-${name}` : resolve(tuneRun, 'models', `lever-${name}`);
    }
    const synthCfg = SynthesizeConfigSchema.parse({
      ...cfg.synthesize,
      ...v.synthesize,
      filters: { ...cfg.synthesize.filters, ...(v.synthesize?.filters as object | undefined) },
      model,
      targetTokens: target,
      quality: { samples },
    });
    const s = (await runSynthesizeStage({ runDir, stage: `synth-lever-${name}`, config: synthCfg, tune, embed: cfg.embed, ...common })).manifest.stats;
    const q = s.quality!;
    results[name] = {
      conditionalGain: tuneEval ? tuneEval.conditioningGainNatsPerToken : null,
      gainOverBaseline: tuneEval ? tuneEval.gainNatsPerToken : null,
      heldoutPairs: tuneEval?.pairs ?? null,
      pairIrrelevance: q.kept.pairIrrelevanceRate,
      meanSeedSimilarity: q.kept.meanSeedSimilarity,
      randomPairSimilarity: q.randomPairs.meanSimilarity,
      minedPairSimilarity: q.realPairs.meanSimilarity ?? null,
      seedLift: s.conditioning?.seedLift ?? null,
      realPairsThreshold: q.irrelevanceThreshold,
      keptShare: s.kept / s.seeds,
      drops: Object.fromEntries(Object.entries(s.drops).filter(([, n]) => n > 0)),
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
    process.stderr.write(`${name}: ${JSON.stringify(results[name])}\n`);
  }
  const corpus = cfg.prepare.sources.map((s) => JSON.stringify(s)).join(' + ');
  console.log(JSON.stringify({ bench: 'synth-levers', run: runDir, corpus, seed: cfg.seed, target, samples, embedder: cfg.embed.embedder, evalSplit, results }, null, 1));
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
