/** Request and answer shapes of the agent registry routes, in zod (validation, types and OpenAPI). */
import { z } from 'zod';
import { LIFECYCLE_STATES, REGISTRY_CHANGES } from '../../../storage/tables/agent-registry.js';

const name = z.string().min(1).max(256);

/** Tool names as the scope detector matches them: no commas or spaces (the policy lists them comma-separated); a trailing `*` allows a prefix. */
const tool = z.string().regex(/^[A-Za-z0-9_.:/@-]{1,200}\*?$/, { message: 'a tool name: letters, digits and _ . : / @ -, optionally ending in * for a prefix' });
const allowedTools = z.array(tool).max(500).nullable()
  .meta({ description: 'the tools the agent may call (its scope policy: any other trips the scope breaker); [] for none, null for any' });
const reason = z.string().min(1).max(1000).optional().meta({ description: 'why, kept in the history' });

export const registerAgentBody = z.strictObject({
  agentId: name,
  owner: name.meta({ description: 'who answers for the agent (a person or team)' }),
  lifecycle: z.enum(['development', 'staging', 'production']).default('development'),
  allowedTools: allowedTools.default(null),
});

export const changeAgentBody = z.strictObject({
  owner: name.optional(),
  allowedTools: allowedTools.optional(),
  reason,
});

export const lifecycleBody = z.strictObject({ state: z.enum(LIFECYCLE_STATES), reason });
export const suspendBody = z.strictObject({ reason });
export const agentListQuery = z.strictObject({ lifecycle: z.enum(LIFECYCLE_STATES).optional() });

const boundPolicy = z.object({
  policyId: z.string(),
  version: z.number().int(),
  detector: z.string(),
  disposition: z.string(),
  enabled: z.boolean(),
  managedBy: z.enum(['api', 'registry']),
});

const agentState = {
  agentId: z.string(),
  owner: z.string(),
  lifecycle: z.enum(LIFECYCLE_STATES),
  suspended: z.boolean().meta({ description: 'true while the agent-scope breaker is held open by a suspension' }),
  allowedTools: z.array(z.string()).nullable(),
  version: z.number().int(),
};

export const agentView = z.object({
  ...agentState,
  changedBy: z.string(),
  changedAt: z.string(),
  policies: z.array(boundPolicy).meta({ description: 'the policies whose selector names this agent, including its registry scope policy' }),
}).meta({ id: 'Agent' });

export const agentList = z.object({ agents: z.array(agentView) });

export const agentChange = z.object({
  ...agentState,
  change: z.enum(REGISTRY_CHANGES),
  detail: z.string(),
  changedBy: z.string(),
  changedAt: z.string(),
  controlEventId: z.string().nullable().meta({ description: 'the agent-scope kill or reset this change published' }),
  scopePolicyVersion: z.number().int().nullable().meta({ description: 'the scope policy version this change published' }),
}).meta({ id: 'AgentChange' });

export const agentHistoryView = z.object({ agentId: z.string(), changes: z.array(agentChange) });
