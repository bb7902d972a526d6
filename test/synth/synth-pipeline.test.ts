import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SynthesizeConfigSchema } from '../../src/config/schema.js';
import { startServer } from '../../src/serve/server.js';
import { HttpCompletionBackend } from '../../src/synth/http-completion-backend.js';
import { SYNTH_DROP_REASONS } from '../../src/synth/synth-filters.js';
import { runSynthesizeStage, type QualityReport, type SynthMeta, type SynthesizeStats } from '../../src/synth/synthesize-stage.js';
import type { TuneEval } from '../../src/synth/tune-stage.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { tokenizeCorpus } from '../../src/tokens/tokenize-corpus.js';
import { runCli, tempDir } from '../helpers.js';
import { completionReply, scriptedServer } from './completion-server.js';
import { synthFixtureRun } from './fixture-run.js';
import { openBackend } from '../../src/engine/open-backend.js';
import { loadModelFolder } from '../../src/model/hf-folder.js';
import { documentLosses, perplexityDrops, quantileOf } from '../../src/synth/perplexity-filter.js';

// One real tiny run for the whole file: Brown pieces → tokenizer → tokens → baseline → hash embeddings → pairs.
const fx = await synthFixtureRun();
const configFile = join(fx.runsDir, 'sbp.json');
writeFileSync(configFile, JSON.stringify(fx.cfg));
const common = ['--config', configFile, '-q'];
const synthDir = join(fx.runDir, 'synth');
const tokenizer = Tokenizer.load(join(fx.runDir, 'tokenizer', 'tokenizer.json'));

interface Line {
  id: string;
  text: string;
  meta: SynthMeta;
}
const readLines = (path: string): Line[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Line);
const shardFiles = () => readdirSync(synthDir).filter((n) => /^(train|rejected)-\d{5}\.jsonl$/.test(n)).sort();
const snapshot = () => Object.fromEntries(shardFiles().map((n) => [n, readFileSync(join(synthDir, n), 'utf8')]));

test('sbp tune and sbp synthesize before their inputs exist: exit 2 with what to run', () => {
  mkdirSync(join(fx.runsDir, 'empty'), { recursive: true }); // a started run without its inputs (an unknown run is its own error)
  const tune = runCli(['tune', '--runs-dir', fx.runsDir, '--run', 'empty', '-q']);
  assert.equal(tune.status, 2, tune.stderr);
  assert.match(tune.stderr, /tune\.initFrom: "baseline" is neither a model folder nor a finished model of this run/);
  const synth = runCli(['synthesize', '--runs-dir', fx.runsDir, '--run', 'empty', '-q']);
  assert.equal(synth.status, 2, synth.stderr);
  assert.match(synth.stderr, /synthesize\.model: "synthesizer" is neither a model folder nor a finished model/);
  const http = runCli(['synthesize', '--runs-dir', fx.runsDir, '--run', 'empty', '--engine', 'http', '-q']);
  assert.equal(http.status, 2, http.stderr);
  assert.match(http.stderr, /has no manifest\.json: that stage has not finished\. Run `sbp prepare` first/);
});

test('sbp tune: stopped and resumed; the held-out conditional loss is below the baseline unconditional loss on the same d2', () => {
  const cut = runCli(['tune', ...common], { env: { SBP_TUNE_STOP_AFTER_STEPS: '3' } });
  assert.equal(cut.status, 130, cut.stderr);
  assert.match(cut.stderr, /interrupted after step 3/);
  const r = runCli(['tune', ...common]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /resuming from step 3/);
  assert.match(r.stdout, /pairs: \d+ for tuning, \d+ held out/);
  assert.match(r.stdout, /baseline, no d1 +[\d.]+/);
  const e = JSON.parse(readFileSync(join(fx.runDir, 'models/synthesizer/tune-eval.json'), 'utf8')) as TuneEval;
  console.log(`# tune eval: ${JSON.stringify(e)}`);
  assert.ok(e.pairs > 0);
  assert.equal(e.baselineUnconditional.tokens, e.synthesizerConditional.tokens, 'the same d2 targets are scored');
  assert.ok(e.synthesizerConditional.loss < e.baselineUnconditional.loss, `conditional ${e.synthesizerConditional.loss} vs unconditional ${e.baselineUnconditional.loss}`);
  assert.ok(e.synthesizerConditional.loss < e.baselineConditional.loss, 'tuning improves on the untuned model given d1');
  const again = runCli(['tune', ...common]);
  assert.match(again.stdout, /already tuned/);
});

