import { z } from 'zod';
import { createCodec } from './codec.js';
import { loadAvsc } from './load.js';

export const AGENT_SIGNAL_KINDS = ['run_started', 'run_succeeded', 'run_failed', 'run_tripped'] as const;

/** The zod mirror of schemas/avro/AgentSignal.v1.avsc. */
export const agentSignalSchema = z.object({
  signalId: z.string().min(1),
  tenantId: z.string().min(1),
  agentId: z.string().min(1),
  runId: z.string().min(1),
  treeId: z.string().min(1),
  kind: z.enum(AGENT_SIGNAL_KINDS),
  detail: z.string().default(''),
  timeMs: z.number().int().nonnegative(),
});

export type AgentSignal = z.output<typeof agentSignalSchema>;

/** The partition key of everything about one agent. */
export const agentKey = (tenantId: string, agentId: string) => `${tenantId}/${agentId}`;

export const agentSignalAvsc = loadAvsc('AgentSignal.v1.avsc');
export const agentSignalCodec = createCodec<AgentSignal>('AgentSignal', agentSignalAvsc);
