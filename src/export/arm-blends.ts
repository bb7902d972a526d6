import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest, stageDir } from '../stage/stage.js';
import type { TokenSplit } from './export-tokens.js';

/**
 * What each trained model of a run was trained on, as a Megatron `--data-path` blend of exported
 * token datasets: `<w1> <prefix1> <w2> <prefix2> …`. Read from `models/<name>/manifest.json`
 * (`stats.data`: one entry per data component with its unique and drawn tokens), so every arm that
 * records its components exports — baseline, sbp, controls added later. A component names its token
 * folder and split when its stage records them (`folder`, `split`); otherwise the names sbp's arms
 * use are looked up: `real` = tokens/train, `synthetic` = synth-tokens/train. A component with no
 * exported dataset (the oracle's document subset) is listed under `missing`, not guessed.
 */
export interface ArmBlend {
  model: string;
  parts: Array<{ component: string; weight: number; dataset: string }>;
  missing: Array<{ component: string; reason: string }>;
  dataPath: string; // the `--data-path` argument, relative to the export folder
}

const KNOWN: Record<string, TokenSplit> = {
  real: { folder: 'tokens', split: 'train' },
  synthetic: { folder: 'synth-tokens', split: 'train' },
};

type DataStats = Record<string, { docs?: number; tokens?: number; drawnTokens?: number; folder?: string; split?: string }>;

export function armBlends(runDir: string, exported: ReadonlySet<string>): ArmBlend[] {
  const models = stageDir(runDir, 'models');
  if (!existsSync(models)) return [];
  const out: ArmBlend[] = [];
  for (const name of readdirSync(models).sort()) {
    const data = readManifest<{ data?: DataStats }>(runDir, `models/${name}`)?.stats?.data;
    if (!data || typeof data !== 'object') continue;
    const blend: ArmBlend = { model: name, parts: [], missing: [], dataPath: '' };
    for (const [component, s] of Object.entries(data)) {
      const where = s.folder !== undefined ? { folder: s.folder, split: s.split ?? 'train' } : KNOWN[component];
      const dataset = where ? `${where.folder}-${where.split}` : undefined;
      const weight = s.drawnTokens ?? s.tokens ?? 0;
      if (!dataset) blend.missing.push({ component, reason: 'no token folder recorded for this component' });
      else if (!exported.has(dataset)) blend.missing.push({ component, reason: `${dataset} was not exported` });
      else if (weight > 0) blend.parts.push({ component, weight, dataset });
    }
    const total = blend.parts.reduce((a, p) => a + p.weight, 0);
    blend.dataPath = blend.parts.map((p) => `${(p.weight / total).toFixed(6)} ${p.dataset}`).join(' ');
    out.push(blend);
  }
  return out;
}
