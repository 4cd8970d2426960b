/**
 * The gateway while its broker is down, on a broker of its own (so other test files never see
 * the outage): a batch the log cannot take is answered 503 LOG_UNAVAILABLE with Retry-After, not
 * accepted; what was accepted before is on the topic after the restart, and the refused batch,
 * sent again, is accepted then.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaLog } from '../../log/kafka.js';
import type { EventLog } from '../../log/port.js';
import { topicNames, topicSpecs, type Topics } from '../../log/topics.js';
import { spanEventCodec } from '../../schemas/index.js';
import { startKafkaBroker, type KafkaBroker } from '../../scripts/kafka/broker.js';
import type { Store } from '../../storage/store.js';
import { gatewayHarness, type GatewayHarness } from '../../test/gateway.js';
import { readAll } from '../../test/kafka.js';
import { span } from '../../test/spans.js';
import { freshStore } from '../../test/store.js';

let broker: KafkaBroker;
let log: EventLog;
let topics: Topics;
let store: Store;
let gw: GatewayHarness;
let agentKey: string;

function batch(treeId: string, count: number) {
  return { spans: Array.from({ length: count }, (_, i) => {
    const { tenantId: _tenant, ...rest } = span({ kind: 'tool_call', name: 'web_search', runId: `run-${treeId}`, treeId, eventId: `${treeId}-${i}` });
    return rest;
  }) };
}

beforeAll(async () => {
  broker = await startKafkaBroker({ defaultPartitions: 3 });
  log = createKafkaLog({ brokers: [broker.brokers], clientId: 'gateway-outage-test', log: () => {} });
  topics = topicNames('gateway-outage');
  await log.ensureTopics(topicSpecs(topics, 3));
  store = await freshStore();
  gw = await gatewayHarness({ kafka: { log, topics, prefix: 'gateway-outage' }, store });
  agentKey = await gw.key('acme', 'agent');
}, 120_000);

afterAll(async () => {
  await gw?.close();
  await log?.close();
  await store?.close();
  await broker?.stop();
});

describe('the gateway while the broker is stopped and restarted', () => {
  it('answers 503 LOG_UNAVAILABLE with Retry-After for what the log did not take, and loses nothing it accepted', async () => {
    const before = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', payload: batch('tree-before', 5) });
    expect([before.statusCode, before.json().accepted]).toEqual([200, 5]);

    await broker.halt();
    const during = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', payload: batch('tree-during', 5) });
    expect([during.statusCode, during.headers['retry-after'], during.json().error.code]).toEqual([503, '1', 'LOG_UNAVAILABLE']);
    expect(during.json().error.message).toMatch(/^the event log did not take the spans: .+; retry$/);

    await broker.restart();
    const retried = await gw.call(agentKey, { method: 'POST', url: '/v1/spans', payload: batch('tree-during', 5) });
    expect([retried.statusCode, retried.json().accepted]).toEqual([200, 5]);

    const onTopic = (await readAll(log, topics.spans, { on: [broker.brokers] })).map((m) => spanEventCodec.decode(m.value!).eventId);
    expect(onTopic.filter((id) => id.startsWith('tree-before')).sort()).toEqual(batch('tree-before', 5).spans.map((s) => s.eventId).sort());
    expect(new Set(onTopic.filter((id) => id.startsWith('tree-during'))).size).toBe(5);
  }, 240_000);
});
