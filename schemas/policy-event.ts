import { z } from 'zod';
import { createCodec } from './codec.js';
import { loadAvsc } from './load.js';

export const DISPOSITIONS = ['warn', 'block', 'redact'] as const;

/** The zod mirror of schemas/avro/PolicyEvent.v2.avsc (v1 lacked selector.runId). */
export const policyEventSchema = z.object({
  policyId: z.string().min(1).max(256),
  version: z.number().int().positive(),
  tenantId: z.string().min(1).max(256),
  selector: z.object({
    agentId: z.string().min(1).nullable().default(null),
    tags: z.array(z.string().min(1)).default([]),
    runId: z.string().min(1).nullable().default(null),
  }),
  detector: z.string().min(1),
  params: z.record(z.string(), z.string()).default({}),
  disposition: z.enum(DISPOSITIONS),
  enabled: z.boolean().default(true),
  changedBy: z.string().min(1),
  changedAtMs: z.number().int().nonnegative(),
});

export type PolicyEvent = z.output<typeof policyEventSchema>;
export type Disposition = (typeof DISPOSITIONS)[number];

export const policyEventAvsc = loadAvsc('PolicyEvent.v2.avsc');
/** Reads v1 (no runId: null) and v2; writes v2. */
export const policyEventCodec = createCodec<PolicyEvent>('PolicyEvent', policyEventAvsc, [loadAvsc('PolicyEvent.v1.avsc')]);