test('sbp synthesize (local engine): a crash after 2 shards and a resume give exactly one clean run; links, drops, quality', async () => {
  const crashed = runCli(['synthesize', ...common], { env: { SBP_SYNTH_FAIL_AFTER_SHARDS: '2' } });
  assert.notEqual(crashed.status, 0);
  assert.match(crashed.stderr, /stopped after 2 shard/);
  assert.deepEqual(shardFiles(), ['rejected-00000.jsonl', 'rejected-00001.jsonl', 'train-00000.jsonl', 'train-00001.jsonl']);
  assert.ok(!existsSync(join(synthDir, 'manifest.json')));
  const resumed = runCli(['synthesize', ...common]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /\(2 resumed\)/);
  const afterResume = snapshot();
  const clean = runCli(['synthesize', ...common, '--force']);
  assert.equal(clean.status, 0, clean.stderr);
  assert.deepEqual(snapshot(), afterResume, 'resumed output = uninterrupted output, byte for byte');
  console.log(`# ${clean.stdout.trim().split('\n').join('\n# ')}`);

  const stats = JSON.parse(readFileSync(join(synthDir, 'stats.json'), 'utf8')) as SynthesizeStats;
  assert.ok(stats.keptTokens >= 300);
  const kept = shardFiles().filter((n) => n.startsWith('train-')).flatMap((n) => readLines(join(synthDir, n)));
  const rejected = shardFiles().filter((n) => n.startsWith('rejected-')).flatMap((n) => readLines(join(synthDir, n)));
  assert.equal(kept.length, stats.kept);
  assert.equal(kept.length + rejected.length, stats.seeds);
  assert.equal(stats.seeds, stats.shards * 8);
  assert.equal(kept.reduce((s, d) => s + d.meta.tokens, 0), stats.keptTokens);
  assert.equal(new Set(kept.map((d) => d.text)).size, kept.length, 'no duplicates across shards');
  for (const d of kept) {
    assert.equal(d.meta.seed_id, `b:${d.meta.seed_index}`, 'seed id ↔ corpus row');
    assert.equal(d.meta.tokens, tokenizer.encode(d.text).length);
    assert.ok(d.meta.tokens >= 4 && d.meta.max_tokens <= 24);
    assert.deepEqual([d.meta.temperature, d.meta.top_p], [1, 0.9]);
  }
  const byReason = Object.fromEntries(SYNTH_DROP_REASONS.map((r) => [r, rejected.filter((d) => d.meta.reason === r).length]));
  assert.deepEqual(byReason, stats.drops);

  // The folder is a corpus: tokenizeCorpus reads it unchanged.
  const out = tempDir();
  const tok = await tokenizeCorpus({ corpusDir: synthDir, tokenizerPath: join(fx.runDir, 'tokenizer', 'tokenizer.json'), outDir: out, splits: ['train'], threads: 1, quiet: true });
  assert.equal(tok.splits.train?.docs, stats.kept);

  const q = JSON.parse(readFileSync(join(synthDir, 'quality.json'), 'utf8')) as QualityReport;
  assert.equal(q.kept.duplicateRate, 0);
  assert.equal(q.irrelevanceThresholdFrom, 'pairs alpha');
  for (const side of [q.generated, q.kept]) {
    for (const v of [side.repetitionRate, side.duplicateRate, side.pairCopyingRate, side.pairIrrelevanceRate]) assert.ok(v !== null && v >= 0 && v <= 1);
    assert.ok(side.meanSeedSimilarity !== null);
  }
  assert.equal(q.real.docs, 40);
  assert.equal(q.real.pairCopyingRate, null);
  assert.ok(q.realPairs.pairs > 0);
  for (const d of kept.slice(0, 3)) console.log(`# seed ${d.meta.seed_id}: ${fx.texts[d.meta.seed_index]!.slice(0, 120)}…\n#   → ${JSON.stringify(d.text.slice(0, 160))}`);
});

