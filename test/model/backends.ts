import type { Backend } from '../../src/engine/backend.js';
import { createBackend } from '../../src/engine/open-backend.js';
import { RefBackend } from '../../src/engine/ref-backend.js';

/**
 * The backends the model tests run on: `ref` always, plus `cpu` when the native addon loads on this
 * machine (a missing addon is said, not hidden).
 */
export async function modelTestBackends(): Promise<Backend[]> {
  const out: Backend[] = [new RefBackend()];
  try {
    out.push(createBackend('cpu'));
  } catch (err) {
    console.log(`# model tests: backend "cpu" not available here (${(err as Error).message.split('\n')[0]})`);
  }
  return out;
}
