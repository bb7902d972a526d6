import { UserError } from '../common/errors.js';
import { MAX_MALFORMED_EXAMPLES, type SourceContext } from './source-context.js';

/**
 * Reports one malformed record at `where` (file:line): stops the run with a UserError when the user
 * asked for `fail`, else counts it, keeps it as an example and warns.
 */
export function reportMalformed(ctx: SourceContext, where: string, why: string): void {
  const message = `${where}: ${why}`;
  if (ctx.onMalformed === 'fail') {
    throw new UserError(`${message} (use --on-malformed skip, or prepare.onMalformed: skip, to count and skip such records)`);
  }
  ctx.counters.malformed++;
  if (ctx.counters.malformedExamples.length < MAX_MALFORMED_EXAMPLES) {
    ctx.counters.malformedExamples.push(message);
    ctx.warn(`skipping malformed record ${message}`);
  }
}