test('synthesize: stats carry the conditioning summary (tuned conditional gain, pair-irrelevance of what was kept)', () => {
  const stats = JSON.parse(readFileSync(join(synthDir, 'stats.json'), 'utf8')) as SynthesizeStats;
  const e = JSON.parse(readFileSync(join(fx.runDir, 'models/synthesizer/tune-eval.json'), 'utf8')) as TuneEval;
  const q = JSON.parse(readFileSync(join(synthDir, 'quality.json'), 'utf8')) as QualityReport;
  const c = stats.conditioning!;
  assert.equal(c.conditionalGainNatsPerToken, e.synthesizerUnconditional.loss - e.synthesizerConditional.loss);
  assert.equal(c.heldoutPairs, e.pairs);
  assert.equal(c.pairIrrelevanceRate, q.kept.pairIrrelevanceRate);
  assert.equal(c.realPairSimilarityThreshold, q.irrelevanceThreshold);
  assert.equal(q.randomPairs.pairs, 40);
  assert.equal(c.randomPairMeanSimilarity, q.randomPairs.meanSimilarity);
  assert.ok(q.randomPairs.meanSimilarity! < q.irrelevanceThreshold, 'random pairs are less similar than the mined-pair threshold');
  assert.ok(q.realPairs.meanSimilarity! >= q.irrelevanceThreshold, 'mined pairs are above α');
  assert.equal(c.seedLift, (q.kept.meanSeedSimilarity! - q.randomPairs.meanSimilarity!) / (q.realPairs.meanSimilarity! - q.randomPairs.meanSimilarity!));
  assert.equal(stats.perplexityFilter, null);
  assert.equal(stats.drops.perplexity, 0);
});

