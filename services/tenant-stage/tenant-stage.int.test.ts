/**
 * Tenant cost velocity on the real broker, through real clients: two agents of one tenant
 * together spend over the tenant's per-window limit, every run of the tenant is refused (also
 * a third agent's), and runs may go on again once the window has moved past the spend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFusebox, RunHalted, type Fusebox, type Run } from '../../client/index.js';
import type { EventLog } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { policyEventCodec, policyEventSchema } from '../../schemas/index.js';
import { brokers, eventually, freshKafka, standingAction } from '../../test/kafka.js';
import { silentLogger } from '../logger.js';
import { createProcessor, type Processor } from '../processor/processor.js';
import { createTenantStage, type TenantStage } from './tenant-stage.js';

const halt = (run: Run): RunHalted | undefined => {
  try { run.guard(); return undefined; } catch (error) { if (error instanceof RunHalted) return error; throw error; }
};

describe('tenant cost velocity (real Kafka)', () => {
  let log: EventLog;
  let topics: Topics;
  let prefix: string;
  let processor: Processor;
  let stage: TenantStage;
  const clients: Fusebox[] = [];
  const agent = async (agentId: string) => {
    const client = await createFusebox({ tenantId: 'acme', agentId, brokers: brokers(), topicPrefix: prefix });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    ({ log, topics, prefix } = await freshKafka(3));
    const producer = await log.producer();
    const policy = policyEventSchema.parse({ policyId: 'acme-rate', version: 1, tenantId: 'acme', selector: {}, detector: 'tenant_cost_velocity', params: { windowMs: '1000', maxMicros: '10000' }, disposition: 'block', changedBy: 'finance', changedAtMs: 1 });
    await producer.send(topics.policies, [{ key: policy.policyId, value: policyEventCodec.encode(policy) }]);
    await producer.close();
    processor = createProcessor({ log, topics, logger: silentLogger, groupId: `${prefix}.processor` });
    stage = createTenantStage({ log, topics, logger: silentLogger, groupId: `${prefix}.tenant-stage` });
    await Promise.all([processor.start(), stage.start()]);
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled([processor?.stop(), stage?.stop()]);
    await log?.close();
  });

  it('halts every run of the tenant while its spend rate is over the limit, then lets runs go on', async () => {
    const spend = (run: Run, micros: number) => run.llm({ model: 'gpt-4o' }, async () => ({ output: 'ok', usage: { inputTokens: 100, outputTokens: 10, costMicros: micros } }));
    const [a, b, c] = [await agent('a'), await agent('b'), await agent('c')];
    const runA = await a.startRun();
    const runB = await b.startRun();
    await spend(runA, 6_000);
    await spend(runB, 5_000);

    // Started once the halt is published: the client hears it by reading back its tree's control
    // partition on following it (client/log-transport.ts, CONTROL_LOOKBACK_MS), not by luck of timing.
    await eventually('the tenant stage to halt the tenant', () => stage.stats().trips === 1);
    // On breaker-state too, readable once the stage's transaction commits.
    await eventually('the halt on breaker-state', async () => (await standingAction(log, topics, 'tenant:acme:acme', 'acme')) === 'trip');
    const runC = await c.startRun();
    const refused = await eventually('a third agent of the tenant, started after the halt, to be refused', () => halt(runC));
    expect(refused).toMatchObject({ scope: 'tenant', reason: { detector: 'tenant_cost_velocity', threshold: 10_000, observed: 11_000, windowMs: 1_000 }, policy: { id: 'acme-rate', version: 1 } });
    // Each client hears the halt on its own reader: the one already running may hear it a moment after C.
    await eventually('the first agent, running since before the halt, halted too', () => halt(runA)?.scope === 'tenant');

    await new Promise((ok) => setTimeout(ok, 1_100)); // the window moves past the spend (event time)
    const later = await a.startRun(); // its run_start carries the new time
    await eventually('runs to go on once the rate is back under the limit', () => halt(later) === undefined && stage.tenant('acme')?.breaker.state === 'closed');
    expect(stage.stats()).toMatchObject({ trips: 1, resets: 1 });
    await eventually('the reset on breaker-state', async () => (await standingAction(log, topics, 'tenant:acme:acme', 'acme')) === 'reset');
  });
});
