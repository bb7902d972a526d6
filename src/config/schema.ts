import { z } from 'zod';
import { ModelSpecSchema } from '../model/config.js';

/**
 * The whole run configuration. Every section has defaults, so `{}` is a valid config; a config file
 * (JSON or YAML) and CLI flags override them. The resolved value is saved as `runs/<name>/config.json`.
 * Values marked (ours) are our defaults where the SBP paper gives none.
 */

const SourceSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('jsonl'),
    path: z.string().min(1).describe('a .jsonl / .jsonl.gz file, or a folder of them'),
    textField: z.string().min(1).default('text'),
    idField: z.string().min(1).optional(),
  }).strict(),
  z.object({
    kind: z.literal('parquet'),
    path: z.string().min(1).describe('a .parquet file, or a folder of them (e.g. an `sbp export parquet` folder)'),
    textField: z.string().min(1).default('text'),
    idField: z.string().min(1).optional(), // default: the `id` column when the file has one, else <file>:<row>
  }).strict(),
  z.object({
    kind: z.literal('text-dir'),
    path: z.string().min(1),
    extensions: z.array(z.string().min(1)).min(1).default(['.txt', '.md', '.rst']),
  }).strict(),
  // Built-in corpora; `path` points at a copy outside the default install location.
  z.object({ kind: z.literal('spam-assassin'), path: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal('brown'), path: z.string().min(1).optional(), passageWords: z.number().int().min(10).optional() }).strict(), // passageWords: split each text into passages of about this many words (at sentence ends); unset = one document per text
  z.object({ kind: z.literal('gcide'), path: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal('linux-doc'), path: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal('manpages'), path: z.string().min(1).optional(), groff: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal('python-doc'), path: z.string().min(1).optional() }).strict(),
]);
export type SourceConfig = z.infer<typeof SourceSchema>;
export const SOURCE_KINDS = ['jsonl', 'parquet', 'text-dir', 'spam-assassin', 'brown', 'gcide', 'linux-doc', 'manpages', 'python-doc'] as const;

export const PrepareConfigSchema = z
  .object({
    sources: z.array(SourceSchema).default([{ kind: 'brown' }]),
    onMalformed: z.enum(['skip', 'fail']).default('skip'), // a bad JSON line: count and skip, or stop
    minChars: z.number().int().nonnegative().default(100), // (ours) shorter documents are dropped
    maxChars: z.number().int().positive().default(1_000_000), // (ours) longer documents are dropped
    dedup: z.boolean().default(true), // exact deduplication on normalised text
    heldOutFraction: z.number().min(0).max(0.5).default(0.02), // (ours) hash-based split
    splitSeed: z.string().default('sbp'), // salt of the split hash; change it to draw another split
    docsPerShard: z.number().int().positive().default(10_000),
    maxDocs: z.number().int().positive().optional(), // stop after this many kept documents
  })
  .strict();
export type PrepareConfig = z.infer<typeof PrepareConfigSchema>;

export const TokenizerConfigSchema = z
  .object({
    vocabSize: z.number().int().min(264).max(1 << 20).default(16_384), // includes 256 bytes + specials
    minFrequency: z.number().int().min(1).default(2), // a pair seen fewer times is never merged
    maxTrainBytes: z.number().int().positive().default(200_000_000), // text read from the train split
    reservedTokens: z.number().int().min(0).max(256).default(4),
  })
  .strict();
export type TokenizerConfig = z.infer<typeof TokenizerConfigSchema>;

export const TokenizeConfigSchema = z
  .object({
    // One token shard per corpus shard (so resume is exact); shard size follows prepare.docsPerShard.
    splits: z.array(z.enum(['train', 'heldout'])).min(1).default(['train', 'heldout']),
  })
  .strict();
export type TokenizeConfig = z.infer<typeof TokenizeConfigSchema>;

