import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { similarityHistogram } from '../../src/pairs/pair-stats.js';

/** Text that must come out of the report as text: markup, an entity, quotes, a URL, non-ASCII. */
export const HOSTILE = `<script>alert("pwned")</script> & <img src=x onerror=alert(1)> 'quoted' http://evil.example/x.png — café 😀`;

export type FixturePart = 'config' | 'plan' | 'corpus' | 'tokenizer' | 'tokens' | 'pairs' | 'synthesizer' | 'synth' | 'models' | 'eval';
export const ALL_PARTS: FixturePart[] = ['config', 'plan', 'corpus', 'tokenizer', 'tokens', 'pairs', 'synthesizer', 'synth', 'models', 'eval'];

/** Deterministic uniform numbers in [0, 1) (a small LCG): fixtures must not change between runs. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function writeJson(path: string, value: unknown): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

function writeJsonl(path: string, rows: unknown[]): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, rows.map((r) => JSON.stringify(r) + '\n').join(''));
}

function manifest(stage: string, stats: unknown): unknown {
  return { stage, formatVersion: 1, configHash: '0123456789abcdef', inputHashes: {}, stats, timings: { startedAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T00:01:00.000Z', seconds: 60 } };
}

export interface FixtureFacts {
  /** The pair-similarity histograms written into pairs/stats.json. */
  candidateCounts: number[];
  pairCounts: number[];
  alpha: number;
  /** Held-out evaluations logged per run (baseline, sbp, oracle). */
  evalRows: Record<string, number>;
  /** Document text of the corpus, by id (the seeds are among them). */
  corpusText: Map<string, string>;
  /** Synthetic documents: id → its seed id. */
  synthSeeds: Map<string, string>;
  /** heldout/ppl of the three runs, as written into comparison.json. */
  ppl: { baseline: number; sbp: number; oracle: number };
}

/**
 * A run directory shaped like one the stages write: every file the report reads, with realistic
 * sizes (a 200-bin similarity histogram from 3000 neighbour similarities, loss curves of 12
 * evaluations, a 24-document corpus) and hostile text in the documents.
 */
/**
 * `extraArms`: control arms beside baseline / SBP / oracle (their curves and eval values), and a third
 * metric whose oracle gain is within noise, so its fraction is huge and flagged unreliable.
 */
