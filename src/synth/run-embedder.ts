import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import type { EmbedConfig } from '../config/schema.js';
import { EMBED_STAGE, HASH_DF_FILE } from '../embed/embed-stage.js';
import type { Embedder } from '../embed/embedder.js';
import { HashEmbedder, readDocumentFrequencies } from '../embed/hash-embedder.js';
import { HttpEmbedder } from '../embed/http-embedder.js';
import { loadLmEmbedder } from '../embed/load-lm-embedder.js';
import { UseEmbedder } from '../embed/use-embedder.js';
import { stageDir } from '../stage/stage.js';

/**
 * The embedder the run's embed stage used, rebuilt from its config (and, for the hash embedder, from
 * the document frequencies it saved), so a new text lands in the same space as embed/vectors.bin:
 * its cosine with a corpus document's stored vector is meaningful.
 */
export async function openRunEmbedder(runDir: string, cfg: EmbedConfig, opts: { threads?: number; env?: NodeJS.ProcessEnv; note?: (line: string) => void } = {}): Promise<Embedder> {
  switch (cfg.embedder) {
    case 'hash': {
      const embedder = new HashEmbedder(cfg.hash);
      embedder.setFrequencies(readDocumentFrequencies(join(stageDir(runDir, EMBED_STAGE), HASH_DF_FILE), { slots: cfg.hash.idfBuckets, ngram: cfg.hash.ngram }));
      return embedder;
    }
    case 'use':
      return UseEmbedder.load(cfg.use);
    case 'http': {
      let apiKey: string | undefined;
      if (cfg.http.apiKeyEnv !== undefined) {
        apiKey = (opts.env ?? process.env)[cfg.http.apiKeyEnv];
        if (!apiKey) throw new UserError(`embed.http.apiKeyEnv is "${cfg.http.apiKeyEnv}" but that environment variable is empty; export it`);
      }
      return HttpEmbedder.connect({ ...cfg.http, apiKey });
    }
    case 'lm':
      return (await loadLmEmbedder(runDir, cfg.lm, { threads: opts.threads, note: opts.note })).embedder;
  }
}
