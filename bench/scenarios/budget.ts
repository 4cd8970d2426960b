/**
 * The budget ledger of a tree: how long `GET /v1/trees/:treeId/budget` takes for a 10,000-run
 * tree among other trees (chDB), and how live it is: from producing a priced span to Kafka until
 * the ledger answers with it (the sink's path into ClickHouse, then the read).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { createMemoryLog } from '../../log/memory.js';
import type { EventLog } from '../../log/port.js';
import { topicNames, topicSpecs, type Topics } from '../../log/topics.js';
import { spanEventCodec, spanEventSchema } from '../../schemas/index.js';
import { buildApp } from '../../services/api/app.js';
import { createApiKey } from '../../services/api/auth/create-key.js';
import { silentLogger } from '../../services/logger.js';
import { createSink } from '../../services/sink/sink.js';
import { openStore, type Store } from '../../storage/store.js';
import { deleteTopics, freshTopics } from '../lib/kafka.js';
import { figure, latencyFigure } from '../lib/results.js';
import { distribution } from '../lib/stats.js';
import { sized, type ScenarioRun } from './scenario.js';

const TENANT = 'tenant-budget';
const TREE = 'big';
const RUNS = 10_000;
/** Each run: run_start, a priced model call, a tool call, run_end. */
const SPANS_PER_RUN = 4;
const T0 = Date.UTC(2026, 9, 1);

/** A fan-out-10 tree of RUNS runs, generated inside ClickHouse; returns its exact cost in micro-USD. */
async function generateTree(client: ClickHouseClient): Promise<number> {
  await client.command({
    query: `INSERT INTO spans (tenant_id, agent_id, tree_id, run_id, parent_run_id, event_id, span_id, kind, name, status, start_time, end_time,
                               model, provider, input_tokens, output_tokens, cost_micros, source_partition, source_offset)
            SELECT {tenant:String}, if(r = 0, 'planner', 'worker'), {tree:String}, concat('run-', toString(r)),
                   if(r = 0, NULL, concat('run-', toString(intDiv(r - 1, 10)))), concat({tree:String}, '-', toString(number)), toString(number),
                   ['run_start', 'llm_call', 'tool_call', 'run_end'][k + 1], 'step', 'ok',
                   fromUnixTimestamp64Milli(toInt64({t0:Int64} + number)), fromUnixTimestamp64Milli(toInt64({t0:Int64} + number + 50)),
                   if(k = 1, 'gpt-4o', NULL), if(k = 1, 'openai', NULL), if(k = 1, 1000, 0), if(k = 1, 100, 0), if(k = 1, 1234 + r % 7, NULL), 0, number
            FROM (SELECT number, intDiv(number, ${SPANS_PER_RUN}) AS r, number % ${SPANS_PER_RUN} AS k FROM numbers({n:UInt64}))`,
    query_params: { tenant: TENANT, tree: TREE, t0: T0, n: RUNS * SPANS_PER_RUN },
  });
  let cost = 0;
  for (let r = 0; r < RUNS; r++) cost += 1234 + (r % 7);
  return cost;
}

/** Trees of 10 spans for this tenant and another, around the big one. */
async function generateBackground(client: ClickHouseClient, spans: number): Promise<void> {
  await client.command({
    query: `INSERT INTO spans (tenant_id, agent_id, tree_id, run_id, event_id, span_id, kind, name, status, start_time, end_time,
                               model, input_tokens, output_tokens, cost_micros, source_partition, source_offset)
            SELECT if(intDiv(number, 10) % 2 = 0, {tenant:String}, 'tenant-other'), 'agent', concat('bg-', toString(intDiv(number, 10))),
                   concat('bg-', toString(intDiv(number, 10))), concat('bg-', toString(number)), toString(number), 'llm_call', 'm', 'ok',
                   fromUnixTimestamp64Milli(toInt64({t0:Int64} + number * 10)), fromUnixTimestamp64Milli(toInt64({t0:Int64} + number * 10 + 5)),
                   'gpt-4o', 500, 50, 700, 0, number
            FROM numbers({n:UInt64})`,
    query_params: { tenant: TENANT, t0: T0, n: spans },
  });
}

async function keyOf(store: Store, role: 'admin' | 'finance'): Promise<string> {
  return (await createApiKey(store.client, { tenantId: TENANT, role, name: 'bench', createdBy: 'bench', nowMs: Date.now() })).key;
}

