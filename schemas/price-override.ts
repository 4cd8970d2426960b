import { z } from 'zod';
import { createCodec } from './codec.js';
import { loadAvsc } from './load.js';

const rate = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const name = z.string().min(1).max(256).regex(/^[a-z0-9][a-z0-9._:-]*$/, 'lower-case letters, digits and . _ : - only');

/** The zod mirror of schemas/avro/PriceOverride.v1.avsc. */
export const priceOverrideSchema = z.object({
  tenantId: z.string().min(1).max(256),
  provider: name,
  model: name,
  effectiveFromMs: z.number().int().nonnegative(),
  inputMicrosPerMTok: rate,
  outputMicrosPerMTok: rate,
  cachedInputMicrosPerMTok: rate,
  note: z.string().max(1024).default(''),
  changedBy: z.string().min(1),
  changedAtMs: z.number().int().nonnegative(),
});

export type PriceOverride = z.output<typeof priceOverrideSchema>;

export const priceOverrideAvsc = loadAvsc('PriceOverride.v1.avsc');
export const priceOverrideCodec = createCodec<PriceOverride>('PriceOverride', priceOverrideAvsc);
