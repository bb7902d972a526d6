import { Command, CommanderError } from 'commander';
import { isUserError } from '../common/errors.js';
import { commitRunRecords } from './common.js';
import { ZodError } from 'zod';

/** Each command module adds itself to the program. Keep this list in pipeline order. */
const commandModules: Array<() => Promise<{ register: (program: Command) => void }>> = [
  () => import('./config.js'),
  () => import('./prepare.js'),
  () => import('./tokenizer.js'),
  () => import('./tokenize.js'),
  () => import('./train.js'),
  () => import('./sample.js'),
  () => import('./embed.js'),
  () => import('./pair.js'),
  () => import('./tune.js'),
  () => import('./synthesize.js'),
  () => import('./eval.js'),
  () => import('./report.js'),
  () => import('./export.js'),
  () => import('./experiment.js'),
  () => import('./demo.js'),
  () => import('./serve.js'),
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('sbp')
    .description('Synthetic Bootstrapped Pretraining: mine related document pairs, train a synthesizer, pretrain on real + synthetic text.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const load of commandModules) (await load()).register(program);
  // Commands added with addCommand do not inherit exitOverride: without it, commander exits with 1
  // on a usage error itself, and main could not give usage errors the exit code 2 of user errors.
  const overrideAll = (cmd: Command): void => {
    cmd.exitOverride();
    for (const sub of cmd.commands) overrideAll(sub);
  };
  overrideAll(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
    commitRunRecords(process.exitCode === undefined || process.exitCode === 0 || process.exitCode === 130);
  } catch (err) {
    commitRunRecords(false);
    if (err instanceof CommanderError) {
      // Help and --version exit 0; every usage error (unknown option, bad value) exits 2, like a
      // validation error: the user must change the command.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (isUserError(err)) {
      console.error(`sbp: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    if (err instanceof ZodError) {
      console.error(`sbp: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}
