/**
 * The agent stage: the second stage of the breaker engine, keyed by tenant/agent. It folds the
 * run signals the processor emits (started, succeeded, failed, tripped) through the pure agent
 * breaker (streams/agent-breaker.ts) for every agent whose tenant opted in with an
 * `agent_breaker` policy, and publishes agent-scope trips and resets to every control partition
 * (so each of the agent's clients hears them), run-scope refusals while half-open, and audit
 * records. Exactly once, in the same transactional shell as the processor.
 */
import { partitionForKey } from '../../log/partitioner.js';
import type { LogBatch, OutgoingMessage } from '../../log/port.js';
import { agentSignalCodec, breakerEventCodec, type AgentSignal, type BreakerEvent, type ControlEvent } from '../../schemas/index.js';
import { AGENT_BREAKER, agentBreakerPolicy, initialAgentState, step, tick, type AgentBreakerParams, type AgentDecision, type AgentState } from '../../streams/agent-breaker.js';
import { createPolicyBook, type Governing } from '../../streams/policies.js';
import { controlMessages, standingMessage } from '../control-messages.js';
import { batchDeadLetters } from '../dead-letter.js';
import { batchTally, type BatchTally } from '../observability/index.js';
import { createPolicyFeed } from '../policy-feed.js';
import { createTransactionalStage, jsonMapState, type StageOutput } from '../transactional-stage.js';
import type { StageServiceOptions } from '../stage-service.js';

export type AgentStageOptions = StageServiceOptions;

/** What a batch publishes besides dead letters; breaker-state in the same transaction as control. */
interface Outputs {
  controls: OutgoingMessage[];
  audits: OutgoingMessage[];
  standing: OutgoingMessage[];
}

export function createAgentStage(options: AgentStageOptions) {
  const { log, topics, logger } = options;
  const book = options.policies ?? createPolicyBook();
  const policyFeed = createPolicyFeed(log, topics.policies, book, logger.child('policies'));
  const agents = new Map<string, AgentState>();
  const stats = { signals: 0, trips: 0, resets: 0 };
  let controlPartitions = 0;
  let standingPartitions = 0;
  let signalPartitions = 0;

  const governing = (state: { tenantId: string; agentId: string }, runId: string): Governing | null =>
    book.resolve(agentBreakerPolicy, { tenantId: state.tenantId, agentId: state.agentId, runId, tags: [] });

  function publish(decision: AgentDecision, state: AgentState, policy: Governing, out: Outputs, tally: BatchTally): void {
    const control: ControlEvent = {
      eventId: decision.eventId, tenantId: state.tenantId, scope: decision.scope, target: decision.target,
      treeId: decision.scope === 'run' ? decision.treeId : null, action: decision.action,
      reason: { detector: AGENT_BREAKER, threshold: decision.threshold, observed: decision.observed, windowMs: decision.windowMs, message: decision.message },
      policyId: policy.ref.policyId, policyVersion: policy.ref.policyVersion, timeMs: decision.timeMs,
    };
    out.controls.push(...controlMessages(control, controlPartitions));
    const standing = standingMessage(control, standingPartitions);
    if (standing) out.standing.push(standing);
    const audit: BreakerEvent = {
      eventId: decision.eventId, tenantId: state.tenantId, agentId: state.agentId, runId: decision.runId, treeId: decision.treeId,
      scope: decision.scope, target: decision.target, action: decision.action, detector: AGENT_BREAKER,
      threshold: decision.threshold, observed: decision.observed, windowMs: decision.windowMs,
      policyId: policy.ref.policyId, policyVersion: policy.ref.policyVersion, lastAction: `agent breaker ${state.breaker.state}`,
      triggerEventId: decision.runId, stepsElapsed: 0, runCostMicros: 0, treeCostMicros: 0, message: decision.message, timeMs: decision.timeMs,
    };
    out.audits.push({ key: decision.treeId, value: breakerEventCodec.encode(audit) });
    if (decision.action === 'trip') {
      stats.trips += 1;
      tally.trip(AGENT_BREAKER);
    } else {
      stats.resets += 1;
    }
    logger.info(`agent breaker ${decision.action}`, { scope: decision.scope, target: decision.target, tenant: state.tenantId, message: decision.message });
  }

  function handle(batch: LogBatch): StageOutput {
    const outputs: Outputs = { controls: [], audits: [], standing: [] };
    const tally = batchTally();
    const dead = batchDeadLetters('agent-stage', tally.deadLetter);
    const touched = new Set<string>();
    let watermark = 0;
    let last: AgentSignal | null = null;
    for (const message of batch.messages) {
      const signal = dead.decode(agentSignalCodec, message);
      if (!signal) continue;
      stats.signals += 1;
      watermark = Math.max(watermark, signal.timeMs);
      last = signal;
      const key = message.key!;
      const state = agents.get(key) ?? initialAgentState(signal.tenantId, signal.agentId);
      const policy = governing(state, signal.runId);
      if (!policy) continue; // this agent's tenant has not opted in
      const out = step(state, signal, policy.params as AgentBreakerParams);
      agents.set(key, out.state);
      touched.add(key);
      for (const decision of out.decisions) publish(decision, out.state, policy, outputs, tally);
    }
    // Time moves for every agent of the partition: an open breaker half-opens once any signal
    // shows its cooldown is over, even if the agent itself stays quiet.
    if (last) {
      for (const [key, state] of agents) {
        // Only this partition's agents: their state commits with this partition's offsets.
        if (state.breaker.state !== 'open' || touched.has(key) || partitionForKey(key, signalPartitions) !== batch.partition) continue;
        const policy = governing(state, last.runId);
        if (!policy) continue;
        const out = tick(state, watermark, policy.params as AgentBreakerParams, { runId: last.runId, treeId: last.treeId });
        if (out.decisions.length === 0) continue;
        agents.set(key, out.state);
        touched.add(key);
        for (const decision of out.decisions) publish(decision, out.state, policy, outputs, tally);
      }
    }
    const published: StageOutput['publish'] = [[topics.control, outputs.controls], [topics.breakerState, outputs.standing], [topics.audit, outputs.audits], [topics.deadLetter, dead.messages]];
    return { publish: published, touched, onCommit: tally.onCommit(options.metrics, 'agent_signal', batch.messages.length, published) };
  }

  const stage = createTransactionalStage({
    log,
    logger,
    groupId: options.groupId ?? 'fusebox-agent-stage',
    inputs: [topics.agentSignals],
    changelog: topics.agentState,
    handle,
    state: jsonMapState(agents),
  });

  return {
    policies: book,
    agent: (key: string): Readonly<AgentState> | undefined => agents.get(key),
    lag: () => stage.lag(),
    stats: () => ({ ...stats, ...stage.stats(), policiesApplied: policyFeed.stats().applied }),
    async start(): Promise<void> {
      controlPartitions = await log.partitionCount(topics.control);
      standingPartitions = await log.partitionCount(topics.breakerState);
      signalPartitions = await log.partitionCount(topics.agentSignals);
      await policyFeed.start();
      await stage.start();
    },
    async stop(): Promise<void> {
      await stage.stop();
      await policyFeed.stop();
    },
  };
}

export type AgentStage = ReturnType<typeof createAgentStage>;