export const run: ScenarioRun = async (ctx) => {
  const samples = sized(ctx, 50, 10);
  const lagSamples = sized(ctx, 40, 5);
  const backgroundSpans = sized(ctx, 2_000_000, 200_000);
  const readPath = mkdtempSync(join(tmpdir(), 'fusebox-bench-budget-'));
  const lagPath = mkdtempSync(join(tmpdir(), 'fusebox-bench-budget-lag-'));
  let readStore: Store | null = await openStore({ kind: 'chdb', path: readPath });
  const memory = createMemoryLog();
  let kafka: { log: EventLog; topics: Topics } | null = null;
  let lagStore: Store | null = null;
  try {
    ctx.progress(`generating ${backgroundSpans.toLocaleString('en-US')} background spans and a ${RUNS.toLocaleString('en-US')}-run tree in ClickHouse`);
    await generateBackground(readStore.client, backgroundSpans);
    const expectedCost = await generateTree(readStore.client);

    const topics = topicNames('bench-budget');
    await memory.ensureTopics(topicSpecs(topics, 3));
    const app = await buildApp({ store: readStore, log: memory, topics, logger: silentLogger });
    const [admin, finance] = [await keyOf(readStore, 'admin'), await keyOf(readStore, 'finance')];
    const policy = await app.inject({ method: 'POST', url: '/v1/policies', headers: { authorization: `Bearer ${admin}` }, payload: { detector: 'tree_budget', selector: { agentId: 'planner' }, params: { maxMicros: 20_000_000 } } });
    if (policy.statusCode !== 201) throw new Error(`policy: ${policy.statusCode} ${policy.body}`);
    const get = () => app.inject({ method: 'GET', url: `/v1/trees/${TREE}/budget`, headers: { authorization: `Bearer ${finance}` } });

    ctx.progress(`GET /v1/trees/${TREE}/budget, ${samples} times after a cold one`);
    let t = performance.now();
    const first = await get();
    const coldMs = performance.now() - t;
    const body = first.json() as { spent: { costMicros: number; spans: number }; ceiling: { maxMicros: number } | null; remaining: { costMicros: number } };
    const exact = first.statusCode === 200 && body.spent.costMicros === expectedCost && body.spent.spans === RUNS * SPANS_PER_RUN
      && body.ceiling?.maxMicros === 20_000_000 && body.remaining.costMicros === 20_000_000 - expectedCost;
    const reads: number[] = [];
    for (let i = 0; i < samples; i++) {
      t = performance.now();
      if ((await get()).statusCode !== 200) throw new Error('budget read failed');
      reads.push(performance.now() - t);
    }
    await app.close();
    // chDB opens one data folder per process: the read store goes before the lag store opens.
    await readStore.close();
    readStore = null;

    ctx.progress(`ledger lag: a priced span produced to Kafka until the budget answers with it, ${lagSamples} times`);
    kafka = await freshTopics(ctx.brokers, 'budget', 6);
    lagStore = await openStore({ kind: 'chdb', path: lagPath });
    const sink = createSink({ log: kafka.log, topics: kafka.topics, store: lagStore, logger: silentLogger, groupId: `${kafka.topics.spans}.sink` });
    await sink.start();
    const lagApp = await buildApp({ store: lagStore, log: kafka.log, topics: kafka.topics, logger: silentLogger });
    const lagKey = await keyOf(lagStore, 'finance');
    const producer = await kafka.log.producer();
    const lags: number[] = [];
    let polls = 0;
    for (let i = 0; i < lagSamples; i++) {
      const tree = `lag-${i}`;
      const cost = 1_000 + i;
      const event = spanEventSchema.parse({ eventId: `${tree}-e`, tenantId: TENANT, agentId: 'planner', runId: tree, treeId: tree, spanId: 's', kind: 'llm_call', name: 'm', model: 'gpt-4o', costMicros: cost, startTimeMs: Date.now(), endTimeMs: Date.now() });
      const started = performance.now();
      await producer.send(kafka.topics.spans, [{ key: tree, value: spanEventCodec.encode(event) }]);
      for (;;) {
        polls += 1;
        const response = await lagApp.inject({ method: 'GET', url: `/v1/trees/${tree}/budget`, headers: { authorization: `Bearer ${lagKey}` } });
        if (response.statusCode === 200 && (response.json() as { spent: { costMicros: number } }).spent.costMicros === cost) break;
        if (performance.now() - started > 30_000) throw new Error(`span of ${tree} not in the ledger after 30 s`);
        await new Promise((ok) => setTimeout(ok, 2));
      }
      lags.push(performance.now() - started);
      await new Promise((ok) => setTimeout(ok, 20 + Math.random() * 60)); // do not line up with the sink's cycles
    }
    await producer.close();
    await lagApp.close();
    await sink.stop();

    const readDist = distribution(reads);
    return {
      figures: [
        { ...latencyFigure('budget ledger, 10,000-run tree, GET /v1/trees/:id/budget', readDist, 'ms', `${(RUNS * SPANS_PER_RUN).toLocaleString('en-US')} spans in the tree, ${backgroundSpans.toLocaleString('en-US')} around it; auth, ownership, access-log row, the ledger read (spans FINAL), the trip read, policy resolution`), target: 'well under the sink\'s lag, so reading never dominates liveness (p50 < 100 ms)', met: readDist.p50 < 100 },
        figure('first request after loading', coldMs, 'ms'),
        latencyFigure('ledger lag: produce to Kafka -> sink -> ClickHouse -> budget answers with the span', distribution(lags), 'ms', `6 partitions, sink defaults (linger ${20} ms); polled every 2 ms through the API (${polls} requests in all, each writing its access-log row)`),
      ],
      notes: [exact ? `The ledger was exact: ${expectedCost.toLocaleString('en-US')} micro-USD over ${(RUNS * SPANS_PER_RUN).toLocaleString('en-US')} spans, ceiling and remaining as the policy set.` : `MISMATCH: ${first.statusCode} ${first.body.slice(0, 300)}`],
    };
  } finally {
    await memory.close();
    await readStore?.close();
    await lagStore?.close();
    if (kafka) {
      await kafka.log.close();
      await deleteTopics(ctx.brokers, kafka.topics);
    }
    rmSync(readPath, { recursive: true, force: true });
    rmSync(lagPath, { recursive: true, force: true });
  }
};
