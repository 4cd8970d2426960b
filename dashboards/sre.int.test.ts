import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../storage/store.js';
import { insertBreakerEvents, toBreakerRow } from '../storage/tables/breaker-events.js';
import { insertSpans, toSpanRow } from '../storage/tables/spans.js';
import { span, toolCall } from '../test/spans.js';
import { freshStore } from '../test/store.js';
import { srePanels } from './sre.js';

describe('SRE dashboard panels (chDB)', () => {
  let store: Store;
  const t0 = 1_700_000_000_000;
  beforeAll(async () => {
    store = await freshStore();
    const events = [
      span({ kind: 'llm_call', name: 'chat', costMicros: 2_000, startTimeMs: t0 }),
      toolCall('search', 'h', {}, { startTimeMs: t0 + 1 }),
      span({ kind: 'llm_call', name: 'chat', costMicros: 5_000, agentId: 'agent-2', startTimeMs: t0 + 2 }),
      span({ kind: 'llm_call', name: 'chat', tenantId: 'tenant-b', costMicros: 9_999, startTimeMs: t0 + 3 }),
    ];
    await insertSpans(store, events.map((e, i) => toSpanRow(e, { partition: 0, offset: String(i) })), 't');
    await insertBreakerEvents(store.client, [toBreakerRow({ eventId: 'trip', tenantId: 'tenant-a', agentId: 'agent-1', runId: 'run-1', treeId: 'run-1', scope: 'run', target: 'run-1', action: 'trip', detector: 'loop', threshold: 3, observed: 3, windowMs: null, policyId: 'builtin:loop', policyVersion: 1, lastAction: 'tool_call search', triggerEventId: 'e', stepsElapsed: 4, runCostMicros: 2_000, treeCostMicros: 2_000, message: 'm', timeMs: t0 + 5 })], 'b');
  });
  afterAll(async () => { await store.close(); });

  const params = { tenant: 'tenant-a', from: '2023-11-14 00:00:00.000', to: '2023-11-15 00:00:00.000' };
  const panel = async (id: string) => (await store.client.query({ query: srePanels.find((p) => p.id === id)!.sql, query_params: params, format: 'JSONEachRow' })).json<Record<string, unknown>>();

  it('counts trips by detector for one tenant', async () => {
    expect(await panel('trips-by-detector')).toEqual([{ detector: 'loop', trips: '1', agents: '1', run_cost_micros: '2000' }]);
  });

  it('lists recent trips', async () => {
    expect(await panel('recent-trips')).toEqual([expect.objectContaining({ run_id: 'run-1', detector: 'loop', steps_elapsed: '4' })]);
  });

  it('sums spend by agent, never another tenant\'s', async () => {
    expect(await panel('spend-by-agent')).toEqual([
      { agent_id: 'agent-2', spans: '1', errors: '0', spend_micros: '5000', unpriced_llm_calls: '0' },
      { agent_id: 'agent-1', spans: '2', errors: '1', spend_micros: '2000', unpriced_llm_calls: '0' },
    ]);
  });
});
