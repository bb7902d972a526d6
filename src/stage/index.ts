// sbp/stage: the stage contract (config and input hashes, manifest, per-shard markers, resume), the graph runner, model folders by name, test hooks.
export * from './stage.js';
export { resolveModelDir, type ResolvedModelDir } from './model-dir.js';
export { runStageGraph, topologicalOrder, dependentsOf, type StageNode, type NodeOutcome, type GraphHooks } from './stage-graph.js';
export { TEST_HOOK_ENV, testHooksFromEnv, type StageTestHooks, type TestHookEnv } from './test-hooks.js';
export type { SweepAlpha } from './plan-record.js';