test('synthesize with the perplexity filter: drops above each shard\'s loss quantile, counted and resumable', async () => {
  const cfg = SynthesizeConfigSchema.parse({ ...fx.cfg.synthesize, filters: { ...fx.cfg.synthesize?.filters, maxLossQuantile: 0.5 } });
  const opts = { runDir: fx.runDir, stage: 'synth-ppl', config: cfg, tune: fx.cfg.tune, embed: fx.cfg.embed, seed: fx.cfg.seed, quiet: true, createBackend: openBackend };
  await assert.rejects(runSynthesizeStage({ ...opts, failAfterShards: 1 }), /stopped after 1 shard/);
  const s = (await runSynthesizeStage(opts)).manifest.stats;
  const dir = join(fx.runDir, 'synth-ppl');
  const files = readdirSync(dir).filter((n) => /^(train|rejected)-\d{5}\.jsonl$/.test(n)).sort();
  const resumed = Object.fromEntries(files.map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
  const clean = (await runSynthesizeStage({ ...opts, force: true })).manifest.stats;
  assert.deepEqual(Object.fromEntries(files.map((n) => [n, readFileSync(join(dir, n), 'utf8')])), resumed, 'resumed = uninterrupted');
  assert.deepEqual(clean.drops, s.drops);
  assert.ok(s.drops.perplexity > 0, JSON.stringify(s.drops));
  assert.equal(s.perplexityFilter!.quantile, 0.5);
  // Recompute each shard's losses under the baseline: every perplexity drop is above every kept document of its shard.
  const lm = loadModelFolder(join(fx.runDir, 'models/baseline'), await openBackend('auto', 1));
  for (let i = 0; i < s.shards; i++) {
    const kept = readLines(join(dir, `train-${String(i).padStart(5, '0')}.jsonl`));
    const dropped = readLines(join(dir, `rejected-${String(i).padStart(5, '0')}.jsonl`)).filter((d) => d.meta.reason === 'perplexity');
    const lk = documentLosses(lm, tokenizer, kept.map((d) => d.text));
    const ld = documentLosses(lm, tokenizer, dropped.map((d) => d.text));
    for (const x of ld) for (const y of lk) assert.ok(x > y, `shard ${i}: dropped ${x} vs kept ${y}`);
    assert.ok(dropped.length <= kept.length, 'at most half the candidates are above the median');
  }
});

test('perplexity filter: nearest-rank quantile and drops', () => {
  assert.equal(quantileOf([3, 1, 2, 4], 0.5), 2);
  assert.equal(quantileOf([3, 1, 2, 4], 0.75), 3);
  assert.equal(quantileOf([5], 0.1), 5);
  assert.deepEqual(perplexityDrops([1, 4, 2, 3], 0.5).drop, [false, true, false, true]);
  assert.deepEqual(perplexityDrops([2, 2, 2], 0.5).drop, [false, false, false], 'ties at the threshold are kept');
});

test('synthesize through sbp serve: the HTTP engine against the real server on the tuned synthesizer', async () => {
  const server = await startServer({ modelDir: join(fx.runDir, 'models/synthesizer'), port: 0, backend: 'auto', threads: 1 });
  try {
    const cfg = SynthesizeConfigSchema.parse({ ...fx.cfg.synthesize, engine: 'http', model: server.modelId, targetTokens: 60, http: { baseUrl: `${server.url}/v1`, concurrency: 4 } });
    const r = await runSynthesizeStage({ runDir: fx.runDir, config: cfg, tune: fx.cfg.tune, embed: fx.cfg.embed, seed: fx.cfg.seed, quiet: true });
    const s = r.manifest.stats;
    assert.match(s.engine, /^http synthesizer at http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.ok(s.keptTokens >= 60 && s.http!.requests === s.seeds && s.http!.retries === 0, JSON.stringify(s));
    const kept = readLines(join(synthDir, 'train-00000.jsonl'));
    for (const d of kept) assert.ok(d.meta.max_tokens <= 24 && d.meta.seed_id === `b:${d.meta.seed_index}`);
    assert.ok(server.metrics().requests['POST /v1/completions']! >= s.seeds);
  } finally {
    await server.close();
  }
});

test('synthesize through a flaky server: retried failures change nothing; drops counted by reason', async () => {
  // Replies depend only on the request seed: some too short, one text repeated (duplicates), some
  // repetitive, the rest unique. Every third request first fails once.
  const plan = (seed: number) => ['too_short', 'duplicate', 'repetition', 'keep', 'keep'][seed % 5]!;
  const unique = (seed: number) => `A new document number ${seed} about the seed's topic. It goes on for a while, with words that do not repeat themselves, and ends here.`;
  const text = (seed: number) => {
    const p = plan(seed);
    if (p === 'too_short') return '.';
    if (p === 'duplicate') return 'One text that many replies share, long enough to pass the length rule and without repeats of any kind.';
    if (p === 'repetition') return Array(8).fill('the same line over and over').join('\n');
    return unique(seed);
  };
  const server = await scriptedServer(
    (_path, body, attempt) => (attempt === 0 && (body.seed as number) % 3 === 0 ? { status: 503, body: { error: { message: 'warming up' } } } : { status: 200, body: completionReply(text(body.seed as number), 'stop') }),
    (b) => String(b.seed),
  );
  try {
    const cfg = SynthesizeConfigSchema.parse({ ...fx.cfg.synthesize, engine: 'http', model: 'any', targetTokens: 150, http: { baseUrl: server.baseUrl, concurrency: 3, backoffMs: 5 } });
    const run = async () => (await runSynthesizeStage({ runDir: fx.runDir, config: cfg, tune: fx.cfg.tune, embed: fx.cfg.embed, seed: fx.cfg.seed, quiet: true, force: true })).manifest.stats;
    const s = await run();
    const seeds = [...new Set(server.bodies.map((b) => b.seed as number))];
    assert.equal(seeds.length, s.seeds);
    const want = { cut_off: 0, too_short: 0, repetition: 0, copying: 0, duplicate: 0, perplexity: 0 };
    let firstDuplicateKept = false;
    for (const sd of seeds) {
      const p = plan(sd);
      if (p === 'duplicate' && !firstDuplicateKept) firstDuplicateKept = true;
      else if (p !== 'keep') want[p as keyof typeof want]++;
    }
    assert.deepEqual(s.drops, want);
    assert.equal(s.http!.retries, seeds.filter((sd) => sd % 3 === 0).length);
    const first = snapshot();
    const s2 = await run();
    assert.deepEqual(snapshot(), first, 'same seeds, same corpus');
    assert.equal(s2.kept, s.kept);
    // The prompts are [bos] d1 [sep] as token ids, d1 cut to the synthesizer's budget.
    const b0 = server.bodies[0]!;
    const prompt = b0.prompt as number[];
    assert.equal(prompt[0], tokenizer.special.bos);
    assert.equal(prompt.at(-1), tokenizer.special.sep);
    assert.ok(prompt.length - 2 <= s.framing.d1Budget);
    assert.equal((b0.max_tokens as number) <= 24, true);
  } finally {
    await server.close();
  }
  // A wrong model name is a UserError naming the server's message, not a retry loop.
  const refusing = await scriptedServer(() => ({ status: 404, body: { error: { message: 'The model `nope` does not exist' } } }));
  try {
    const cfg = SynthesizeConfigSchema.parse({ ...fx.cfg.synthesize, engine: 'http', model: 'nope', http: { baseUrl: refusing.baseUrl } });
    await assert.rejects(runSynthesizeStage({ runDir: fx.runDir, config: cfg, tune: fx.cfg.tune, embed: fx.cfg.embed, seed: fx.cfg.seed, quiet: true }), /HTTP 404: The model `nope` does not exist/);
  } finally {
    await refusing.close();
  }
  void HttpCompletionBackend;
});
