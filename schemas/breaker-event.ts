import { z } from 'zod';
import { createCodec } from './codec.js';
import { CONTROL_SCOPES } from './control-event.js';
import { loadAvsc } from './load.js';

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** The zod mirror of schemas/avro/BreakerEvent.v1.avsc: the audit record of one trip. */
export const breakerEventSchema = z.object({
  eventId: z.string().min(1),
  tenantId: z.string().min(1),
  agentId: z.string().min(1),
  runId: z.string().min(1),
  treeId: z.string().min(1),
  scope: z.enum(CONTROL_SCOPES),
  target: z.string().min(1),
  action: z.string().min(1),
  detector: z.string().min(1),
  threshold: count,
  observed: count,
  windowMs: count.nullable().default(null),
  policyId: z.string().min(1),
  policyVersion: count,
  lastAction: z.string(),
  triggerEventId: z.string().min(1),
  stepsElapsed: count,
  runCostMicros: count,
  treeCostMicros: count,
  message: z.string(),
  timeMs: count,
});

export type BreakerEvent = z.output<typeof breakerEventSchema>;

export const breakerEventAvsc = loadAvsc('BreakerEvent.v1.avsc');
export const breakerEventCodec = createCodec<BreakerEvent>('BreakerEvent', breakerEventAvsc);
