import { Command } from 'commander';
import { openRunConfig } from '../config/run-record.js';
import { writeReport } from '../report/report.js';
import { addCommonOptions, type CommonFlags } from './common.js';

export function register(program: Command): void {
  const cmd = new Command('report').description(
    'Write runs/<name>/report.html: one self-contained HTML file (inline CSS and SVG charts, nothing loaded from the network) with the plan, data statistics, pairs, synthesizer, synthetic samples, training curves, results and synthetic quality; stages not run yet are marked so.',
  );
  addCommonOptions(cmd).action(async (flags: CommonFlags) => {
    // The report only reads the run: resolve which run without rewriting its config.json (and
    // without creating a run directory for a mistyped name).
    const top: Record<string, unknown> = {};
    if (flags.run !== undefined) top.name = flags.run;
    if (flags.runsDir !== undefined) top.runsDir = flags.runsDir;
    const { runDir } = openRunConfig({ file: flags.config, overrides: [top], sets: flags.set }, { mode: 'read' }, flags.run !== undefined);
    const { path, sections } = await writeReport(runDir);
    const missing = sections.filter((s) => !s.ready).map((s) => s.id);
    process.stdout.write(`report: ${path}\n`);
    if (!flags.quiet) process.stdout.write(missing.length > 0 ? `  not run yet: ${missing.join(', ')}\n` : `  all ${sections.length} sections have data\n`);
  });
  program.addCommand(cmd);
}
