/**
 * Keeps the daily cost rollup (storage/tables/cost-daily.ts) current: every `everyMs`, the days
 * whose ledger rows changed and have since been quiet are recomputed. The sink runs it because
 * it writes the ledger; a report never depends on it for being right, only for being fast (a
 * day without a current rollup is read from the ledger).
 */
import type { Store } from '../../storage/store.js';
import { refreshCostDaily } from '../../storage/tables/cost-daily.js';
import type { Logger } from '../logger.js';

export interface CostRollupOptions {
  store: Store;
  everyMs: number;
  quietMs: number;
  logger: Logger;
}

export function startCostRollups(options: CostRollupOptions): { stop(): Promise<void> } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = refreshCostDaily(options.store.client, { quietMs: options.quietMs, now: () => Date.now() })
      .then((result) => {
        if (result.refreshed.length > 0 || result.busy.length > 0) options.logger.info('cost rollup refreshed', { days: result.refreshed, busy: result.busy });
      })
      .catch((error: unknown) => options.logger.warn('cost rollup refresh failed; reports read the ledger meanwhile', { error: (error as Error).message }))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, options.everyMs);
      });
  };
  timer = setTimeout(tick, options.everyMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
