import { UserError } from '../common/errors.js';
import type { Backend } from './backend.js';
import { CpuBackend, type CpuBackendOptions } from './cpu-backend.js';
import { RefBackend } from './ref-backend.js';

/** What a user may ask for: `ref` (pure TypeScript, always there), `cpu` (the native addon), or `auto`. */
export type BackendChoice = 'auto' | 'cpu' | 'ref';

/** The one way a stage is handed a backend: by the command that runs it (tests pass their own). */
export type BackendFactory = (kind: BackendChoice, threads: number | undefined) => Backend | Promise<Backend>;

export type BackendName = 'ref' | 'cpu';

/** Options of `createBackend`; `ref` takes none, `cpu` takes threads / isa / profile. */
export type BackendOptions = CpuBackendOptions;

/** The engine backend named `name`: `ref` (pure TypeScript oracle) or `cpu` (native addon); throws when it cannot start. */
export function createBackend(name: BackendName, opts: BackendOptions = {}): Backend {
  switch (name) {
    case 'ref':
      return new RefBackend();
    case 'cpu':
      return new CpuBackend(opts);
    default:
      throw new RangeError(`unknown engine backend '${String(name)}' (expected 'ref' or 'cpu')`);
  }
}

/**
 * The backend a command computes on: `ref`, `cpu`, or `auto` = cpu when the addon loads on this
 * machine, else ref with a note. A user's choice that cannot be honoured is a UserError.
 */
export async function openBackend(choice: BackendChoice, threads: number | undefined, note: (line: string) => void = () => {}): Promise<Backend> {
  if (choice === 'ref') return new RefBackend();
  try {
    return createBackend('cpu', { threads });
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    if (choice === 'cpu') throw new UserError(`the cpu backend is not available here (${why}); build the native addon or use --backend ref`);
    note(`cpu backend not available (${why}); using the slower ref backend`);
    return new RefBackend();
  }
}
