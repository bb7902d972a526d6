import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { UserError } from '../common/errors.js';
import { writeFileAtomic } from '../common/fs-atomic.js';
import { Progress } from '../common/progress.js';
import { loadModelFolder } from '../model/hf-folder.js';
import { sampleTexts } from '../sample/sample-texts.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { resolveModelDir } from '../stage/model-dir.js';
import { openBackend } from '../engine/open-backend.js';
import { addCommonOptions, loadCommandConfig, parseNumberFlag, parsePositiveInt, type CommonFlags } from './common.js';

interface SampleFlags extends CommonFlags {
  model: string;
  prompt: string[];
  promptsFile?: string;
  n?: number;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  batchSize?: number;
  out?: string;
  backend?: 'auto' | 'cpu' | 'ref';
}

export function register(program: Command): void {
  const cmd = new Command('sample').description(
    'Generate text from a model (a run model name or a Hugging Face folder) with a KV cache: temperature, top-p, top-k, reproducible from --seed. Prints JSONL, or writes it to --out.',
  );
  addCommonOptions(cmd)
    .option('-m, --model <model>', 'a model of this run (models/<name>) or a model folder', 'baseline')
    .option('-p, --prompt <text>', 'a prompt (repeatable); none = sample documents from scratch', (v: string, prev: string[]) => [...prev, v], [])
    .option('--prompts-file <file>', 'prompts, one per line (.txt) or {"prompt": ...} per line (.jsonl)')
    .addOption(new Option('-n, --n <n>', 'samples per prompt (sample.n)').argParser(parsePositiveInt('--n')))
    .addOption(new Option('--max-tokens <n>', 'new tokens per sample, at most (sample.maxTokens)').argParser(parsePositiveInt('--max-tokens')))
    .addOption(new Option('--temperature <x>', '0 = greedy (sample.temperature)').argParser(parseNumberFlag('--temperature', { min: 0 })))
    .addOption(new Option('--top-p <x>', 'nucleus mass in (0, 1] (sample.topP)').argParser(parseNumberFlag('--top-p', { min: 0, max: 1, minOpen: true })))
    .addOption(new Option('--top-k <n>', '0 = off (sample.topK)').argParser(parseNumberFlag('--top-k', { min: 0, integer: true })))
    .addOption(new Option('--seed <n>', 'random seed (sample.seed)').argParser(parseNumberFlag('--seed', { min: 0, integer: true })))
    .addOption(new Option('--batch-size <n>', 'sequences decoded together (sample.batchSize)').argParser(parsePositiveInt('--batch-size')))
    .option('-o, --out <file>', 'write JSONL here instead of printing it')
    .addOption(new Option('--backend <kind>', 'compute backend').choices(['auto', 'cpu', 'ref']).default('auto'))
    .action(async (flags: SampleFlags) => {
      const sample = { n: flags.n, maxTokens: flags.maxTokens, temperature: flags.temperature, topP: flags.topP, topK: flags.topK, seed: flags.seed, batchSize: flags.batchSize };
      const { cfg, runDir } = loadCommandConfig(flags, { sample }, { mode: 'read' });
      const sc = cfg.sample;
      const prompts = [...flags.prompt, ...(flags.promptsFile ? readPrompts(flags.promptsFile) : [])];
      if (prompts.length === 0) prompts.push('');
      const model = resolveModelDir(runDir, flags.model, '--model');
      const tokenizerPath = [join(model.dir, 'tokenizer.json'), join(runDir, 'tokenizer', 'tokenizer.json')].find((p) => existsSync(p));
      if (!tokenizerPath) throw new UserError(`${model.dir} has no tokenizer.json and the run has none (${join(runDir, 'tokenizer')}); run \`sbp tokenizer train\` or copy one into the model folder`);
      const tokenizer = Tokenizer.load(tokenizerPath);
      const backend = await openBackend(flags.backend ?? 'auto', cfg.threads, (l) => process.stderr.write(`${l}\n`));
      const lm = loadModelFolder(model.dir, backend);
      const progress = new Progress({ label: 'sample', total: prompts.length * sc.n, unit: 'seq', quiet: flags.quiet });
      const records = sampleTexts(lm, tokenizer, prompts, {
        ...sc,
        seed: sc.seed ?? cfg.seed,
        onStep: ({ done }) => progress.set(done),
      });
      progress.finish();
      const jsonl = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
      if (flags.out) {
        writeFileAtomic(flags.out, jsonl);
        process.stderr.write(`wrote ${records.length} samples to ${flags.out}\n`);
      } else process.stdout.write(jsonl);
    });
  program.addCommand(cmd);
}


function readPrompts(path: string): string[] {
  if (!existsSync(path)) throw new UserError(`--prompts-file: ${path} not found`);
  const lines = readFileSync(path, 'utf8').split('\n');
  if (!path.endsWith('.jsonl')) return lines.filter((l) => l.trim() !== '');
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new UserError(`${path}:${i + 1}: invalid JSON (${(err as Error).message})`);
    }
    const p = (v as { prompt?: unknown; text?: unknown })?.prompt ?? (v as { text?: unknown })?.text;
    if (typeof p !== 'string') throw new UserError(`${path}:${i + 1}: expected an object with a "prompt" (or "text") string`);
    out.push(p);
  });
  return out;
}