export const TorchEngineSchema = z
  .object({
    python: z.string().min(1).optional(), // interpreter with torch + transformers; default .venv/bin/python (here, then in the sbp package), else python3
    nprocPerNode: z.number().int().positive().default(1), // processes per node (one per GPU); > 1 launches torchrun (DDP, or FSDP)
    torchrunArgs: z.array(z.string()).default([]), // extra torchrun arguments, e.g. multi-node rendezvous; none = --standalone
    fsdp: z.boolean().default(false), // shard weights, gradients and optimizer state (FSDP2) instead of replicating them (DDP)
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto'), // auto: cuda when torch sees a GPU
    dtype: z.enum(['auto', 'fp32', 'bf16']).default('auto'), // auto: bf16 autocast on CUDA, fp32 on CPU
    microBatch: z.number().int().positive().optional(), // rows per forward pass on each process; default the stage's batchSize
    compile: z.boolean().default(false), // torch.compile the model (worth it on CUDA)
  })
  .strict();
export type TorchEngineConfig = z.infer<typeof TorchEngineSchema>;

export const TRAIN_ENGINES = ['sbp', 'torch', 'command'] as const;
export type TrainEngine = (typeof TRAIN_ENGINES)[number];

export const TrainConfigSchema = z
  .object({
    // Unset = sbp; no default value, so that configs without these fields keep the stage hashes they had.
    engine: z.enum(TRAIN_ENGINES).optional(), // sbp (unset): the native engine; torch: PyTorch via torchrun; command: train.command (docs/trainers.md)
    command: z.string().min(1).optional(), // engine command: a shell command honouring the trainer contract; {job} is the job.json path
    torch: TorchEngineSchema.optional(), // engine torch: how PyTorch is launched (unset: the defaults of each field)
    backend: z.enum(['auto', 'cpu', 'ref']).default('auto'), // auto: the native cpu backend when it loads, else ref
    batchSize: z.number().int().positive().default(16), // sequences per micro-batch
    seqLen: z.number().int().min(2).default(256), // tokens per sequence (at most the model's maxSeqLen)
    gradAccumSteps: z.number().int().positive().default(1), // micro-batches per optimizer step
    steps: z.number().int().positive().default(1000), // optimizer steps, unless totalTokens is set
    totalTokens: z.number().int().positive().optional(), // token budget; steps = ceil(totalTokens / tokens per step)
    lr: z.number().positive().default(3e-3), // (ours) peak; the paper uses 1e-2 at 3B scale
    lrFloor: z.number().nonnegative().default(5e-5), // cosine ends here (paper)
    warmupFraction: z.number().min(0).max(1).default(0.05), // of the steps (paper: 5%)
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.95), // (ours)
    eps: z.number().positive().default(1e-8),
    weightDecay: z.number().nonnegative().default(0.1), // (ours) decoupled
    decayEmbeddings: z.boolean().default(true), // norm weights are never decayed
    noDecay: z.array(z.string()).default([]), // regexps on parameter names never decayed
    clip: z.number().nonnegative().default(1.0), // max global gradient norm; 0 = off
    evalEvery: z.number().int().nonnegative().default(100), // steps; 0 = only at the end
    evalTokens: z.number().int().nonnegative().default(65_536), // held-out tokens per evaluation; 0 = no evaluation
    checkpointEvery: z.number().int().nonnegative().default(200), // steps; 0 = only at the end and on interrupt
    logEvery: z.number().int().positive().default(1), // steps between metrics rows
    maxBadSteps: z.number().int().positive().default(5), // consecutive non-finite steps before giving up
    seed: z.number().int().nonnegative().optional(), // default: the run seed
    initFrom: z.string().min(1).optional(), // a model folder, or the name of a model of this run, to start from (fine-tuning)
    trainSplit: z.string().min(1).default('train'),
    heldoutSplit: z.string().min(1).default('heldout'),
  })
  .strict();
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

