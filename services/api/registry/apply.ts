/**
 * Applies a registry change: decides it (agent-changes.ts), publishes what it asks for (the
 * agent's scope policy; the agent-scope kill or reset), then appends the agent's new version to
 * agent_registry. Effects go to the log first, the record last: a change whose record failed
 * has taken effect and may be repeated (a repeat republishes the same policy content and the
 * same breaker action, both harmless), while a record is never written for an effect that
 * did not happen. One change per agent at a time (the version is read, then the next written).
 */
import { randomUUID } from 'node:crypto';
import { findAgent, insertAgentVersion, type AgentVersion } from '../../../storage/tables/agent-registry.js';
import type { Caller } from '../auth/authenticate.js';
import { publishOperatorCommand } from '../control/publish.js';
import { ApiError } from '../errors.js';
import { registryScopePolicyId, scopePolicyDraft } from '../policies/policy-events.js';
import { publishNextVersion } from '../policies/publish.js';
import type { ApiDeps } from '../route.js';
import { decideAgentChange, type AgentCommand } from './agent-changes.js';

export async function applyAgentChange(deps: ApiDeps, caller: Caller, agentId: string, command: AgentCommand, reason?: string): Promise<AgentVersion> {
  const { tenantId, keyId } = caller;
  return deps.lock(`agent:${JSON.stringify([tenantId, agentId])}`, async () => {
    const current = await findAgent(deps.store.client, tenantId, agentId);
    const decision = decideAgentChange(current, command);
    const detail = reason ? `${decision.detail}: ${reason}` : decision.detail;

    let scopePolicyVersion: number | null = null;
    if (decision.publishScope) {
      const policy = await publishNextVersion(deps, caller, registryScopePolicyId(tenantId, agentId), () => scopePolicyDraft(decision.state));
      scopePolicyVersion = policy.version;
    }
    let controlEventId: string | null = null;
    if (decision.breaker) {
      const published = await publishOperatorCommand(deps, {
        eventId: randomUUID(), tenantId, target: { scope: 'agent', agentId }, action: decision.breaker,
        message: `agent ${decision.change === 'resumed' ? 'resumed' : decision.state.lifecycle === 'retired' ? 'retired' : 'suspended'} in the registry by key ${keyId}${reason ? `: ${reason}` : ''}`,
        timeMs: deps.clock(),
      }, keyId);
      controlEventId = published.event.eventId;
    }

    const version: AgentVersion = {
      ...decision.state, tenantId, version: (current?.version ?? 0) + 1, change: decision.change, detail,
      changedBy: `key:${keyId}`, changedAtMs: deps.clock(), controlEventId, scopePolicyVersion,
    };
    try {
      await insertAgentVersion(deps.store.client, version);
    } catch (error) {
      throw new ApiError('STORE_UNAVAILABLE', `agent '${agentId}': the change took effect (${detail}) but was not recorded in the registry; repeat the request`, { cause: error });
    }
    return version;
  });
}
