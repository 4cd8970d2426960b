/**
 * An agent process for client.int.test.ts, run as `node --import tsx` (the way examples and
 * `npm start` load the client): it must end by itself once its work is done.
 *   AGENT_MODE=close   a client on Kafka emits SPANS spans (in batches of 100) and closes; prints its close result
 *   AGENT_MODE=thread  only the producer thread: one batch sent, never closed (an agent that forgot)
 *   AGENT_MODE=forget  a client on Kafka (its readers running on its thread) starts a run, emits, never closes
 */
import { createFusebox } from '../index.js';
import { createEncodedSpans } from '../encoded-spans.js';
import { ProducerThread } from '../producer-thread.js';
import { topicNames } from '../../log/topics.js';

const brokers = process.env.KAFKA_BROKERS!.split(',');
const prefix = process.env.AGENT_PREFIX!;

if (process.env.AGENT_MODE === 'close') {
  const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'short-lived', brokers, topicPrefix: prefix, batchSize: 100 });
  const run = await fusebox.startRun();
  for (let i = 0; i < Number(process.env.SPANS); i++) run.signal('notify', { runId: `run-${i}` });
  run.end();
  const result = await fusebox.close();
  console.log(JSON.stringify({ ...result, ...fusebox.stats(), treeId: run.treeId }));
} else if (process.env.AGENT_MODE === 'forget') {
  const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'short-lived', brokers, topicPrefix: prefix });
  const run = await fusebox.startRun();
  run.signal('notify', { runId: 'run-forgotten' });
  console.log(JSON.stringify({ treeId: run.treeId }));
} else {
  const thread = new ProducerThread({ brokers, clientId: 'short-lived', topic: topicNames(prefix).spans });
  await thread.start();
  const spans = createEncodedSpans();
  const now = Date.now();
  const seq = spans.add({
    eventId: 'forgotten-1', tenantId: 'acme', agentId: 'short-lived', runId: 'run-f', parentRunId: null, treeId: 'run-f', spanId: 's', parentSpanId: null, kind: 'custom', name: 'x', status: 'ok', error: null,
    startTimeMs: now, endTimeMs: now, model: null, provider: null, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costMicros: null, argsHash: null, args: null, outputHash: null, output: null, userId: null, sessionId: null, edge: null, attributes: {},
  }, 'run-f', 0);
  await thread.send(spans.pack([seq]));
  console.log(JSON.stringify({ sent: 1 }));
}
