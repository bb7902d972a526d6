import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../common/errors.js';
import { Progress } from '../common/progress.js';
import { readJsonIfExists } from '../common/fs-atomic.js';
import { packageRoot } from '../common/package-root.js';
import type { TorchEngineConfig } from '../config/schema.js';
import { loadModelFolder } from '../model/hf-folder.js';
import type { LlamaModel } from '../model/llama.js';
import type { Batch } from '../model/types.js';
import type { BatchSource } from './batch-source.js';
import { TRAINER_RESULT_FILE, TRAINER_STOP_FILE, writeTrainerJob } from './trainer-job.js';
import type { EvalMetrics, StepMetrics, TrainerConfig, TrainOptions, TrainResult } from './trainer.js';

/** What `train` takes, but the model is sbp's Llama (its weights go to the trainer and come back) and no model store: the trainer writes its own checkpoints. */
export type ExternalTrainOptions = Omit<TrainOptions, 'model' | 'models'> & { model: LlamaModel };

/** trainer-result.json (docs/trainers.md): what `train` returns, tagged. */
type TrainerResultFile = TrainResult & { format: 'sbp-trainer-result' };


/** train.torch.python, else .venv/bin/python here, else the one in the sbp package, else python3. */
export function resolvePython(torch: TorchEngineConfig | undefined): string {
  if (torch?.python) return torch.python;
  for (const venv of [resolve('.venv'), join(packageRoot(), '.venv')]) {
    const py = join(venv, 'bin', 'python');
    if (existsSync(py)) return py;
  }
  return 'python3';
}

const INSTALL_HINT =
  'install the Python stack with `bash scripts/install-python-deps.sh` in the sbp package (a .venv with the pinned torch, transformers and safetensors; ' +
  'on a GPU box first `pip install torch` for your CUDA, see docs/trainers.md), or point train.torch.python at an interpreter that has them';

/**
 * Checks that `python` has torch, transformers, safetensors and numpy (found by importlib, without
 * importing them: importing torch and transformers costs seconds, and the trainer does it anyway);
 * a UserError says what to install otherwise. Returns the installed versions.
 */
export function checkTorchPython(python: string): { torch: string; transformers: string } {
  const script =
    'import importlib.util as u, importlib.metadata as m, json, sys\n' +
    'missing = [p for p in ("torch", "transformers", "safetensors", "numpy") if u.find_spec(p) is None]\n' +
    'print(json.dumps({"missing": missing, "torch": m.version("torch") if not missing else None, "transformers": m.version("transformers") if not missing else None}))\n';
  const r = spawnSync(python, ['-c', script], { encoding: 'utf8' });
  if (r.error) throw new UserError(`train.engine=torch: cannot run ${python} (${r.error.message}); ${INSTALL_HINT}`);
  if (r.status !== 0) throw new UserError(`train.engine=torch: ${python} failed (${(r.stderr || '').trim().split('\n').pop() ?? ''}); ${INSTALL_HINT}`);
  const v = JSON.parse(r.stdout.trim().split('\n').pop()!) as { missing: string[]; torch: string; transformers: string };
  if (v.missing.length > 0) throw new UserError(`train.engine=torch: ${python} lacks ${v.missing.join(', ')}; ${INSTALL_HINT}`);
  return { torch: v.torch, transformers: v.transformers };
}