export function writeFixtureRun(runDir: string, parts: readonly FixturePart[] = ALL_PARTS, opts: { extraArms?: string[] } = {}): FixtureFacts {
  const extraArms = opts.extraArms ?? [];
  const has = new Set(parts);
  const rand = lcg(7);
  mkdirSync(runDir, { recursive: true });

  // corpus: 24 documents, one of them hostile; also the seeds of the synthetic documents
  const corpusText = new Map<string, string>();
  const topics = ['the county grand jury', 'a new bridge over the river', 'the orchestra’s winter season', 'farm prices in the valley'];
  for (let i = 0; i < 24; i++) {
    const id = `brown:c${String(i).padStart(3, '0')}`;
    const text = i === 3 ? `A report on ${topics[i % 4]}. ${HOSTILE}\nSecond line of the document.` : `A report on ${topics[i % 4]}, number ${i}. `.repeat(8).trim();
    corpusText.set(id, text);
  }
  if (has.has('corpus')) {
    writeJsonl(join(runDir, 'corpus', 'train-00000.jsonl'), [...corpusText].map(([id, text]) => ({ id, text, meta: { source: 'brown' } })));
    const stats = {
      docsIn: 30, charsIn: 48_000, docsOut: 26, charsOut: 47_100,
      drops: { malformed: 1, empty: 0, too_short: 2, too_long: 0, duplicate: 1 },
      normalized: 4, invalidUtf8Repaired: 0,
      splits: { train: { docs: 24, chars: 45_000, shards: 1 }, heldout: { docs: 2, chars: 2_100, shards: 1 } },
      stoppedAtMaxDocs: false,
      sources: [{ source: 'brown', docs: 29, malformed: 1, malformedExamples: [], invalidUtf8Repaired: 0, skippedFiles: { symlink: 2 } }],
    };
    writeJson(join(runDir, 'corpus', 'stats.json'), stats);
    writeJson(join(runDir, 'corpus', 'manifest.json'), manifest('corpus', stats));
  }
  if (has.has('config')) writeJson(join(runDir, 'config.json'), { name: 'fixture', runsDir: 'runs', seed: 1, note: HOSTILE });
  if (has.has('plan')) {
    writeJson(join(runDir, 'experiment', 'plan.json'), {
      requested: { uniqueTokens: 20_000, budgetTokens: 80_000, syntheticShare: 0.375, oracleFactor: 20 },
      uniqueTokens: 20_480, uniqueDocs: 24, budgetTokens: 81_920, steps: 40, tokensPerStep: 2048, syntheticTokens: 30_000,
      runs: {
        baseline: { realUniqueTokens: 20_480, realTokens: 81_920, repetitions: 4, syntheticTokens: 0 },
        sbp: { realUniqueTokens: 20_480, realTokens: 51_920, repetitions: 2.535, syntheticTokens: 30_000 },
        oracle: { realUniqueTokens: 160_000, realTokens: 81_920, repetitions: 0.512, syntheticTokens: 0 },
      },
      oracle: { docs: 190, tokens: 160_000, factor: 7.8, shortfall: 'the corpus is too small for a 20× oracle' },
      params: 420_000, flops: { perToken: 2.6e6, perRun: 2.1e11, total: 6.4e11 },
      estimate: { secondsPerRun: 40, totalSeconds: 120, source: 'probe', backend: 'cpu', trainTokensPerSec: 2048 },
      notes: ['the corpus is too small for a 20× oracle: it gets 7.8×U'],
    });
  }
  if (has.has('tokenizer')) {
    writeJson(join(runDir, 'tokenizer', 'stats.json'), { vocabSize: 1024, specialTokens: { bos: 1016, eos: 1017, sep: 1018, pad: 1019, reserved: [1020] }, bytesTrained: 45_000, docsTrained: 24, uniquePieces: 3100, merges: 760, trainSeconds: 0.4, heldout: { docs: 2, bytes: 2100, tokens: 600, bytesPerToken: 3.5 } });
  }
  if (has.has('tokens')) {
    writeJson(join(runDir, 'tokens', 'stats.json'), {
      vocabSize: 1024, dtype: 'u16',
      splits: {
        train: { shards: 1, docs: 24, tokens: 12_800, bytes: 45_000, tokensPerByte: 0.284, emptyDocs: 0, maxDocTokens: 900, fileBytes: 26_000 },
        heldout: { shards: 1, docs: 2, tokens: 600, bytes: 2100, tokensPerByte: 0.286, emptyDocs: 0, maxDocTokens: 320, fileBytes: 1500 },
      },
      shardsWritten: 2, shardsReused: 0, threads: 1,
    });
  }

  // pairs: similarities of 3000 neighbours, roughly normal around 0.55; kept above α = 0.75
  const alpha = 0.75;
  const sims = new Float32Array(3000);
  for (let i = 0; i < sims.length; i++) sims[i] = Math.max(-0.2, Math.min(0.999, 0.55 + 0.12 * (rand() + rand() + rand() - 1.5) * 2));
  const candidates = similarityHistogram(sims);
  const kept = similarityHistogram(sims.filter((s) => s > alpha));
  if (has.has('pairs')) {
    const nPairs = kept.counts.reduce((a, b) => a + b, 0);
    const stats = {
      documents: 24, dim: 256, zeroVectors: 0, k: 10, search: 'exact', ann: null, threads: 1,
      alpha: { mode: 'absolute', quantile: null, value: alpha },
      nearDuplicate: { threshold: 0.8, shingleWords: 5, permutations: 128, signatures: 24 },
      neighboursReturned: 3300, candidates: 3000, pairs: nPairs,
      drops: { self: 24, beyond_k: 276, below_alpha: 3000 - nPairs - 3, near_duplicate: 3 },
      similarity: { candidates, pairs: kept, candidateSummary: { min: 0.1, mean: 0.55, max: 0.99 }, pairSummary: { min: 0.75, mean: 0.8, max: 0.99 } },
      partners: { perDocument: [10, 8, 6], meanPerDocument: 0.83, shareWithPartner: 0.58, shareInAnyPair: 0.7, maxAsD2: 4 },
      recall: null, searchBlocks: 1, searchBlocksReused: 0, indexReused: false, exactFallback: 0, seconds: { index: 0, search: 0.1, recall: 0, texts: 0.1, total: 0.2 },
    };
    writeJson(join(runDir, 'pairs', 'stats.json'), stats);
    writeJson(join(runDir, 'pairs', 'manifest.json'), manifest('pairs', stats));
    const ids = [...corpusText.keys()];
    writeJsonl(join(runDir, 'pairs', 'samples.jsonl'), [
      { d1: 3, d2: 7, id1: ids[3], id2: ids[7], similarity: 0.91, jaccard: 0.05, text1: corpusText.get(ids[3]!)!.slice(0, 400), text2: corpusText.get(ids[7]!)!.slice(0, 400) },
      { d1: 4, d2: 8, id1: ids[4], id2: ids[8], similarity: 0.88, jaccard: 0.1, text1: corpusText.get(ids[4]!)!.slice(0, 400), text2: corpusText.get(ids[8]!)!.slice(0, 400) },
      { d1: 5, d2: 9, id1: ids[5], id2: ids[9], similarity: 0.97, jaccard: 0.86, dropped: 'near_duplicate', text1: corpusText.get(ids[5]!)!.slice(0, 400), text2: corpusText.get(ids[9]!)!.slice(0, 400) },
    ]);
  }

  // training curves: held-out loss every 2048 tokens; the baseline flattens, the oracle keeps falling
  const evalRows: Record<string, number> = {};
  const curves: Record<string, (t: number) => number> = {
    baseline: (t) => 6.9 - 2.4 * (1 - Math.exp(-t / 9000)) + (t > 40_000 ? (t - 40_000) / 90_000 : 0),
    sbp: (t) => 6.9 - 2.5 * (1 - Math.exp(-t / 11_000)),
    oracle: (t) => 6.9 - 2.8 * (1 - Math.exp(-t / 12_000)),
  };
  extraArms.forEach((arm, k) => {
    curves[arm] = (t) => 6.9 - (2.3 + 0.05 * k) * (1 - Math.exp(-t / 10_000));
  });
  if (has.has('models')) {
    for (const [name, curve] of Object.entries(curves)) {
      const rows: unknown[] = [];
      let evals = 0;
      for (let step = 0; step <= 40; step += 2) {
        const tokens = step * 2048;
        if (step > 0) rows.push({ kind: 'step', step, tokens, lr: 1e-3, loss: curve(tokens) - 0.1, gradNorm: 1, skipped: false, tokensPerSec: 2000 });
        if (step % 4 === 0) {
          rows.push({ kind: 'eval', step, tokens, heldoutLoss: curve(tokens), heldoutPpl: Math.exp(curve(tokens)), heldoutTokens: 600 });
          evals++;
        }
      }
      evalRows[name] = evals;
      writeJsonl(join(runDir, 'models', name, 'metrics.jsonl'), rows);
      writeJson(join(runDir, 'models', name, 'manifest.json'), manifest(`models/${name}`, { numParams: 420_000, steps: 40, tokens: 81_920, finalLoss: curve(81_920) - 0.1, backend: 'cpu' }));
    }
  }
  if (has.has('synthesizer')) {
    const rows: unknown[] = [];
    for (let step = 1; step <= 30; step++) {
      rows.push({ kind: 'step', step, tokens: step * 1024, lr: 5e-4, loss: 5 - 1.5 * (1 - Math.exp(-step / 10)), gradNorm: 1, skipped: false, tokensPerSec: 1500 });
      if (step % 10 === 0) rows.push({ kind: 'eval', step, tokens: step * 1024, heldoutLoss: 5.1 - 1.2 * (1 - Math.exp(-step / 10)), heldoutPpl: 0, heldoutTokens: 400 });
    }
    writeJsonl(join(runDir, 'models', 'synthesizer', 'metrics.jsonl'), rows);
    writeJson(join(runDir, 'models', 'synthesizer', 'manifest.json'), manifest('models/synthesizer', {
      initFrom: 'baseline', backend: 'cpu', numParams: 420_000,
      framing: { seqLen: 256, d1Fraction: 0.5, d1Budget: 127 },
      pairs: { mined: 120, train: 100, heldout: 20, straddling: 0, heldoutBothSides: 20, heldoutDocs: 3, evaluated: 20 },
      steps: 30, tokens: 30_720, epochs: 2.1, skippedSteps: 0, finalLoss: 3.6, trainTokensPerSec: 1500,
      eval: { pairs: 20, baselineUnconditional: { loss: 4.9, ppl: 134.3, tokens: 2400 }, baselineConditional: { loss: 4.7, ppl: 109.9, tokens: 2400 }, synthesizerConditional: { loss: 4.1, ppl: 60.3, tokens: 2400 }, gainNatsPerToken: 0.8 },
    }));
  }

  const synthSeeds = new Map<string, string>();
  if (has.has('synth')) {
    const ids = [...corpusText.keys()];
    const docs = [3, 10, 17, 22, 5].map((seedIdx, i) => {
      const id = `synth:00000:${i}`;
      synthSeeds.set(id, ids[seedIdx]!);
      const text = i === 0 ? `A new account of ${topics[seedIdx % 4]}. ${HOSTILE}` : `Another piece about ${topics[seedIdx % 4]} (${i}).\nWith a second paragraph.`;
      return { id, text, meta: { source: 'synth', seed_id: ids[seedIdx], temperature: 1, top_p: 0.9, finish_reason: 'stop' } };
    });
    writeJsonl(join(runDir, 'synth', 'train-00000.jsonl'), docs);
    writeJson(join(runDir, 'synth', 'stats.json'), { seeds: 9, generated: 9, kept: 5, tokens: 1800, drops: { too_short: 2, repetition: 1, seed_copy: 1, duplicate: 0, truncated: 0 } });
    const rates = (docs: number, repetitionRate: number, pairCopyingRate: number | null, pairIrrelevanceRate: number | null) => ({ docs, repetitionRate, duplicateRate: 0, pairCopyingRate, pairIrrelevanceRate, meanSeedSimilarity: pairIrrelevanceRate === null ? null : 0.71 });
    writeJson(join(runDir, 'synth', 'quality.json'), {
      samples: 5, irrelevanceThreshold: 0.3, irrelevanceThresholdFrom: 'default', embedder: 'hash',
      generated: rates(9, 0.3333, 0.1111, 0.2222),
      kept: rates(5, 0.2, 0.02, 0.2),
      real: rates(5, 0.04, null, null),
      realPairs: { pairs: 4, pairCopyingRate: 0.25 },
    });
  }

  const ppl = { baseline: 95.2, sbp: 88.6, oracle: 79.4 };
  if (has.has('eval')) {
    const est = (value: number, w: number) => ({ value, ci: { lo: value - w, hi: value + w } });
    const frac = (ppl.sbp - ppl.baseline) / (ppl.oracle - ppl.baseline);
    writeJson(join(runDir, 'eval', 'results.json'), {
      models: Object.fromEntries(['baseline', 'sbp', 'oracle', ...extraArms].map((m) => [m, { dir: `models/${m}`, runModel: m, params: 420_000 }])),
      settings: { window: 256, stride: 128, batchTokens: 4096, bootstrap: { samples: 1000, confidence: 0.95, seed: 1 }, maxDocs: 500 },
      sets: { heldout: { kind: 'perplexity', source: 'corpus heldout', items: 2 }, cloze: { kind: 'cloze', source: 'held-out', items: 40 } },
      metrics: {
        'heldout/ppl': { higherIsBetter: false, items: 2, values: { baseline: est(ppl.baseline, 3), sbp: est(ppl.sbp, 3), oracle: est(ppl.oracle, 3), ...Object.fromEntries(extraArms.map((a, k) => [a, est(93.123 - k, 3.25)])) } },
        'cloze/acc': { higherIsBetter: true, items: 40, values: { baseline: est(0.2, 0.05), sbp: est(0.2, 0.05), oracle: est(0.2, 0.05), ...Object.fromEntries(extraArms.map((a) => [a, est(0.2, 0.05)])) } },
        ...(extraArms.length > 0 ? { 'heldout/bpb': { higherIsBetter: false, items: 2, values: { baseline: est(1.5001, 0.01), sbp: est(1.4101, 0.01), oracle: est(1.4901, 0.02), ...Object.fromEntries(extraArms.map((a) => [a, est(1.45, 0.01)])) } } } : {}),
      },
      synthQuality: null, itemsFile: 'items.json',
    });
    writeJson(join(runDir, 'eval', 'comparison.json'), {
      roles: { baseline: 'baseline', sbp: 'sbp', oracle: 'oracle' },
      bootstrap: { samples: 1000, confidence: 0.95, seed: 1 },
      metrics: [
        {
          metric: 'heldout/ppl', higherIsBetter: false, items: 2,
          baseline: est(ppl.baseline, 3), sbp: est(ppl.sbp, 3), oracle: est(ppl.oracle, 3),
          sbpGain: est(ppl.sbp - ppl.baseline, 1), oracleGain: est(ppl.oracle - ppl.baseline, 1.5),
          fraction: { value: frac, ci: { lo: frac - 0.1, hi: frac + 0.1 }, note: null },
        },
        {
          metric: 'cloze/acc', higherIsBetter: true, items: 40,
          baseline: est(0.2, 0.05), sbp: est(0.2, 0.05), oracle: est(0.2, 0.05),
          sbpGain: est(0, 0.01), oracleGain: est(0, 0.01),
          fraction: { value: null, ci: null, note: 'the oracle scores the same as the baseline (gain 0): the fraction of oracle gain is undefined' },
        },
        ...(extraArms.length > 0
          ? [{
              metric: 'heldout/bpb', higherIsBetter: false, items: 2,
              baseline: est(1.5001, 0.01), sbp: est(1.4101, 0.01), oracle: est(1.4901, 0.02),
              sbpGain: est(-0.09, 0.01), oracleGain: est(-0.01, 0.02),
              fraction: { value: 9, ci: null, note: "the oracle's gain -0.01 is within noise (its 95% interval [-0.03, 0.01] contains 0): the fraction is unreliable and gets no interval" },
            }]
          : []),
      ],
    });
  }
  return { candidateCounts: candidates.counts, pairCounts: kept.counts, alpha, evalRows, corpusText, synthSeeds, ppl };
}
