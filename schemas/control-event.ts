import { z } from 'zod';
import { createCodec } from './codec.js';
import { loadAvsc } from './load.js';

export const CONTROL_SCOPES = ['run', 'tree', 'agent', 'tenant'] as const;
export const CONTROL_ACTIONS = ['trip', 'warn', 'reset', 'kill'] as const;

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const tripReasonSchema = z.object({
  detector: z.string().min(1),
  threshold: count,
  observed: count,
  windowMs: count.nullable().default(null),
  message: z.string(),
});

/** The zod mirror of schemas/avro/ControlEvent.v1.avsc. */
export const controlEventSchema = z.object({
  eventId: z.string().min(1),
  tenantId: z.string().min(1),
  scope: z.enum(CONTROL_SCOPES),
  target: z.string().min(1),
  treeId: z.string().min(1).nullable().default(null),
  action: z.enum(CONTROL_ACTIONS),
  reason: tripReasonSchema.nullable().default(null),
  policyId: z.string().nullable().default(null),
  policyVersion: count.nullable().default(null),
  timeMs: count,
});

export type ControlEvent = z.output<typeof controlEventSchema>;

/**
 * The gateway's control stream says, each time it connects, which breakers of the tenant are
 * open (`event: open-breakers`, after sending each of them as a control event): a client that
 * reconnects learns of the resets it missed.
 */
export const openBreakersSchema = z.object({ eventIds: z.array(z.string().min(1)) });
export type OpenBreakers = z.output<typeof openBreakersSchema>;
export type ControlScope = (typeof CONTROL_SCOPES)[number];
export type TripReason = z.output<typeof tripReasonSchema>;

export const controlEventAvsc = loadAvsc('ControlEvent.v1.avsc');
export const controlEventCodec = createCodec<ControlEvent>('ControlEvent', controlEventAvsc);
