/**
 * `npm start`: Fusebox in one process (event log, processor, sink, chDB, the query API) plus a
 * demo agent that loops on a failing tool until its breaker trips.
 *
 * Embedded defaults: the in-memory event log and chDB in .data/chdb. With KAFKA_BROKERS set, the
 * same pipeline runs on Kafka for other agents too. CLICKHOUSE_URL points the sink and the API
 * at a server. After the demo it keeps running, serving the query API on FUSEBOX_API_HOST:
 * FUSEBOX_API_PORT (127.0.0.1:8787) with a fresh admin key of tenant "demo", until Ctrl-C.
 */
import { createFusebox } from '../client/index.js';
import { buildApp } from '../services/api/app.js';
import { createApiKey } from '../services/api/auth/create-key.js';
import { loadApiConfig } from '../services/api/config.js';
import { loadConfig } from '../services/config.js';
import { createLogger } from '../services/logger.js';
import { createAgentStage } from '../services/agent-stage/agent-stage.js';
import { createProcessor } from '../services/processor/processor.js';
import { createTenantStage } from '../services/tenant-stage/tenant-stage.js';
import { openConfiguredStore, openEventLog } from '../services/runtime.js';
import { runUntilSignal } from '../services/signals.js';
import { createSink } from '../services/sink/sink.js';
import { breakerEvents } from '../storage/tables/breaker-events.js';
import { runSpans } from '../storage/tables/spans.js';
import { runLoopingAgent } from './demo/looping-agent.js';

const print = (line = '') => process.stdout.write(`${line}\n`);
const usd = (micros: number) => `$${(micros / 1_000_000).toFixed(6)}`;

const config = loadConfig();
const apiConfig = loadApiConfig();
const logger = createLogger('fusebox');
const { log, topics } = await openEventLog(config, logger);
const store = await openConfiguredStore(config);
const processor = createProcessor({ log, topics, logger: logger.child('processor'), groupId: `${config.topicPrefix}.processor` });
const sink = createSink({ log, topics, store, logger: logger.child('sink'), groupId: `${config.topicPrefix}.sink` });
const agentStage = createAgentStage({ log, topics, logger: logger.child('agent-stage'), groupId: `${config.topicPrefix}.agent-stage` });
const tenantStage = createTenantStage({ log, topics, logger: logger.child('tenant-stage'), groupId: `${config.topicPrefix}.tenant-stage` });
await Promise.all([processor.start(), sink.start(), agentStage.start(), tenantStage.start()]);
// The API shares this process's store: embedded chDB lets only one process open a data folder.
const api = await buildApp({ store, log, topics, logger: logger.child('api') });
const apiAddress = await api.listen({ host: apiConfig.host, port: apiConfig.port });
const { key: adminKey } = await createApiKey(store.client, { tenantId: 'demo', role: 'admin', name: 'npm start', createdBy: 'npm start', nowMs: Date.now() });

print('Fusebox: runtime governance for AI agents');
print(`  event log : ${log.describe}${config.kafkaBrokers ? '' : ' (set KAFKA_BROKERS=host:port to use Kafka)'}`);
print(`  store     : ${store.describe}`);
print(`  query API : ${apiAddress} (the whole API: ${apiAddress}/openapi.json)`);
print(`  topics    : ${topics.spans} -> processor -> ${topics.control} (trips first on ${topics.controlEarly}) / ${topics.audit} -> sink; ${topics.agentSignals} -> agent stage; ${topics.tenantSpend} -> tenant stage`);
print();
print('Demo: agent "researcher" (tenant "demo") retries a failing web_search with identical arguments.');

const fusebox = await createFusebox({ tenantId: 'demo', agentId: 'researcher', log, topicPrefix: config.topicPrefix });
const result = await runLoopingAgent(fusebox, print);
await fusebox.close();

if (!result.halted) {
  print(`  the agent was NOT halted after ${result.toolCalls} calls: something is wrong`);
  process.exitCode = 1;
} else {
  const reason = result.halted.reason!;
  print();
  print(`  HALTED before call ${result.toolCalls + 1}: the ${reason.detector} breaker tripped at the ${ordinal(reason.observed)} identical call`);
  print(`    ${reason.message}`);
  print(`    threshold ${reason.threshold}, observed ${reason.observed}, policy ${result.halted.policy.id} v${result.halted.policy.version}, scope ${result.halted.scope}`);

  const [audit] = await waitFor(() => breakerEvents(store.client, 'demo', { runId: result.runId }), (rows) => rows.length > 0);
  const spans = await waitFor(() => runSpans(store.client, 'demo', result.runId), (rows) => rows.length >= result.toolCalls * 2 + 2);
  print();
  print('Audit record (ClickHouse table breaker_events):');
  if (audit) {
    print(`  trip ${audit.event_id} at ${new Date(audit.time_ms).toISOString()}`);
    print(`  detector ${audit.detector}, threshold ${audit.threshold}, observed ${audit.observed}, policy ${audit.policy_id} v${audit.policy_version}`);
    print(`  last action: ${audit.last_action}`);
    print(`  steps elapsed ${audit.steps_elapsed}, run cost ${usd(audit.run_cost_micros)}, tree cost ${usd(audit.tree_cost_micros)}`);
  }
  print();
  print(`Where the data is: ${store.describe}`);
  print(`  ${spans.length} spans of run ${result.runId} in table spans; the trip in table breaker_events.`);
  print(`  npm run sql -- "SELECT kind, name, status, cost_micros FROM spans FINAL WHERE run_id = '${result.runId}' ORDER BY end_time"`);
  print('  npm run sql -- "SELECT detector, observed, last_action, steps_elapsed, run_cost_micros FROM breaker_events FINAL"');
}

print();
print(`Query API: ${apiAddress}, as tenant "demo" with this admin key (made now, shown once): ${adminKey}`);
print(`  curl -H "Authorization: Bearer ${adminKey}" ${apiAddress}/v1/runs/${result.runId}`);
print(`  curl -H "Authorization: Bearer ${adminKey}" ${apiAddress}/v1/breakers/trips`);
print();
print(`Fusebox keeps running on ${log.describe} (processor, agent and tenant stages, sink, query API)${config.kafkaBrokers ? ' for your agents' : ''}. Ctrl-C stops it.`);
await runUntilSignal(logger, shutdown);

async function shutdown(): Promise<void> {
  await api.close();
  await Promise.allSettled([processor.stop(), sink.stop(), agentStage.stop(), tenantStage.stop()]);
  await log.close();
  await store.close();
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((ok) => setTimeout(ok, 50));
    value = await read();
  }
  return value;
}

function ordinal(n: number): string {
  return `${n}${n % 10 === 1 && n % 100 !== 11 ? 'st' : n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : 'th'}`;
}
