/**
 * Policies as the API writes them, pure: checking a draft exactly as the processors will parse
 * it (so a bad policy is a 400 naming the field, never a version the processors refuse), turning
 * a draft into the next PolicyEvent version, and the scope policy the agent registry publishes
 * for an agent's allowed tools.
 */
import { z } from 'zod';
import { policyEventSchema, type Disposition, type PolicyEvent } from '../../../schemas/index.js';
import { paramsSchema, POLICY_DETECTORS } from '../../../streams/policies.js';
import type { AgentState } from '../../../storage/tables/agent-registry.js';
import { ApiError } from '../errors.js';

/** What a caller sets on a policy; the API adds id, version, tenant and who/when. */
export interface PolicyDraft {
  detector: string;
  selector: { agentId: string | null; tags: string[]; runId: string | null };
  params: Record<string, string>;
  disposition: Disposition;
  enabled: boolean;
}

export interface PolicyStamp {
  policyId: string;
  tenantId: string;
  version: number;
  changedBy: string;
  changedAtMs: number;
}

const invalid = (field: string, message: string) => new ApiError('INVALID_REQUEST', `${field}: ${message}`, { field });

/** Refuses a draft the policy book would refuse (or silently misread), naming the field under `where`. */
export function checkPolicyDraft(draft: PolicyDraft, where: string): void {
  const schema = paramsSchema(draft.detector);
  if (!schema) throw invalid(`${where}.detector`, `unknown detector '${draft.detector}' (known: ${POLICY_DETECTORS.join(', ')})`);
  if ((draft.detector === 'redact') !== (draft.disposition === 'redact')) {
    throw invalid(`${where}.disposition`, draft.detector === 'redact' ? "a redact policy has disposition 'redact'" : `'redact' is only for the redact detector; ${draft.detector} takes 'block' or 'warn'`);
  }
  // zod objects drop keys they do not know: a misspelt parameter would silently leave the default in force.
  const known = schema instanceof z.ZodObject ? Object.keys(schema.shape) : null;
  const unknown = known === null ? undefined : Object.keys(draft.params).find((name) => !known.includes(name));
  if (unknown !== undefined) throw invalid(`${where}.params.${unknown}`, `unknown parameter of ${draft.detector} (expected one of: ${known!.join(', ')})`);
  const parsed = schema.safeParse(draft.params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = [`${where}.params`, ...issue.path.map(String)].join('.');
    const given = issue.path.length > 0 ? draft.params[String(issue.path[0])] : undefined;
    if (given === undefined) throw invalid(field, issue.code === 'invalid_type' ? 'required' : issue.message);
    throw invalid(field, `${issue.message} (got '${given}')`);
  }
}

/** A checked draft as the PolicyEvent of the given version. */
export function policyVersion(draft: PolicyDraft, stamp: PolicyStamp): PolicyEvent {
  return policyEventSchema.parse({ ...stamp, ...draft, selector: { ...draft.selector } });
}

/** The draft a policy version was made from (what a change starts from). */
export function draftOf(policy: PolicyEvent): PolicyDraft {
  return { detector: policy.detector, selector: { ...policy.selector }, params: { ...policy.params }, disposition: policy.disposition, enabled: policy.enabled };
}

const REGISTRY_PREFIX = 'registry:';

/**
 * The id of an agent's registry-managed scope policy. Policy ids key the one compacted topic
 * for every tenant, so the id carries the tenant (encoded, so no two tenant/agent pairs share
 * one) and nobody else's policy can overwrite it.
 */
export function registryScopePolicyId(tenantId: string, agentId: string): string {
  return `${REGISTRY_PREFIX}scope:${encodeURIComponent(tenantId)}/${encodeURIComponent(agentId)}`;
}

/** Policies the registry writes; the policies API reads them but changes them only through the agent. */
export function isRegistryManaged(policyId: string): boolean {
  return policyId.startsWith(REGISTRY_PREFIX);
}

/**
 * An agent's allowed tools as its scope policy: agent-level, blocking; disabled when the agent
 * may use any tool (the next less specific scope policy, if any, governs again).
 */
export function scopePolicyDraft(agent: Pick<AgentState, 'agentId' | 'allowedTools'>): PolicyDraft {
  return {
    detector: 'scope',
    selector: { agentId: agent.agentId, tags: [], runId: null },
    params: { allowedTools: (agent.allowedTools ?? []).join(',') },
    disposition: 'block',
    enabled: agent.allowedTools !== null,
  };
}
