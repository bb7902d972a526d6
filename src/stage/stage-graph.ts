import { hashValue } from '../common/hash.js';

/**
 * A small declarative DAG over stage functions. Each node names the stages it reads (deps), the
 * slice of the config it depends on, and how to run it. Running the graph visits the nodes in
 * dependency order; each node's stage function decides by itself, through the stage contract
 * (config hash of its slice + the input hashes of its upstream stages), whether it is already done.
 * Because a downstream stage's input hashes include its upstream stages' identities, changing one
 * option reruns exactly the nodes that depend on it.
 */
export interface StageNode {
  name: string;
  deps: readonly string[];
  /** The part of the config this node depends on (shown in the graph record; the stage hashes it). */
  slice: unknown;
  /** Runs (or skips) the stage; `skipped` says whether its manifest already matched. */
  run: () => Promise<{ skipped: boolean }>;
}

export interface NodeOutcome {
  name: string;
  skipped: boolean;
  seconds: number;
  sliceHash: string;
}

export interface GraphHooks {
  /** Before a node runs. */
  onStart?: (node: StageNode) => void;
  onDone?: (outcome: NodeOutcome) => void;
}

/** Nodes in dependency order (stable: among ready nodes, the order they were declared in). */
export function topologicalOrder(nodes: readonly StageNode[]): StageNode[] {
  const byName = new Map<string, StageNode>();
  for (const n of nodes) {
    if (byName.has(n.name)) throw new Error(`stage graph: node "${n.name}" is declared twice`);
    byName.set(n.name, n);
  }
  for (const n of nodes) {
    for (const d of n.deps) if (!byName.has(d)) throw new Error(`stage graph: node "${n.name}" depends on unknown node "${d}"`);
  }
  const done = new Set<string>();
  const out: StageNode[] = [];
  while (out.length < nodes.length) {
    const ready = nodes.find((n) => !done.has(n.name) && n.deps.every((d) => done.has(d)));
    if (!ready) {
      const left = nodes.filter((n) => !done.has(n.name)).map((n) => n.name);
      throw new Error(`stage graph: a cycle among ${left.join(', ')}`);
    }
    done.add(ready.name);
    out.push(ready);
  }
  return out;
}

/** Every node that depends, directly or not, on `name` (itself included). */
export function dependentsOf(nodes: readonly StageNode[], name: string): Set<string> {
  const out = new Set<string>([name]);
  for (const n of topologicalOrder(nodes)) if (n.deps.some((d) => out.has(d))) out.add(n.name);
  return out;
}

/** Runs every node in dependency order; stops at the first failure (finished nodes keep their manifests). */
export async function runStageGraph(nodes: readonly StageNode[], hooks: GraphHooks = {}): Promise<NodeOutcome[]> {
  const outcomes: NodeOutcome[] = [];
  for (const node of topologicalOrder(nodes)) {
    hooks.onStart?.(node);
    const t0 = performance.now();
    const { skipped } = await node.run();
    const outcome = { name: node.name, skipped, seconds: (performance.now() - t0) / 1000, sliceHash: hashValue(node.slice ?? null) };
    outcomes.push(outcome);
    hooks.onDone?.(outcome);
  }
  return outcomes;
}
