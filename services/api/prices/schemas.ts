/** Request and answer schemas of the price routes (OpenAPI comes from these). */
import { z } from 'zod';
import { timeParam } from '../schemas.js';

const name = z.string().min(1).max(256).regex(/^[a-z0-9][a-z0-9._:-]*$/, { message: 'expected a lower-case name (letters, digits, . _ : -)' });
const rate = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).meta({ description: 'integer micro-USD per million tokens ($2.50 = 2500000)' });

export const pricesQuery = z.strictObject({
  at: timeParam.optional().meta({ description: 'the time the prices are in effect at; now when absent' }),
});

export const priceView = z.object({
  provider: z.string(),
  model: z.string(),
  origin: z.enum(['shipped', 'tenant']),
  version: z.string().meta({ description: 'names the version, as recorded on priced spans (fusebox.price.version)' }),
  effectiveFrom: z.string(),
  inputMicrosPerMTok: z.number(),
  outputMicrosPerMTok: z.number(),
  cachedInputMicrosPerMTok: z.number(),
  source: z.string(),
}).meta({ id: 'Price' });

export const priceList = z.object({ at: z.string(), prices: z.array(priceView) });

export const overrideBody = z.strictObject({
  provider: name.meta({ description: 'a provider Fusebox ships prices for (openai, anthropic, google) or any endpoint name of your own' }),
  model: name.meta({ description: 'base model name; snapshot names (gpt-4o-2024-08-06) are priced by it' }),
  effectiveFrom: timeParam.optional().meta({ description: 'spans that start at or after this time are priced by the override; now when absent' }),
  inputMicrosPerMTok: rate,
  outputMicrosPerMTok: rate,
  cachedInputMicrosPerMTok: rate,
  note: z.string().max(1024).default(''),
}).superRefine((body, ctx) => {
  if (body.cachedInputMicrosPerMTok > body.inputMicrosPerMTok) {
    ctx.addIssue({ code: 'custom', path: ['cachedInputMicrosPerMTok'], message: `cached input (${body.cachedInputMicrosPerMTok}) must not cost more than uncached input (${body.inputMicrosPerMTok})` });
  }
});

export const overrideParams = z.strictObject({
  provider: name,
  model: name,
  effectiveFrom: timeParam,
});

export const overrideView = z.object({
  provider: z.string(),
  model: z.string(),
  effectiveFrom: z.string(),
  inputMicrosPerMTok: z.number(),
  outputMicrosPerMTok: z.number(),
  cachedInputMicrosPerMTok: z.number(),
  note: z.string(),
  changedBy: z.string(),
  changedAt: z.string(),
}).meta({ id: 'PriceOverride' });

export const overrideList = z.object({ overrides: z.array(overrideView) });