export const SampleConfigSchema = z
  .object({
    temperature: z.number().nonnegative().default(1.0), // 0 = greedy
    topP: z.number().gt(0).max(1).default(0.9), // (ours) nucleus mass
    topK: z.number().int().nonnegative().default(0), // 0 = off
    maxTokens: z.number().int().positive().default(256),
    n: z.number().int().positive().default(1), // samples per prompt
    batchSize: z.number().int().positive().default(16), // sequences decoded together
    seed: z.number().int().nonnegative().optional(), // default: the run seed
    stopAtEos: z.boolean().default(true),
  })
  .strict();
export type SampleConfig = z.infer<typeof SampleConfigSchema>;

export const EmbedConfigSchema = z
  .object({
    embedder: z.enum(['lm', 'use', 'http', 'hash']).default('lm'), // lm = bootstrapped from the baseline LM, no outside model
    maxTokens: z.number().int().positive().default(1024), // (ours) each document is embedded from its first N tokens
    dtype: z.enum(['f16', 'f32']).default('f16'), // (ours) of the stored vectors; f16 halves the file, cosine error < 1e-3
    docsPerShard: z.number().int().positive().default(4096), // resume granularity: one marker per shard
    lm: z
      .object({
        model: z.string().min(1).default('baseline'), // a model of this run (models/<name>) or a model folder
        backend: z.enum(['auto', 'cpu', 'ref']).default('auto'),
        batchTokens: z.number().int().min(2).default(8192), // B × T per forward pass
      })
      .strict()
      .default({}),
    use: z
      .object({
        batchSize: z.number().int().positive().default(16), // texts per model call
      })
      .strict()
      .default({}),
    http: z
      .object({
        baseUrl: z.string().url().default('http://127.0.0.1:8000/v1'), // where /embeddings is served
        model: z.string().min(1).default('Qwen/Qwen3-Embedding-0.6B'), // the paper's embedder
        apiKeyEnv: z.string().min(1).optional(), // name of the environment variable holding the API key
        batchSize: z.number().int().positive().default(32), // texts per request
        concurrency: z.number().int().positive().default(4), // requests in flight
        maxRetries: z.number().int().nonnegative().default(6), // per request, after the first attempt
        backoffMs: z.number().int().nonnegative().default(500), // first retry waits up to this; doubles
        maxBackoffMs: z.number().int().nonnegative().default(30_000),
        timeoutMs: z.number().int().positive().default(120_000), // per request
        dimensions: z.number().int().positive().optional(), // ask Matryoshka models for fewer dimensions
      })
      .strict()
      .default({}),
    hash: z
      .object({
        dim: z.number().int().positive().max(1 << 16).default(1024), // (ours) output buckets
        ngram: z.number().int().min(1).max(8).default(2), // (ours) word n-grams of order 1..ngram
        idfBuckets: z
          .number()
          .int()
          .min(1)
          .max(1 << 26)
          .refine((n) => (n & (n - 1)) === 0, 'a power of two')
          .default(1 << 20), // document-frequency table slots
      })
      .strict()
      .default({}),
  })
  .strict();
export type EmbedConfig = z.infer<typeof EmbedConfigSchema>;

