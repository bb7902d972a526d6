import { z } from 'zod';

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
    kind: z.literal('text-dir'),
    path: z.string().min(1),
    extensions: z.array(z.string().min(1)).min(1).default(['.txt', '.md', '.rst']),
  }).strict(),
  // Built-in corpora; `path` points at a copy outside the default install location.
  z.object({ kind: z.literal('spam-assassin'), path: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal('brown'), path: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal('gcide'), path: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal('linux-doc'), path: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal('manpages'), path: z.string().min(1).optional(), groff: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal('python-doc'), path: z.string().min(1).optional() }).strict(),
]);
export type SourceConfig = z.infer<typeof SourceSchema>;
export const SOURCE_KINDS = ['jsonl', 'text-dir', 'spam-assassin', 'brown', 'gcide', 'linux-doc', 'manpages', 'python-doc'] as const;

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
    tokensPerShard: z.number().int().positive().default(1 << 24),
    splits: z.array(z.enum(['train', 'heldout'])).default(['train', 'heldout']),
  })
  .strict();
export type TokenizeConfig = z.infer<typeof TokenizeConfigSchema>;

export const RunConfigSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only').default('default'),
    runsDir: z.string().default('runs'),
    seed: z.number().int().nonnegative().default(1234),
    threads: z.number().int().min(1).max(1024).optional(), // default: all cores
    prepare: PrepareConfigSchema.default({}),
    tokenizer: TokenizerConfigSchema.default({}),
    tokenize: TokenizeConfigSchema.default({}),
  })
  .strict();
export type RunConfig = z.infer<typeof RunConfigSchema>;
