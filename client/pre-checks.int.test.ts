/**
 * Local pre-checks on the real broker with the real processor: the client reads the tenant's
 * policies from the compacted policies topic and refuses an out-of-scope tool and a step beyond
 * the iteration cap before it runs; the processor, seeing the refused attempt, makes the same
 * decision (same reason, same policy) and its trip reaches the client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog, LogProducer } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import { controlEventCodec, policyEventCodec, policyEventSchema, spanEventCodec, type ControlEvent, type PolicyEvent } from '../schemas/index.js';
import { silentLogger } from '../services/logger.js';
import { createProcessor, type Processor } from '../services/processor/processor.js';
import { brokers, eventually, freshKafka, readAll } from '../test/kafka.js';
import { refusal } from '../test/client.js';
import { createFusebox, RunHalted, type Fusebox } from './index.js';

describe('local pre-checks from the policies topic (real Kafka, real processor)', () => {
  let log: EventLog;
  let topics: Topics;
  let prefix: string;
  let processor: Processor;
  let producer: LogProducer;
  let fusebox: Fusebox;

  const publish = async (over: Partial<PolicyEvent> & Pick<PolicyEvent, 'policyId' | 'detector' | 'params'>) => {
    const policy = policyEventSchema.parse({ tenantId: 'acme', version: 1, selector: { agentId: 'researcher' }, disposition: 'block', changedBy: 'sre@acme', changedAtMs: Date.now(), ...over });
    await producer.send(topics.policies, [{ key: policy.policyId, value: policyEventCodec.encode(policy) }]);
  };

  beforeAll(async () => {
    ({ log, topics, prefix } = await freshKafka(3));
    producer = await log.producer();
    await publish({ policyId: 'scope-researcher', version: 4, detector: 'scope', params: { allowedTools: 'web_search, github.*' } });
    await publish({ policyId: 'other-tenant-cap', tenantId: 'globex', detector: 'iteration_cap', params: { maxSteps: '1' } });
    processor = createProcessor({ log, topics, logger: silentLogger, groupId: `${prefix}.processor` });
    await processor.start();
    fusebox = await createFusebox({ tenantId: 'acme', agentId: 'researcher', brokers: brokers(), topicPrefix: prefix });
  }, 120_000);

  afterAll(async () => {
    await fusebox?.close();
    await producer?.close();
    await processor?.stop();
    await log?.close();
  });


  it('refuses an out-of-scope tool before it runs, and the processor trips the run with the same reason', async () => {
    const run = await fusebox.startRun();
    expect(await run.tool('github.search', { q: 'x' }, () => 'ok')).toBe('ok');
    let ran = false;
    const error = await run.tool('shell', { cmd: 'rm -rf /' }, () => { ran = true; }).catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(RunHalted);
    const local = error as RunHalted;
    expect(local).toMatchObject({ origin: 'local', scope: 'run', policy: { id: 'scope-researcher', version: 4 }, reason: { detector: 'scope', threshold: 0, observed: 1 } });
    expect(local.reason!.message).toBe("tool 'shell' is outside the agent's allowed tools (web_search, github.*)");
    // The run is halted here at once, as it will be by the processor: an allowed tool is refused too.
    expect(refusal(run, { kind: 'tool_call', name: 'web_search' })?.reason?.detector).toBe('scope');

    const fromProcessor = await eventually('the processor\'s trip to reach the client', () => {
      const halted = refusal(run);
      return halted?.origin === 'control' ? halted : undefined;
    }, 60_000);
    expect(fromProcessor.reason).toEqual(local.reason);
    expect(fromProcessor.policy).toEqual(local.policy);

    // What the processor saw: the attempt, marked as refused by the client.
    const attempt = (await readAll(log, topics.spans)).map((m) => spanEventCodec.decode(m.value!)).find((s) => s.runId === run.id && s.name === 'shell');
    expect(attempt).toMatchObject({ kind: 'tool_call', status: 'error', attributes: { 'fusebox.refused': 'scope' } });
  }, 90_000);

  it('applies a policy published while it runs: a step beyond a new iteration cap is refused, as the processor decides', async () => {
    const run = await fusebox.startRun();
    for (let i = 0; i < 3; i++) await run.tool('web_search', { i }, () => i);
    expect(refusal(run)).toBeNull();
    await publish({ policyId: 'cap-researcher', detector: 'iteration_cap', params: { maxSteps: '3' } });
    const local = await eventually('the new cap to reach the client', () => refusal(run) ?? undefined, 30_000);
    expect(local).toMatchObject({ origin: 'local', policy: { id: 'cap-researcher', version: 1 }, reason: { detector: 'iteration_cap', threshold: 3, observed: 4 } });
    await expect(run.tool('web_search', { i: 3 }, () => 3)).rejects.toBeInstanceOf(RunHalted);

    const trip = await eventually('the processor to trip the run', async () => {
      const controls: ControlEvent[] = (await readAll(log, topics.control)).map((m) => controlEventCodec.decode(m.value!));
      return controls.find((c) => c.target === run.id && c.action === 'trip');
    }, 60_000);
    expect(trip.reason).toEqual(local.reason);
    expect({ id: trip.policyId, version: trip.policyVersion }).toEqual(local.policy);
  }, 90_000);
});