export const PairConfigSchema = z
  .object({
    k: z.number().int().min(1).max(1000).default(10), // (ours) nearest other documents considered per document
    alpha: z.number().min(-1).max(1).default(0.75), // (ours) keep pairs with cosine similarity above this
    alphaQuantile: z.number().min(0).max(1).optional(), // when set, α is this quantile of the candidate similarities instead
    search: z.enum(['ann', 'exact']).default('ann'), // exact: brute force, for small corpora
    quantization: z.enum(['f16', 'i8', 'f32']).default('f16'), // vectors inside the HNSW index; i8 ≈ the paper's 8-bit ScaNN
    connectivity: z.number().int().min(2).max(256).default(16), // HNSW graph degree M
    expansionAdd: z.number().int().min(1).max(4096).default(64), // HNSW candidate list while building (recall@10 0.997 at 100k in bench/pairs.ts)
    expansionSearch: z.number().int().min(1).max(4096).default(64), // HNSW candidate list while searching (at least k+1)
    parallelBuildFrom: z.number().int().min(0).default(50_000), // (ours) smaller indexes are built one insertion at a time: deterministic, no lost nodes
    nearDuplicate: z.boolean().default(true), // drop pairs whose texts are near-duplicates
    nearDuplicateJaccard: z.number().min(0).max(1).default(0.8), // (ours) MinHash Jaccard on word shingles at or above this is a near-duplicate
    shingleWords: z.number().int().min(1).max(64).default(5), // (ours) words per shingle
    minhashPermutations: z.number().int().min(8).max(4096).default(128), // (ours) signature length
    recallSample: z.number().int().min(0).default(1000), // documents whose ANN neighbours are checked against exact search (0: skip)
    samples: z.number().int().min(0).max(10_000).default(48), // example pairs with text excerpts in samples.jsonl
    searchBlock: z.number().int().min(1).default(16_384), // documents per search block (the unit of resumption)
  })
  .strict();
export type PairConfig = z.infer<typeof PairConfigSchema>;

export const TuneConfigSchema = z
  .object({
    initFrom: z.string().min(1).default('baseline'), // the model tuning starts from: a model of this run or a model folder (paper: the baseline LM)
    engine: z.enum(TRAIN_ENGINES).optional(), // default: train.engine
    command: z.string().min(1).optional(), // default: train.command
    torch: TorchEngineSchema.optional(), // default: train.torch
    backend: z.enum(['auto', 'cpu', 'ref']).default('auto'),
    batchSize: z.number().int().positive().default(8), // pairs per micro-batch (one pair per row)
    seqLen: z.number().int().min(4).default(256), // T: input tokens per row [bos] d1 [sep] d2 [eos] (at most the model's maxSeqLen)
    d1Fraction: z.number().gt(0).lt(1).default(0.5), // (ours) share of the row d1 may take (its first tokens); d2 gets the rest
    gradAccumSteps: z.number().int().positive().default(1),
    steps: z.number().int().positive().default(300), // (ours) optimizer steps
    lr: z.number().positive().default(1e-3), // (ours) peak; below pretraining's, as the start is already trained
    lrFloor: z.number().nonnegative().default(1e-5), // cosine ends here
    warmupFraction: z.number().min(0).max(1).default(0.05),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.95),
    eps: z.number().positive().default(1e-8),
    weightDecay: z.number().nonnegative().default(0.1),
    decayEmbeddings: z.boolean().default(true),
    noDecay: z.array(z.string()).default([]),
    clip: z.number().nonnegative().default(1.0),
    evalEvery: z.number().int().nonnegative().default(50), // steps between held-out conditional losses; 0 = only at the end
    checkpointEvery: z.number().int().nonnegative().default(100),
    logEvery: z.number().int().positive().default(1),
    maxBadSteps: z.number().int().positive().default(5),
    heldoutFraction: z.number().min(0).max(0.5).default(0.05), // (ours) documents whose pairs (as d1) are held out of tuning
    heldoutSalt: z.string().default('sbp-tune'), // salt of the held-out document hash; change it to draw another split
    evalPairs: z.number().int().nonnegative().default(256), // held-out pairs scored (first ones in pair order); 0 = no evaluation
    seed: z.number().int().nonnegative().optional(), // default: the run seed
  })
  .strict();
export type TuneConfig = z.infer<typeof TuneConfigSchema>;

