import type { Command } from 'commander';
import { stringify } from 'yaml';
import { resolveConfig } from '../config/load.js';

interface ConfigFlags {
  config?: string;
  set?: string[];
  json?: boolean;
}

/** The fully resolved configuration (defaults + file + --set) as YAML or JSON. */
export function renderResolvedConfig(flags: ConfigFlags): string {
  const cfg = resolveConfig({ file: flags.config, sets: flags.set });
  return flags.json ? JSON.stringify(cfg, null, 2) + '\n' : stringify(cfg);
}

export function register(program: Command): void {
  const config = program.command('config').description('Show or check the run configuration (every field, with defaults filled in).');
  for (const [name, description] of [
    ['show', 'Print the resolved configuration: defaults, overridden by --config, overridden by --set. Start a config file from it.'],
    ['check', 'Validate a config file (and --set overrides); exit 2 with the field, value and what is allowed when wrong.'],
  ] as const) {
    config
      .command(name)
      .description(description)
      .option('-c, --config <file>', 'config file (JSON or YAML)')
      .option('--set <key=value>', 'override a field, e.g. --set tokenizer.vocabSize=8192 (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
      .option('--json', 'print JSON instead of YAML')
      .action((flags: ConfigFlags) => {
        const text = renderResolvedConfig(flags);
        process.stdout.write(name === 'show' ? text : `ok: ${flags.config ?? 'defaults'} is a valid configuration\n`);
      });
  }
}
