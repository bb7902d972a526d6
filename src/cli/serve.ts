import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { UserError } from '../common/errors.js';
import { openRunConfig } from '../config/run-record.js';
import { isLoopbackHost } from '../serve/request-guard.js';
import { startServer } from '../serve/server.js';
import { resolveModelDir } from '../stage/model-dir.js';
import { parseNumberFlag, parsePositiveInt } from './common.js';

interface ServeFlags {
  config?: string;
  run?: string;
  runsDir?: string;
  set: string[];
  threads?: number;
  quiet?: boolean;
  model?: string;
  modelName?: string;
  tokenizer?: string;
  host?: string;
  port?: number;
  maxBatch?: number;
  backend?: 'auto' | 'cpu' | 'ref';
  apiKey?: string;
}

export function register(program: Command): void {
  const cmd = new Command('serve')
    .description(
      'Serve a model over an OpenAI-compatible HTTP API: /v1/models, /v1/completions (streaming or not), /v1/embeddings, plus /health and /metrics. Concurrent requests are batched; SIGINT/SIGTERM lets requests in flight finish.',
    )
    .option('-c, --config <file>', 'config file (JSON or YAML); flags override its serve section')
    .option('-r, --run <name>', 'run whose models/<name> --model may name')
    .option('--runs-dir <dir>', 'parent folder of run directories (default: runs)')
    .option('--set <key=value>', 'override any config field, e.g. --set serve.maxQueue=64 (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('-m, --model <model>', 'a model of this run (models/<name>) or a model folder (serve.model, default baseline)')
    .option('--model-name <id>', 'the model id clients ask for (default: the folder name)')
    .option('--tokenizer <file>', "tokenizer.json (default: the model folder's, else the run's)")
    .option('--host <host>', 'address to listen on (serve.host, default 127.0.0.1)')
    .addOption(new Option('--port <n>', 'port; 0 = any free port (serve.port, default 8000)').argParser(parseNumberFlag('--port', { min: 0, max: 65_535, integer: true })))
    .addOption(new Option('--max-batch <n>', 'sequences decoded together (serve.maxBatch, default 16)').argParser(parsePositiveInt('--max-batch')))
    .addOption(new Option('--threads <n>', 'backend threads (default: all cores)').argParser(parsePositiveInt('--threads')))
    .addOption(new Option('--backend <kind>', 'compute backend (serve.backend)').choices(['auto', 'cpu', 'ref']))
    .option('--api-key <key>', 'require `Authorization: Bearer <key>` on every route but /health (default: $SBP_API_KEY; none = no authentication)')
    .option('-q, --quiet', 'no start-up and shutdown lines')
    .action(async (flags: ServeFlags) => {
      const top: Record<string, unknown> = {};
      if (flags.run !== undefined) top.name = flags.run;
      if (flags.runsDir !== undefined) top.runsDir = flags.runsDir;
      if (flags.threads !== undefined) top.threads = flags.threads;
      const serve = { model: flags.model, modelName: flags.modelName, host: flags.host, port: flags.port, maxBatch: flags.maxBatch, backend: flags.backend };
      // Serving writes nothing, so the resolved config is not saved into the run directory.
      const { cfg, runDir } = openRunConfig({ file: flags.config, overrides: [top, { serve }], sets: flags.set }, { mode: 'read' }, flags.run !== undefined);
      const sc = cfg.serve;
      const model = resolveModelDir(runDir, sc.model, '--model');
      const tokenizerPath = flags.tokenizer ?? [join(model.dir, 'tokenizer.json'), join(runDir, 'tokenizer', 'tokenizer.json')].find((p) => existsSync(p));
      if (!tokenizerPath) throw new UserError(`${model.dir} has no tokenizer.json and the run has none (${join(runDir, 'tokenizer')}); pass --tokenizer or copy one into the model folder`);
      if (!existsSync(tokenizerPath)) throw new UserError(`--tokenizer: ${tokenizerPath} not found`);
      const say = (line: string) => {
        if (!flags.quiet) process.stderr.write(`sbp serve: ${line}\n`);
      };
      const apiKey = flags.apiKey ?? (process.env.SBP_API_KEY || undefined);
      if (apiKey !== undefined && apiKey.trim() === '') throw new UserError('--api-key: the key is empty; give a non-empty key or leave the flag out');
      if (!isLoopbackHost(sc.host) && apiKey === undefined) {
        // Printed even with --quiet: anyone who can reach this address can use the model.
        process.stderr.write(`sbp serve: warning: listening on ${sc.host}, reachable from other machines, and the API has no authentication; set --api-key (or SBP_API_KEY) or use --host 127.0.0.1\n`);
      }
      const server = await startServer({
        modelDir: model.dir,
        modelName: sc.modelName,
        tokenizerPath,
        host: sc.host,
        port: sc.port,
        maxBatch: sc.maxBatch,
        prefillTokens: sc.prefillTokens,
        maxQueue: sc.maxQueue,
        maxN: sc.maxN,
        backend: sc.backend,
        threads: cfg.threads,
        embedBatchTokens: sc.embedBatchTokens,
        apiKey,
        log: say,
      });
      // Tests and scripts read this line to learn the port (with --port 0).
      process.stderr.write(`sbp serve: "${server.modelId}" (${server.info.backend} backend, max batch ${sc.maxBatch}, context ${server.info.maxSeqLen}) listening on ${server.url}/v1\n`);
      await new Promise<void>((resolve) => {
        let signalled = false;
        const onSignal = (signal: NodeJS.Signals): void => {
          if (signalled) {
            say(`${signal} again: stopping now`);
            process.exit(1);
          }
          signalled = true;
          say(`${signal}: no new requests; waiting up to ${sc.shutdownGraceMs} ms for ${server.metrics().inFlight} in flight`);
          void server.close({ graceMs: sc.shutdownGraceMs }).then(() => {
            say('stopped');
            resolve();
          });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
    });
  program.addCommand(cmd);
}

