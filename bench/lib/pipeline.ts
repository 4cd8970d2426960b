/**
 * The pieces of a running Fusebox pipeline as bench workers, each in its own process: processor
 * instances, a sink into chDB, and simulated agents emitting through the real client. Scenarios
 * that run the whole pipeline (sustained, scale-out) start them the same way.
 */
import type { BenchContext } from '../scenarios/scenario.js';
import type { DrainInput, DrainResult } from '../workers/drain.js';
import type { LoadInput, LoadResult } from '../workers/load.js';
import { startWorker, type WorkerHandle } from './child.js';

/** Live until stopped, so a generous ceiling: the scenario stops it long before. */
const LIVE_TIMEOUT_MS = 600_000;

/** `clientId` names the instance in the group coordinator's member list (default: the group id). */
export function startProcessor(ctx: BenchContext, prefix: string, groupId: string, label = 'processor', clientId?: string): WorkerHandle<DrainResult> {
  return startWorker<DrainResult>('workers/drain.ts', { mode: 'processor', brokers: ctx.brokers, prefix, expected: 0, groupId, ...(clientId ? { clientId } : {}) } satisfies DrainInput, { label, progress: ctx.progress, timeoutMs: LIVE_TIMEOUT_MS });
}

export function startSink(ctx: BenchContext, prefix: string, groupId: string, chdbPath: string): WorkerHandle<DrainResult> {
  return startWorker<DrainResult>('workers/drain.ts', { mode: 'sink', brokers: ctx.brokers, prefix, expected: 0, groupId, chdbPath, freshness: true } satisfies DrainInput, { label: 'sink', progress: ctx.progress, timeoutMs: LIVE_TIMEOUT_MS });
}

/** `processes` load workers sharing `rate` (spans/s) evenly; `setRate` re-divides it. */
export function startAgents(ctx: BenchContext, processes: number, input: Omit<LoadInput, 'brokers' | 'rate' | 'namePrefix'> & { rate: number }) {
  const workers = Array.from({ length: processes }, (_, i) => startWorker<LoadResult>('workers/load.ts', { ...input, brokers: ctx.brokers, rate: input.rate / processes, namePrefix: `agents${i + 1}` } satisfies LoadInput, { label: `agents ${i + 1}`, progress: ctx.progress, timeoutMs: LIVE_TIMEOUT_MS }));
  return {
    workers,
    ready: () => Promise.all(workers.map((w) => w.ready)),
    setRate: (rate: number) => { for (const w of workers) w.tell({ rate: rate / processes }); },
    /** Stops them all and sums what they report. */
    async stop(): Promise<LoadResult[]> {
      for (const w of workers) w.stop();
      return Promise.all(workers.map((w) => w.result));
    },
    kill: () => { for (const w of workers) w.kill(); },
  };
}
