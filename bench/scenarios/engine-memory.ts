/**
 * Engine memory per 10,000 live spawn trees: what one processor instance holds in its heap for
 * the trees its partitions carry, and what each tree costs in the state changelog. No Kafka:
 * the engine alone, folding a realistic multi-tree workload.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encodeChanges } from '../../services/processor/state-changelog.js';
import { createEngine } from '../../streams/engine.js';
import { createPolicyBook } from '../../streams/policies.js';
import { workload } from '../../test/workload.js';
import { sized, type ScenarioRun } from './scenario.js';

// The worker runs without --expose-gc; turn it on here so heap figures are after a full collection.
v8.setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export const run: ScenarioRun = async (ctx) => {
  const trees = sized(ctx, 10_000, 2_000);
  const stepsPerTree = 20;
  ctx.progress(`building ${trees} trees x ${stepsPerTree + 1} spans`);
  const { events, policies } = workload({ trees, stepsPerTree, seed: 11 });
  const book = createPolicyBook();
  for (const p of policies) book.apply(p.policyId, p);

  let engine: ReturnType<typeof createEngine> | null = createEngine({ policies: book });
  for (const event of events) engine.apply(event);
  events.length = 0; // the workload goes: only the engine's state stays reachable
  let snapshotBytes = 0;
  for (const id of engine.treeIds()) for (const [key, value] of encodeChanges(engine.changes(id))) snapshotBytes += key.length + (value?.length ?? 0);
  const treeCount = engine.treeCount;
  const withEngine = heapAfterGc();
  engine = null; // and then the engine too: the difference is what it held
  const without = heapAfterGc();
  const held = withEngine - without;
  const per10k = (held / trees) * 10_000;
  ctx.progress(`the engine held ${(held / 2 ** 20).toFixed(1)} MiB for ${treeCount} trees`);

  return {
    figures: [
      { metric: 'engine heap per 10,000 live trees', value: per10k / 2 ** 20, unit: 'MiB', note: `${trees} trees of ${stepsPerTree + 1} spans (llm and tool calls, 1 in 10 looping, 1 in 10 over budget), after full GC` },
      { metric: 'engine heap per live tree', value: held / trees, unit: 'bytes' },
      { metric: 'state snapshot per tree (changelog value)', value: snapshotBytes / trees, unit: 'bytes', note: 'binary changelog records (services/processor/state-changelog.ts), dedup window of 8-byte fingerprints included' },
      { metric: 'trees held', value: treeCount, unit: 'count' },
    ],
    notes: ['Live trees only: the processor evicts a finished tree once idle past the retention in event time (65 min by default), keeping a small summary (README, Eviction of finished trees), so memory follows the trees in flight, not every tree ever seen.'],
  };
};
