import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { span } from '../test/spans.js';
import { freshStore } from '../test/store.js';
import { migrate } from './migrate.js';
import type { Store } from './store.js';
import { breakerEvents, insertBreakerEvents, toBreakerRow } from './tables/breaker-events.js';
import { insertSpans, runSpans, toSpanRow } from './tables/spans.js';

describe('ClickHouse store (chDB)', () => {
  let store: Store;
  beforeAll(async () => { store = await freshStore(); });
  afterAll(async () => { await store.close(); });

  it('applies migrations once; running them again changes nothing', async () => {
    expect(await migrate(store.client)).toEqual([]);
    const tables = await (await store.client.query({ query: "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name", format: 'JSONEachRow' })).json<{ name: string }>();
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['breaker_events', 'schema_migrations', 'spans']));
  });

  it('keeps each span once across a replayed batch and an overlapping re-read', async () => {
    const events = Array.from({ length: 5 }, (_, i) => span({ kind: 'tool_call', name: 'search', runId: 'run-dedup', treeId: 'run-dedup', costMicros: 100 * (i + 1) }));
    const rows = events.map((e, i) => toSpanRow(e, { partition: 0, offset: String(i) }));
    await insertSpans(store, rows, 'spans:0:0-4');
    await insertSpans(store, rows, 'spans:0:0-4'); // the same batch again: dropped by token
    await insertSpans(store, rows.slice(2), 'spans:0:2-4'); // a re-read from offset 2: collapsed by event id
    const spans = await runSpans(store.client, 'tenant-a', 'run-dedup');
    expect(spans.map((s) => s.event_id)).toEqual(events.map((e) => e.eventId));
    expect(spans.reduce((sum, s) => sum + (s.cost_micros ?? 0), 0)).toBe(1500);
  });

  it('keeps tenants apart on read', async () => {
    await insertSpans(store, [toSpanRow(span({ kind: 'llm_call', name: 'chat', tenantId: 'tenant-b', runId: 'run-b' }), { partition: 0, offset: '9' })], 'spans:0:9-9');
    expect(await runSpans(store.client, 'tenant-a', 'run-b')).toEqual([]);
    expect(await runSpans(store.client, 'tenant-b', 'run-b')).toHaveLength(1);
  });

  it('writes a sink-sized insert of spans as one Compact part, not a file per column (migration 0150)', async () => {
    // 30,000 spans with 600-byte arguments: about 25 MiB uncompressed, past ClickHouse's 10 MiB
    // default for a Wide part and well inside spans' 64 MiB.
    const args = 'x'.repeat(600);
    const startTimeMs = Date.UTC(2026, 5, 15);
    const rows = Array.from({ length: 30_000 }, (_, i) => toSpanRow(span({ kind: 'tool_call', name: 'search', tenantId: 'tenant-parts', runId: 'run-parts', treeId: 'run-parts', args, startTimeMs, endTimeMs: startTimeMs + 5 }), { partition: 1, offset: String(i) }));
    await insertSpans(store, rows, 'spans:1:0-29999');
    const parts = await (await store.client.query({ query: "SELECT part_type, rows FROM system.parts WHERE database = currentDatabase() AND table = 'spans' AND active AND partition = '202606'", format: 'JSONEachRow' })).json();
    expect(parts).toEqual([{ part_type: 'Compact', rows: '30000' }]);
  });

  it('stores the audit record of a trip', async () => {
    const audit = { eventId: 'trip-1', tenantId: 'tenant-a', agentId: 'agent-1', runId: 'run-1', treeId: 'run-1', scope: 'run' as const, target: 'run-1', action: 'trip', detector: 'loop', threshold: 3, observed: 3, windowMs: null, policyId: 'builtin:loop', policyVersion: 1, lastAction: 'tool_call search', triggerEventId: 'e-3', stepsElapsed: 5, runCostMicros: 4200, treeCostMicros: 9100, message: 'looping', timeMs: 1_700_000_000_000 };
    await insertBreakerEvents(store.client, [toBreakerRow(audit)], 'audit:0:0-0');
    await insertBreakerEvents(store.client, [toBreakerRow(audit)], 'audit:0:0-0b');
    const rows = await breakerEvents(store.client, 'tenant-a', { runId: 'run-1' });
    expect(rows).toEqual([expect.objectContaining({ event_id: 'trip-1', detector: 'loop', threshold: 3, observed: 3, steps_elapsed: 5, run_cost_micros: 4200, tree_cost_micros: 9100, window_ms: null, time_ms: 1_700_000_000_000 })]);
  });
});
