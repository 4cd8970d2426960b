/**
 * Each run's depth in its spawn tree, from the tree's edges already read for the graph: 0 for
 * a root (a run of the tree that no spawn edge points at), then one more per spawn, breadth
 * first, so a run reachable along several paths gets the shortest. Signals and callbacks are
 * causal edges too, but they can point back up the tree; depth follows spawns, which form a
 * tree. A run seen twice is not walked again, so a spawn cycle in bad data ends the walk (runs
 * only on such a cycle have no root and get no depth), and nothing deeper than `maxDepth` gets one.
 *
 * Why here and not a recursive query: every run and edge of a tree is already one key range
 * (tree_id leads the keys of spans, runs and run_edges), so the graph reads the whole tree
 * anyway; a WITH RECURSIVE walk cost one ClickHouse round per level on top of that.
 */
export interface SpawnEdge {
  source: string;
  target: string;
}

export function spawnDepths(runIds: Iterable<string>, spawns: readonly SpawnEdge[], maxDepth: number): Map<string, number> {
  const children = new Map<string, string[]>();
  const spawned = new Set<string>();
  for (const { source, target } of spawns) {
    const list = children.get(source);
    if (list) list.push(target);
    else children.set(source, [target]);
    spawned.add(target);
  }
  const depths = new Map<string, number>();
  let level: string[] = [];
  for (const run of runIds) {
    if (!spawned.has(run) && !depths.has(run)) {
      depths.set(run, 0);
      level.push(run);
    }
  }
  for (let depth = 1; depth <= maxDepth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const parent of level) {
      for (const child of children.get(parent) ?? []) {
        if (depths.has(child)) continue;
        depths.set(child, depth);
        next.push(child);
      }
    }
    level = next;
  }
  return depths;
}
