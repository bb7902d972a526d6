import type { Backend } from '../../src/engine/backend.js';
import { RefBackend } from '../../src/engine/ref-backend.js';

/**
 * The backends the model tests run on: `ref` always, plus every other backend that
 * `src/engine/index.ts` can create on this machine (`cpu` once the native addon is built).
 * The module is imported by a computed name so that this file compiles before it exists.
 */
export async function modelTestBackends(): Promise<Backend[]> {
  const out: Backend[] = [new RefBackend()];
  const spec = '../../src/engine/index.js';
  let factory: ((name: string) => Backend | Promise<Backend>) | undefined;
  try {
    const mod = (await import(spec)) as { createBackend?: (name: string) => Backend | Promise<Backend> };
    factory = mod.createBackend;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
  if (factory) {
    for (const name of ['cpu', 'cuda']) {
      try {
        out.push(await factory(name));
      } catch (err) {
        console.log(`# model tests: backend "${name}" not available here (${(err as Error).message.split('\n')[0]})`);
      }
    }
  }
  return out;
}
