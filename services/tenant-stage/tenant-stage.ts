/**
 * The tenant stage: per-tenant cost velocity (streams/tenant-velocity.ts) across all of a
 * tenant's agents and trees, keyed by tenant, for tenants with a `tenant_cost_velocity`
 * policy. It folds the processor's per-batch spend summaries and publishes tenant-scope trips
 * and resets to every control partition, with audit records. Exactly once, in the same
 * transactional shell as the processor.
 */
import type { LogBatch, OutgoingMessage } from '../../log/port.js';
import { breakerEventCodec, tenantSpendCodec, type ControlEvent } from '../../schemas/index.js';
import type { CostVelocityParams } from '../../streams/detectors/cost-velocity.js';
import { createPolicyBook } from '../../streams/policies.js';
import { initialTenantState, step, TENANT_COST_VELOCITY, tenantVelocityPolicy, type TenantState } from '../../streams/tenant-velocity.js';
import { controlMessages, standingMessage } from '../control-messages.js';
import { batchDeadLetters } from '../dead-letter.js';
import { batchTally } from '../observability/index.js';
import { createPolicyFeed } from '../policy-feed.js';
import { createTransactionalStage, jsonMapState, type StageOutput } from '../transactional-stage.js';
import type { StageServiceOptions } from '../stage-service.js';

export type TenantStageOptions = StageServiceOptions;

export function createTenantStage(options: TenantStageOptions) {
  const { log, topics, logger } = options;
  const book = options.policies ?? createPolicyBook();
  const policyFeed = createPolicyFeed(log, topics.policies, book, logger.child('policies'));
  const tenants = new Map<string, TenantState>();
  const stats = { summaries: 0, trips: 0, resets: 0 };
  let controlPartitions = 0;
  let standingPartitions = 0;

  function handle(batch: LogBatch): StageOutput {
    const controls: OutgoingMessage[] = [];
    const audits: OutgoingMessage[] = [];
    const standing: OutgoingMessage[] = [];
    const tally = batchTally();
    const dead = batchDeadLetters('tenant-stage', tally.deadLetter);
    const touched = new Set<string>();
    for (const message of batch.messages) {
      const summary = dead.decode(tenantSpendCodec, message);
      if (!summary) continue;
      stats.summaries += 1;
      const policy = book.resolve(tenantVelocityPolicy, { tenantId: summary.tenantId, agentId: '', runId: summary.runId, tags: [] });
      if (!policy) continue; // no limit set for this tenant
      const out = step(tenants.get(summary.tenantId) ?? initialTenantState(summary.tenantId), summary, policy.params as CostVelocityParams);
      tenants.set(summary.tenantId, out.state);
      touched.add(summary.tenantId);
      for (const d of out.decisions) {
        const control: ControlEvent = {
          eventId: d.eventId, tenantId: summary.tenantId, scope: 'tenant', target: summary.tenantId, treeId: null, action: d.action,
          reason: { detector: TENANT_COST_VELOCITY, threshold: d.threshold, observed: d.observed, windowMs: d.windowMs, message: d.message },
          policyId: policy.ref.policyId, policyVersion: policy.ref.policyVersion, timeMs: d.timeMs,
        };
        controls.push(...controlMessages(control, controlPartitions));
        const stands = standingMessage(control, standingPartitions);
        if (stands) standing.push(stands);
        audits.push({ key: summary.treeId, value: breakerEventCodec.encode({
          eventId: d.eventId, tenantId: summary.tenantId, agentId: '(tenant)', runId: summary.runId, treeId: summary.treeId,
          scope: 'tenant', target: summary.tenantId, action: d.action, detector: TENANT_COST_VELOCITY,
          threshold: d.threshold, observed: d.observed, windowMs: d.windowMs, policyId: policy.ref.policyId, policyVersion: policy.ref.policyVersion,
          lastAction: 'tenant spend', triggerEventId: summary.signalId, stepsElapsed: 0, runCostMicros: 0, treeCostMicros: 0, message: d.message, timeMs: d.timeMs,
        }) });
        if (d.action === 'trip') {
          stats.trips += 1;
          tally.trip(TENANT_COST_VELOCITY);
        }
        else stats.resets += 1;
        logger.info(`tenant velocity ${d.action}`, { tenant: summary.tenantId, observed: d.observed, threshold: d.threshold });
      }
    }
    const publish: StageOutput['publish'] = [[topics.control, controls], [topics.breakerState, standing], [topics.audit, audits], [topics.deadLetter, dead.messages]];
    return { publish, touched, onCommit: tally.onCommit(options.metrics, 'tenant_spend', batch.messages.length, publish) };
  }

  const stage = createTransactionalStage({
    log,
    logger,
    groupId: options.groupId ?? 'fusebox-tenant-stage',
    inputs: [topics.tenantSpend],
    changelog: topics.tenantState,
    handle,
    state: jsonMapState(tenants),
  });

  return {
    tenant: (tenantId: string): Readonly<TenantState> | undefined => tenants.get(tenantId),
    lag: () => stage.lag(),
    stats: () => ({ ...stats, ...stage.stats(), policiesApplied: policyFeed.stats().applied }),
    async start(): Promise<void> {
      controlPartitions = await log.partitionCount(topics.control);
      standingPartitions = await log.partitionCount(topics.breakerState);
      await policyFeed.start();
      await stage.start();
    },
    async stop(): Promise<void> {
      await stage.stop();
      await policyFeed.stop();
    },
  };
}

export type TenantStage = ReturnType<typeof createTenantStage>;
