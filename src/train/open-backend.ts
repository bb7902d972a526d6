import { UserError } from '../common/errors.js';
import type { Backend } from '../engine/backend.js';
import { RefBackend } from '../engine/ref-backend.js';

export type BackendChoice = 'auto' | 'cpu' | 'ref';

type Factory = (name: string, opts?: { threads?: number }) => Backend | Promise<Backend>;

/**
 * The backend a command computes on: `ref` (pure TypeScript, always there), `cpu` (the native addon),
 * or `auto` = cpu when the addon loads on this machine, else ref with a note.
 */
export async function openBackend(choice: BackendChoice, threads: number | undefined, note: (line: string) => void = () => {}): Promise<Backend> {
  if (choice === 'ref') return new RefBackend();
  try {
    const factory = await engineFactory();
    return await factory('cpu', { threads });
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    if (choice === 'cpu') throw new UserError(`the cpu backend is not available here (${why}); build the native addon or use --backend ref`);
    note(`cpu backend not available (${why}); using the slower ref backend`);
    return new RefBackend();
  }
}

async function engineFactory(): Promise<Factory> {
  // Imported by a computed name: the backend registry ships with the native engine.
  const spec = '../engine/index.js';
  const mod = (await import(spec)) as { createBackend?: Factory };
  if (!mod.createBackend) throw new Error('the engine module exports no createBackend');
  return mod.createBackend;
}
