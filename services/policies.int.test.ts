/**
 * Policies change at runtime, on the real broker, with no restart: a warn disposition reaches
 * the agent's callback and halts nothing; the next version of the same policy blocks; a
 * redaction policy masks what the sink writes to ClickHouse.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFusebox, RunHalted, type Fusebox, type FuseboxOptions } from '../client/index.js';
import type { EventLog, LogProducer } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import { policyEventCodec, policyEventSchema, type ControlEvent, type PolicyEvent } from '../schemas/index.js';
import type { Store } from '../storage/store.js';
import { loop } from '../streams/detectors/loop.js';
import { breakerEvents } from '../storage/tables/breaker-events.js';
import { brokers, eventually } from '../test/kafka.js';
import type { Processor } from './processor/processor.js';
import type { Sink } from './sink/sink.js';
import { startPipeline, type Pipeline } from '../test/pipeline.js';

describe('runtime policies (real Kafka, chDB)', () => {
  let log: EventLog;
  let topics: Topics;
  let prefix: string;
  let store: Store;
  let processor: Processor;
  let sink: Sink;
  let pipeline: Pipeline;
  let producer: LogProducer;
  let fusebox: Fusebox;
  const warnings: ControlEvent[] = [];

  const publish = async (over: Partial<PolicyEvent> & Pick<PolicyEvent, 'policyId' | 'version' | 'detector' | 'disposition'>) => {
    const policy = policyEventSchema.parse({ tenantId: 'acme', selector: { agentId: 'poller' }, changedBy: 'sre@acme', changedAtMs: Date.now(), ...over });
    await producer.send(topics.policies, [{ key: policy.policyId, value: policyEventCodec.encode(policy) }]);
    published += 1;
    await eventually(`policy ${policy.policyId} v${policy.version} applied by processor and sink`, () => processor.stats().policiesApplied >= published && sink.stats().policiesApplied >= published);
  };
  let published = 0;

  beforeAll(async () => {
    pipeline = await startPipeline();
    ({ log, topics, prefix, store, processor, sink } = pipeline);
    producer = await log.producer();
    const options: FuseboxOptions = { tenantId: 'acme', agentId: 'poller', brokers: brokers(), topicPrefix: prefix, captureArguments: true, onWarning: (w) => { if (w.kind === 'control') warnings.push(w.event); } };
    fusebox = await createFusebox(options);
  });

  afterAll(async () => {
    await fusebox?.close();
    await producer?.close();
    await pipeline?.stop();
  });

  /** Polls a status endpoint that keeps answering the same: a loop without progress, not a failure. */
  async function poll(times: number) {
    const run = await fusebox.startRun();
    let calls = 0;
    let halted: RunHalted | null = null;
    try {
      for (let i = 0; i < times; i++) {
        await new Promise((ok) => setTimeout(ok, 500)); // the model deciding to poll again
        await run.tool('job.status', { job: 42 }, async () => { calls += 1; return { state: 'pending' }; });
      }
    } catch (error) {
      if (!(error instanceof RunHalted)) throw error;
      halted = error;
    }
    return { run, calls, halted };
  }

  it('warns without halting, then blocks once the same policy is changed to block', async () => {
    await publish({ policyId: 'poll-loop', version: 1, detector: 'loop', disposition: 'warn', params: { threshold: '3' } });

    const warned = await poll(5);
    expect(warned.halted).toBeNull();
    expect(warned.calls).toBe(5);
    const warning = await eventually('the warning callback', () => warnings.find((w) => w.target === warned.run.id));
    expect(warning).toMatchObject({ action: 'warn', policyId: 'poll-loop', policyVersion: 1, reason: { detector: 'loop', threshold: 3, observed: 3 } });

    await publish({ policyId: 'poll-loop', version: 2, detector: 'loop', disposition: 'block', params: { threshold: '3' } });
    expect(processor.policies.resolve(loop, { tenantId: 'acme', agentId: 'poller', runId: 'x', tags: [] })?.ref).toEqual({ policyId: 'poll-loop', policyVersion: 2 });

    const blocked = await poll(6);
    expect(blocked.calls).toBe(3);
    expect(blocked.halted?.reason).toMatchObject({ detector: 'loop', threshold: 3, observed: 3 });
    expect(blocked.halted?.policy).toEqual({ id: 'poll-loop', version: 2 });
    const audit = await eventually('the audit row', async () => (await breakerEvents(store.client, 'acme', { runId: blocked.run.id }))[0]);
    expect(audit).toMatchObject({ action: 'trip', policy_id: 'poll-loop', policy_version: 2 });
  });

  it('redacts what reaches ClickHouse, from the moment the policy arrives', async () => {
    await publish({ policyId: 'no-emails', version: 1, detector: 'redact', disposition: 'redact', selector: { agentId: null, tags: [], runId: null }, params: { fields: 'args,output', patterns: 'email' } });
    const run = await fusebox.startRun();
    await run.tool('mail.send', { to: 'jane.doe@example.com', body: 'hi' }, async () => ({ sent: true, to: 'jane.doe@example.com' }));
    run.end();
    const row = await eventually('the redacted span', async () => {
      const rows = await (await store.client.query({ query: "SELECT args, output FROM spans FINAL WHERE run_id = {run:String} AND kind = 'tool_call'", query_params: { run: run.id }, format: 'JSONEachRow' })).json<{ args: string; output: string }>();
      return rows[0];
    });
    expect(row.args).toBe('{"to":"[REDACTED:email]","body":"hi"}');
    expect(row.output).toBe('{"sent":true,"to":"[REDACTED:email]"}');
  });
});
