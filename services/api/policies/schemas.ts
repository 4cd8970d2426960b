/** Request and answer shapes of the policy routes, in zod (validation, types and OpenAPI). */
import { z } from 'zod';
import { DISPOSITIONS } from '../../../schemas/index.js';
import { POLICY_DETECTORS } from '../../../streams/policies.js';

const name = z.string().min(1).max(256);

export const policyParams = z.strictObject({ policyId: name });

const selector = z.strictObject({
  agentId: name.nullable().default(null).meta({ description: 'only this agent; null for every agent' }),
  tags: z.array(z.string().min(1).max(128)).max(32).default([]).meta({ description: 'only agents carrying all these fleet tags' }),
  runId: name.nullable().default(null).meta({ description: 'only this run' }),
}).meta({ description: 'whom the policy governs; empty: the whole tenant. The most specific matching policy wins: run, agent, tags, tenant' });

/** Parameters are strings on the wire (PolicyEvent.params); numbers and booleans are accepted and written as text. */
const params = z.record(z.string().min(1).max(64), z.union([z.string().max(4096), z.number(), z.boolean()]).transform(String))
  .refine((record) => Object.keys(record).length <= 32, { message: 'at most 32 parameters' })
  .meta({ description: 'the detector\'s parameters, e.g. { "threshold": 3 } for loop; checked as the processors parse them' });

export const createPolicyBody = z.strictObject({
  detector: z.string().min(1).max(64).meta({ description: `one of: ${POLICY_DETECTORS.join(', ')}` }),
  selector: selector.default({ agentId: null, tags: [], runId: null }),
  params: params.default({}),
  disposition: z.enum(DISPOSITIONS).default('block'),
  enabled: z.boolean().default(true),
});

export const changePolicyBody = z.strictObject({
  selector: selector.optional(),
  params: params.optional().meta({ description: 'replaces all parameters' }),
  disposition: z.enum(DISPOSITIONS).optional(),
  enabled: z.boolean().optional(),
});

export const policyListQuery = z.strictObject({
  detector: z.string().min(1).max(64).optional(),
  agent: name.optional().meta({ description: 'policies whose selector names this agent' }),
  enabled: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
});

export const policyView = z.object({
  policyId: z.string(),
  version: z.number().int(),
  detector: z.string(),
  selector: z.object({ agentId: z.string().nullable(), tags: z.array(z.string()), runId: z.string().nullable() }),
  params: z.record(z.string(), z.string()),
  disposition: z.enum(DISPOSITIONS),
  enabled: z.boolean(),
  managedBy: z.enum(['api', 'registry']).meta({ description: 'registry: an agent\'s allowed tools; change it through the agent' }),
  changedBy: z.string(),
  changedAt: z.string(),
}).meta({ id: 'Policy' });

export const policyList = z.object({ policies: z.array(policyView) });
export const policyHistoryView = z.object({ policyId: z.string(), versions: z.array(policyView) });
