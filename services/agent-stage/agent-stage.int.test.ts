/**
 * The agent-scope breaker on the real broker, through real clients: an agent whose runs keep
 * getting halted is suspended (every new run refused), half-opens after the cooldown (event
 * time), lets one probe through and refuses a second run meanwhile, and closes when the probe
 * succeeds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFusebox, RunHalted, type Fusebox, type Run } from '../../client/index.js';
import type { EventLog } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { agentKey, policyEventCodec, policyEventSchema } from '../../schemas/index.js';
import { brokers, eventually, freshKafka, standingAction } from '../../test/kafka.js';
import { silentLogger } from '../logger.js';
import { createProcessor, type Processor } from '../processor/processor.js';
import { createAgentStage, type AgentStage } from './agent-stage.js';

const halt = (run: Run): RunHalted | undefined => {
  try { run.guard(); return undefined; } catch (error) { if (error instanceof RunHalted) return error; throw error; }
};

describe('agent breaker (real Kafka)', () => {
  let log: EventLog;
  let topics: Topics;
  let prefix: string;
  let processor: Processor;
  let stage: AgentStage;
  let fusebox: Fusebox;

  beforeAll(async () => {
    ({ log, topics, prefix } = await freshKafka(3));
    const producer = await log.producer();
    const policy = policyEventSchema.parse({ policyId: 'suspend-crawlers', version: 1, tenantId: 'acme', selector: { agentId: 'crawler' }, detector: 'agent_breaker', params: { tripsToOpen: '2', windowMs: '60000', cooldownMs: '2000', probes: '1' }, disposition: 'block', changedBy: 'sre', changedAtMs: 1 });
    await producer.send(topics.policies, [{ key: policy.policyId, value: policyEventCodec.encode(policy) }]);
    await producer.close();
    processor = createProcessor({ log, topics, logger: silentLogger, groupId: `${prefix}.processor` });
    stage = createAgentStage({ log, topics, logger: silentLogger, groupId: `${prefix}.agent-stage` });
    await Promise.all([processor.start(), stage.start()]);
    fusebox = await createFusebox({ tenantId: 'acme', agentId: 'crawler', brokers: brokers(), topicPrefix: prefix });
  });

  afterAll(async () => {
    await fusebox?.close();
    await Promise.allSettled([processor?.stop(), stage?.stop()]);
    await log?.close();
  });

  /** Retries the same failing call until its run is halted. */
  async function loopUntilHalted(run: Run): Promise<RunHalted> {
    for (;;) {
      await new Promise((ok) => setTimeout(ok, 100));
      try {
        await run.tool('fetch', { url: 'https://down.example' }, async () => { throw new Error('HTTP 503'); });
      } catch (error) {
        if (error instanceof RunHalted) return error;
      }
    }
  }

  it('suspends the agent after repeated halts, half-opens after the cooldown with one probe, and closes when it succeeds', async () => {
    const key = agentKey('acme', 'crawler');
    expect((await loopUntilHalted(await fusebox.startRun())).scope).toBe('run');
    expect((await loopUntilHalted(await fusebox.startRun())).scope).toBe('run');
    await eventually('the agent breaker to open', () => stage.agent(key)?.breaker.state === 'open');
    // It stands on the breaker-state topic too (same transaction), for clients started later.
    expect(await eventually('the suspension on breaker-state', () => standingAction(log, topics, 'agent:acme:crawler', 'acme'))).toBe('trip');

    const suspended = await fusebox.startRun();
    const refused = await eventually('a new run to be refused at agent scope', () => halt(suspended));
    expect(refused).toMatchObject({ scope: 'agent', reason: { detector: 'agent_breaker', threshold: 2, observed: 2 }, policy: { id: 'suspend-crawlers', version: 1 } });

    await new Promise((ok) => setTimeout(ok, 2_100)); // the cooldown, in the events' time
    const probe = await fusebox.startRun();
    await eventually('the probe to be let through (half-open)', () => halt(probe) === undefined && stage.agent(key)?.breaker.state === 'half_open');

    const extra = await fusebox.startRun();
    const quota = await eventually('a second run to be refused while the probe is out', () => halt(extra));
    expect(quota).toMatchObject({ scope: 'run', reason: { detector: 'agent_breaker', threshold: 1 } });

    await probe.tool('fetch', { url: 'https://up.example' }, async () => 'ok');
    probe.end('ok');
    await eventually('the breaker to close', () => stage.agent(key)?.breaker.state === 'closed');
    const after = await fusebox.startRun();
    await new Promise((ok) => setTimeout(ok, 300));
    expect(halt(after)).toBeUndefined();
    expect(stage.stats()).toMatchObject({ trips: 2, resets: 2 });
    // The stage's state moves as it handles a batch; the record is readable once its transaction commits.
    await eventually('the reset on breaker-state', async () => (await standingAction(log, topics, 'agent:acme:crawler', 'acme')) === 'reset');
  });
});
