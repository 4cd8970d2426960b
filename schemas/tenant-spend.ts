import { z } from 'zod';
import { createCodec } from './codec.js';
import { loadAvsc } from './load.js';

const count = z.number().int().nonnegative();

/** The zod mirror of schemas/avro/TenantSpend.v1.avsc. */
export const tenantSpendSchema = z.object({
  signalId: z.string().min(1),
  tenantId: z.string().min(1),
  spend: z.array(z.object({ timeMs: count, micros: count })),
  latestMs: count,
  runId: z.string().min(1),
  treeId: z.string().min(1),
});

export type TenantSpend = z.output<typeof tenantSpendSchema>;

export const tenantSpendAvsc = loadAvsc('TenantSpend.v1.avsc');
export const tenantSpendCodec = createCodec<TenantSpend>('TenantSpend', tenantSpendAvsc);