/** The argv that runs the bundled PyTorch trainer on a job: plain python for one process, torchrun beyond. */
export function torchCommand(python: string, torch: TorchEngineConfig | undefined, jobPath: string): string[] {
  const n = torch?.nprocPerNode ?? 1;
  const extra = torch?.torchrunArgs ?? [];
  if (n === 1 && extra.length === 0) return [python, '-m', 'sbp_trainer', jobPath];
  return [python, '-m', 'torch.distributed.run', ...(extra.length > 0 ? extra : ['--standalone']), `--nproc_per_node=${n}`, '-m', 'sbp_trainer', jobPath];
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Trains through the trainer contract (docs/trainers.md): writes the job folder, launches the trainer
 * (the bundled PyTorch one for engine `torch`, `train.command` for engine `command`), turns its
 * progress lines into the bar, asks it to stop through the STOP file when `shouldStop` says so, and
 * reads back trainer-result.json and the final Hugging Face folder into `model` (sbp's own loader, so
 * every model a trainer returns is checked to load here).
 */
export async function trainExternal(o: ExternalTrainOptions): Promise<TrainResult> {
  const engine = o.cfg.engine ?? 'sbp';
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let argv: string[];
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (engine === 'torch') {
    const python = resolvePython(o.cfg.torch);
    checkTorchPython(python); // the trainer itself refuses device cuda when torch sees no GPU
    const pyPath = join(packageRoot(), 'python');
    env.PYTHONPATH = env.PYTHONPATH ? `${pyPath}:${env.PYTHONPATH}` : pyPath;
    argv = []; // set after the job is written (it names the job path)
  } else if (engine === 'command') {
    if (!o.cfg.command) throw new UserError('train.engine is "command" but train.command is not set; give the shell command of a trainer that honours docs/trainers.md ({job} is replaced by the job.json path)');
    argv = [];
  } else {
    throw new Error(`trainExternal called for engine ${engine}`);
  }

  const { jobDir, jobPath, job } = writeTrainerJob({ model: o.model, data: o.data, heldout: o.heldout, cfg: o.cfg, dir: o.dir, engine, log });
  const resultPath = join(o.dir, TRAINER_RESULT_FILE);
  rmSync(resultPath, { force: true });
  const absJob = resolve(jobPath);
  if (engine === 'torch') argv = torchCommand(resolvePython(o.cfg.torch), o.cfg.torch, absJob);
  else argv = ['sh', '-c', o.cfg.command!.replaceAll('{job}', shellQuote(absJob))];
  env.SBP_TRAINER_JOB = absJob;
  env.SBP_PARENT_PID = String(process.pid); // the bundled trainer checkpoints and stops if sbp is killed

  const tokensPerStep = job.tokensPerStep;
  const progress = new Progress({ label: `train (${engine})`, total: job.steps * tokensPerStep, unit: 'tok', quiet: o.quiet });
  // Its own process group: Ctrl-C reaches sbp only, which asks the trainer to stop through the STOP file.
  const child = spawn(argv[0]!, argv.slice(1), { cwd: jobDir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    } catch {
      // the group is gone already
    }
  };
  process.on('exit', killGroup);
  let stopAsked = false;
  const stderrTail: string[] = [];
  const out = createInterface({ input: child.stdout! });
  out.on('line', (line) => {
    let msg: Record<string, unknown> | null = null;
    if (line.startsWith('{')) {
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        msg = null;
      }
    }
    if (!msg || typeof msg.kind !== 'string') {
      if (!o.quiet) log(line);
      return;
    }
    if (msg.kind === 'start') {
      progress.set(Number(msg.step) * tokensPerStep);
    } else if (msg.kind === 'step') {
      const m = msg as unknown as StepMetrics & { kind: string };
      progress.set(m.tokens, `step ${m.step}/${job.steps} loss ${m.loss?.toFixed(4) ?? 'NaN'} lr ${m.lr.toExponential(2)}`);
      o.onStep?.(m);
      if (!stopAsked && m.step < job.steps && (o.shouldStop?.(m.step) ?? false)) {
        stopAsked = true;
        writeFileSync(join(jobDir, TRAINER_STOP_FILE), `stop requested at step ${m.step}\n`);
      }
    } else if (msg.kind === 'eval') {
      o.onEval?.(msg as unknown as EvalMetrics);
    } else if (msg.kind === 'log') {
      log(String(msg.message));
    }
  });
  const err = createInterface({ input: child.stderr! });
  err.on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 40) stderrTail.shift();
    if (!o.quiet) log(line);
  });
  const code: number | null = await new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (c, sig) => res(c ?? (sig ? 128 : 1)));
  }).finally(() => process.off('exit', killGroup)) as number | null;
  progress.finish();

  const result = readJsonIfExists<TrainerResultFile>(resultPath);
  if (code !== 0 || !result) {
    const tail = stderrTail.slice(-15).join('\n');
    throw new UserError(
      `the ${engine} trainer (${argv.join(' ')}) ${code !== 0 ? `exited with code ${code}` : `wrote no ${resultPath}`}; ` +
        `its job is ${jobPath}${tail ? `. Last lines of its stderr:\n${tail}` : ''}`,
    );
  }
  if (result.format !== 'sbp-trainer-result') throw new UserError(`${resultPath}: not a trainer result (format ${JSON.stringify(result.format)}); see docs/trainers.md`);
  if (result.status === 'finished') {
    if (result.step !== job.steps) throw new UserError(`${resultPath}: status finished at step ${result.step}, the job has ${job.steps} steps`);
    // The trainer's final model, through sbp's loader (a check of the contract's output).
    const trained = loadModelFolder(o.dir, o.model.backend);
    try {
      if (trained.numParams !== o.model.numParams) throw new UserError(`${o.dir}: the trainer returned a model of ${trained.numParams} parameters, it was given ${o.model.numParams}`);
      o.model.backend.copy(o.model.params, trained.params);
    } finally {
      trained.dispose?.();
    }
  }
  return {
    status: result.status,
    resumedFrom: result.resumedFrom,
    step: result.step,
    tokens: result.tokens,
    skippedSteps: result.skippedSteps,
    lastLoss: result.lastLoss,
    heldout: result.heldout,
    seconds: result.seconds,
    tokensPerSec: result.tokensPerSec,
  };
}

/** A small reader for tests and tools: the metrics rows a trainer wrote. */
export function readMetricsRows(dir: string): Array<Record<string, unknown>> {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