export const SynthesizeConfigSchema = z
  .object({
    model: z.string().min(1).default('synthesizer'), // local engine: a model of this run or a folder; http: the served model id
    engine: z.enum(['local', 'http']).default('local'), // local: sample here; http: an OpenAI-compatible /v1/completions server
    backend: z.enum(['auto', 'cpu', 'ref']).default('auto'), // local engine only
    targetTokens: z.number().int().positive().default(1_000_000), // (ours) stop once the kept synthetic documents hold this many tokens
    seedsPerShard: z.number().int().positive().default(256), // seeds drawn per output shard (the unit of resumption)
    maxEmptyShards: z.number().int().positive().default(8), // stop with an error after this many shards in a row keep nothing
    temperature: z.number().nonnegative().default(1.0), // (ours)
    topP: z.number().gt(0).max(1).default(0.9), // (ours)
    topK: z.number().int().nonnegative().default(0), // 0 = off
    maxTokens: z.number().int().positive().optional(), // d2 tokens at most; default: what the context leaves after the prompt
    contextTokens: z.number().int().min(4).optional(), // the synthesizer's row length T; default: its tuning seqLen (tune.seqLen for http)
    d1Fraction: z.number().gt(0).lt(1).optional(), // default: the synthesizer's tuning split (tune.d1Fraction)
    batchSize: z.number().int().positive().default(16), // local engine: sequences decoded together
    seed: z.number().int().nonnegative().optional(), // default: the run seed
    conditioning: z.enum(['seed', 'none']).default('seed'), // seed: prompt [bos] d1 [sep]; none: prompt [bos] alone (the experiment's selfdistill control)
    http: z
      .object({
        baseUrl: z.string().url().default('http://127.0.0.1:8000/v1'), // where /completions is served
        apiKeyEnv: z.string().min(1).optional(), // name of the environment variable holding the API key
        concurrency: z.number().int().positive().default(8), // requests in flight
        maxRetries: z.number().int().nonnegative().default(6), // per request, after the first attempt
        backoffMs: z.number().int().nonnegative().default(500), // first retry waits up to this; doubles
        maxBackoffMs: z.number().int().nonnegative().default(30_000),
        timeoutMs: z.number().int().positive().default(300_000), // per request
      })
      .strict()
      .default({}),
    filters: z
      .object({
        minTokens: z.number().int().nonnegative().default(32), // (ours) shorter synthetic documents are dropped
        cutOff: z.enum(['keep', 'trim', 'drop']).default('trim'), // (ours) a d2 that hit the length limit: keep it, trim it back to its last sentence end, or drop it
        repetition: z.boolean().default(true), // the Gopher repetition rules below
        maxDuplicateLineFraction: z.number().min(0).max(1).default(0.3), // Gopher
        maxDuplicateLineCharFraction: z.number().min(0).max(1).default(0.2), // Gopher
        maxTopNgramCharFraction: z.array(z.number().min(0).max(1)).length(3).default([0.2, 0.18, 0.16]), // Gopher, for word 2-, 3-, 4-grams
        maxDuplicateNgramCharFraction: z.array(z.number().min(0).max(1)).length(6).default([0.15, 0.14, 0.13, 0.12, 0.11, 0.1]), // Gopher, for word 5- to 10-grams
        copyNgramWords: z.number().int().min(4).default(30), // (ours) sharing a run of this many words with its seed = copying
        dedup: z.boolean().default(true), // drop exact duplicates of earlier synthetic documents
        maxLossQuantile: z.number().gt(0).lt(1).optional(), // (ours) perplexity filter: drop documents whose loss per token under lossModel is above this quantile of their shard's (after the rules above); unset = off
        lossModel: z.string().min(1).default('baseline'), // the model that scores documents for maxLossQuantile: a model of this run or a folder
      })
      .strict()
      .default({}),
    quality: z
      .object({
        samples: z.number().int().nonnegative().default(1000), // synthetic and real documents measured; 0 = no quality.json
        irrelevanceThreshold: z.number().min(-1).max(1).optional(), // synthetic doc vs its seed below this = irrelevant; default: the pairs stage's α
        judge: z
          .object({
            baseUrl: z.string().url(), // an OpenAI-compatible /v1/chat/completions server
            model: z.string().min(1),
            apiKeyEnv: z.string().min(1).optional(),
            samples: z.number().int().positive().default(100), // documents judged per side (synthetic, real)
            concurrency: z.number().int().positive().default(4),
            maxRetries: z.number().int().nonnegative().default(4),
            timeoutMs: z.number().int().positive().default(120_000),
          })
          .strict()
          .optional(), // the optional LLM-judged non-factual rate
      })
      .strict()
      .default({}),
  })
  .strict();
