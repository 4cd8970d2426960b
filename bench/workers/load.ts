/**
 * Background agents in their own process: `clients` Fusebox clients (one per tenant, as separate
 * agent services would be), each with many concurrent runs, emitting at a paced total rate
 * through Kafka until the parent says stop.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createFusebox, type Fusebox } from '../../client/index.js';
import { simulateAgents } from '../lib/agents.js';
import { perSecond } from '../lib/stats.js';
import { workerMain } from '../lib/worker-side.js';

export interface LoadInput {
  brokers: string[];
  prefix: string;
  rate: number;
  clients: number;
  runsPerClient: number;
}

export interface LoadResult {
  spans: number;
  ratePerSec: number;
  sent: number;
  dropped: number;
  unsent: number;
  eventLoopDelayP99Ms: number;
  openFailures: number;
  firstOpenError: string | null;
}

workerMain<LoadInput, LoadResult>(async (input, io) => {
  const clients: Fusebox[] = [];
  for (let i = 0; i < input.clients; i++) {
    clients.push(await createFusebox({ tenantId: `load-tenant-${i}`, agentId: `load-agent-${i}`, brokers: input.brokers, topicPrefix: input.prefix }));
  }
  const agents = clients.map((fusebox, i) => simulateAgents(fusebox, { rate: input.rate / input.clients, runs: input.runsPerClient, seed: 100 + i }));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  for (const a of agents) a.start();
  io.ready();

  await io.stopRequested;
  const reports = agents.map((a) => a.stop());
  delay.disable();
  const closed = await Promise.all(clients.map((c) => c.close()));
  const stats = clients.map((c) => c.stats());
  const spans = reports.reduce((n, r) => n + r.spans, 0);
  const elapsedMs = Math.max(...reports.map((r) => r.elapsedMs));
  return {
    spans,
    ratePerSec: perSecond(spans, elapsedMs),
    sent: stats.reduce((n, s) => n + s.sent, 0),
    dropped: stats.reduce((n, s) => n + s.dropped, 0),
    unsent: closed.reduce((n, c) => n + c.unsent, 0),
    eventLoopDelayP99Ms: delay.percentile(99) / 1e6,
    openFailures: reports.reduce((n, r) => n + r.openFailures, 0),
    firstOpenError: reports.find((r) => r.firstOpenError)?.firstOpenError ?? null,
  };
});
