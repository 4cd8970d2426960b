/**
 * A deterministic multi-tree workload for crash and scale tests: many spawn trees across
 * tenants, most behaving, some looping on a failing tool, some overspending their budget.
 * The same seed always yields the same events in the same order.
 */
import { seededRandom } from '../bench/lib/workload.js';
import { policyEventSchema, spanEventSchema, type PolicyEvent, type SpanEvent } from '../schemas/index.js';

export interface Workload {
  events: SpanEvent[];
  policies: PolicyEvent[];
}

export function workload(options: { trees: number; stepsPerTree: number; seed?: number; t0?: number }): Workload {
  const random = seededRandom(options.seed ?? 42);
  const t0 = options.t0 ?? 1_700_000_000_000;
  const perTree: SpanEvent[][] = [];
  for (let i = 0; i < options.trees; i++) {
    const tenantId = `tenant-${i % 3}`;
    const treeId = `tree-${i}`;
    const behaviour = i % 10 === 3 ? 'loop' : i % 10 === 7 ? 'spender' : 'healthy';
    const events: SpanEvent[] = [];
    let clock = t0 + i * 17;
    const push = (over: Partial<SpanEvent> & Pick<SpanEvent, 'kind' | 'name'>) => {
      clock += 1 + Math.floor(random() * 50);
      events.push(spanEventSchema.parse({
        eventId: `${treeId}-e${events.length}`, tenantId, agentId: `agent-${i % 5}`, runId: treeId, treeId, spanId: `${treeId}-s${events.length}`,
        startTimeMs: clock - 5, endTimeMs: clock, status: 'ok', ...over,
      }));
    };
    push({ kind: 'run_start', name: 'task' });
    for (let s = 0; s < options.stepsPerTree; s++) {
      if (s % 2 === 0) {
        push({ kind: 'llm_call', name: 'chat', model: 'gpt-4o', inputTokens: 500, outputTokens: 20, costMicros: behaviour === 'spender' ? 9_000 : 1_000 + Math.floor(random() * 500) });
      } else if (behaviour === 'loop' && s > options.stepsPerTree / 2) {
        push({ kind: 'tool_call', name: 'search', status: 'error', error: 'HTTP 503', argsHash: 'same-args' });
      } else {
        push({ kind: 'tool_call', name: 'search', argsHash: `args-${s}`, outputHash: `out-${s}` });
      }
    }
    perTree.push(events);
  }
  // Interleave trees as concurrent agents would.
  const events: SpanEvent[] = [];
  for (let s = 0; perTree.some((t) => s < t.length); s++) for (const tree of perTree) if (s < tree.length) events.push(tree[s]!);
  const policies = [0, 1, 2].map((n) => policyEventSchema.parse({
    policyId: `budget-${n}`, version: 1, tenantId: `tenant-${n}`, selector: {}, detector: 'tree_budget',
    params: { maxMicros: '60000' }, disposition: 'block', changedBy: 'finance', changedAtMs: t0,
  }));
  return { events, policies };
}