export type SynthesizeConfig = z.infer<typeof SynthesizeConfigSchema>;

export const EvalConfigSchema = z
  .object({
    // Model labels (baseline, sbp, oracle: models/<label> of this run) or label=folder; baseline+sbp+oracle get compared
    models: z.array(z.string().min(1)).min(1).default(['baseline', 'sbp', 'oracle']),
    backend: z.enum(['auto', 'cpu', 'ref']).default('auto'),
    batchTokens: z.number().int().min(2).default(1024), // B × T per forward pass; the host holds B × T × V logits (bench/eval.ts: larger is not faster on cpu)
    window: z.number().int().min(2).optional(), // input tokens per scoring row; default train.seqLen (the context the models trained on)
    stride: z.number().int().min(1).optional(), // perplexity windows start this far apart; default window / 2 (ours)
    maxDocs: z.number().int().positive().default(1000), // (ours) documents per perplexity set, in stored order
    heldout: z.boolean().default(true), // perplexity on the run's held-out split
    // other corpora: a source spec (brown, jsonl:file, text-dir:folder, ...) or corpus:<prepared corpus folder>[#split]
    sets: z.array(z.object({ name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only'), source: z.string().min(1) }).strict()).default([]),
    tasks: z.array(z.string().min(1)).default([]), // JSONL task files (docs/eval.md); name = file name without .jsonl
    cloze: z
      .object({
        passages: z.number().int().nonnegative().default(200), // (ours) held-out passages; 0 = no cloze task
        contextWords: z.number().int().positive().default(100), // (ours) words of passage before the target word, at most
        minContextWords: z.number().int().nonnegative().default(20), // (ours) and at least
      })
      .strict()
      .default({}),
    bootstrap: z
      .object({
        samples: z.number().int().nonnegative().default(1000), // resamples of the items; 0 = no intervals
        confidence: z.number().gt(0).lt(1).default(0.95),
      })
      .strict()
      .default({}),
    seed: z.number().int().nonnegative().optional(), // cloze sampling and bootstrap; default: the run seed
  })
  .strict();
export type EvalConfig = z.infer<typeof EvalConfigSchema>;

export const ServeConfigSchema = z
  .object({
    model: z.string().min(1).default('baseline'), // a model of this run (models/<name>) or a model folder
    modelName: z.string().min(1).optional(), // the id clients ask for; default: the model folder's name
    host: z.string().min(1).default('127.0.0.1'), // only this machine; 0.0.0.0 to serve others
    port: z.number().int().min(0).max(65_535).default(8000), // 0 = any free port
    maxBatch: z.number().int().min(1).max(1024).default(16), // sequences decoded together
    prefillTokens: z.number().int().min(1).default(4096), // prompt tokens prefilled per step, so new requests delay running ones boundedly
    maxQueue: z.number().int().nonnegative().default(1024), // sequences waiting for a slot before 429
    maxN: z.number().int().min(1).max(1024).default(64), // choices per completion request
    backend: z.enum(['auto', 'cpu', 'ref']).default('auto'),
    embedBatchTokens: z.number().int().min(2).default(8192), // B × T per embedding forward pass
    shutdownGraceMs: z.number().int().nonnegative().default(30_000), // requests in flight get this long to finish on SIGINT/SIGTERM
  })
  .strict();
export type ServeConfig = z.infer<typeof ServeConfigSchema>;

/** A list of sweep values: at least one, none twice. */
function sweepList<T extends z.ZodNumber>(item: T) {
  return z
    .array(item)
    .min(1, 'a list of at least one value')
    .refine((xs) => new Set(xs).size === xs.length, (xs) => ({ message: `each value once (${xs.filter((x, i) => xs.indexOf(x) !== i).join(', ')} given twice)` }));
}

export const ExperimentConfigSchema = z
  .object({
    uniqueTokens: z.number().int().positive().default(2_000_000), // U: unique real tokens of the baseline and SBP runs (paper: 10B at 200B)
    budgetTokens: z.number().int().positive().default(16_000_000), // B: tokens every run trains on (train.steps/totalTokens are ignored)
    syntheticShare: z.number().min(0).lt(1).default(0.375), // S / B (paper: 75B of 200B)
    // Sweeps (docs/experiment.md): each list, when given, runs one variant per value in one experiment.
    syntheticShares: sweepList(z.number().gt(0).lt(1)).optional(), // several S / B; replaces syntheticShare; synthesis runs once, at the largest
    alphas: sweepList(z.number().min(-1).max(1)).optional(), // several pair.alpha, each with its own pairs, synthesizer and synthetic corpus
    alphaQuantiles: sweepList(z.number().min(0).max(1)).optional(), // several pair.alphaQuantile instead (not with alphas)
    seeds: sweepList(z.number().int().nonnegative()).optional(), // every run (baseline, SBP, controls, oracle) once per seed; replaces train.seed for them
    // Control arms, each compute-matched like SBP: selfdistill = S tokens sampled from the baseline without a seed; randompairs = a synthesizer tuned on random pairs
    controls: z
      .array(z.enum(['selfdistill', 'randompairs']))
      .refine((xs) => new Set(xs).size === xs.length, 'each control once')
      .default(['selfdistill', 'randompairs']),
    baselineSearch: z
      .object({
        weightDecay: z.array(z.number().nonnegative()).default([0.1, 0.4, 1.6]), // grid for train.weightDecay, chosen on a validation split; one value: used as is; []: train.weightDecay
        validationTokens: z.number().int().positive().default(16_384), // train-side tokens held out of every run to choose on
      })
      .strict()
      .default({}),
    evalPoints: z.number().int().nonnegative().default(10), // held-out evaluations through each run (learning curves); 0: train.evalEvery
    dataOrder: z.enum(['mixed', 'synthetic-first']).default('mixed'), // synthetic runs: real and synthetic mixed throughout, or every synthetic document first and the real data last
    oracleFactor: z.number().min(1).default(20), // the oracle gets this many × U unique tokens when the corpus has them (paper: ~20×)
    subsetSalt: z.string().default('sbp-experiment'), // salt of the hash order that picks the subsets; change it to draw others
    probeSteps: z.number().int().nonnegative().default(3), // timed training steps of the throughput probe behind the time estimate; 0 = no probe
    calibration: z
      .object({ trainTokensPerSec: z.number().positive() }) // a stored throughput to estimate time from instead of probing
      .strict()
      .optional(),
  })
  .strict();
export type ExperimentConfig = z.infer<typeof ExperimentConfigSchema>;

export const RunConfigSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only').default('default'),
    runsDir: z.string().default('runs'),
    seed: z.number().int().nonnegative().default(1234),
    threads: z.number().int().min(1).max(1024).optional(), // default: all cores
    prepare: PrepareConfigSchema.default({}),
    tokenizer: TokenizerConfigSchema.default({}),
    tokenize: TokenizeConfigSchema.default({}),
    model: ModelSpecSchema.default({}), // architecture of the models this run trains: a preset plus overrides
    train: TrainConfigSchema.default({}),
    sample: SampleConfigSchema.default({}),
    embed: EmbedConfigSchema.default({}),
    pair: PairConfigSchema.default({}),
    tune: TuneConfigSchema.default({}),
    synthesize: SynthesizeConfigSchema.default({}),
    eval: EvalConfigSchema.default({}),
    serve: ServeConfigSchema.default({}),
    experiment: ExperimentConfigSchema.default({}), // sbp experiment: the compute-matched baseline / SBP / oracle runs
  })
  .strict();
export type RunConfig = z.infer<typeof RunConfigSchema>;
