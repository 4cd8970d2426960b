/**
 * Background agents in their own process: `clients` Fusebox clients (one per agent, as separate
 * agent services would be; `agentsPerTenant` of them share a tenant, default 1), each with many
 * concurrent runs, emitting at a paced total rate through Kafka until the parent says stop. The
 * parent may change the rate while they run: `tell({ rate })`.
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
  agentsPerTenant?: number;
  /** One run in this many loops until halted (bench/lib/agents.ts); unset: none. */
  loopEvery?: number;
  /** Tenant and agent names start with it, so several load processes stay apart. Default 'load'. */
  namePrefix?: string;
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
  runsStarted: number;
  loopsCompleted: number;
  loopTrees: string[];
  loopsHalted: number;
  tripLatencies: Array<{ atMs: number; latencyMs: number }>;
  healthyHalted: number;
}

workerMain<LoadInput, LoadResult>(async (input, io) => {
  const clients: Fusebox[] = [];
  const name = input.namePrefix ?? 'load';
  for (let i = 0; i < input.clients; i++) {
    const tenant = Math.floor(i / (input.agentsPerTenant ?? 1));
    clients.push(await createFusebox({ tenantId: `${name}-tenant-${tenant}`, agentId: `${name}-agent-${i}`, brokers: input.brokers, topicPrefix: input.prefix }));
  }
  const agents = clients.map((fusebox, i) => simulateAgents(fusebox, { rate: input.rate / input.clients, runs: input.runsPerClient, seed: 100 + i, ...(input.loopEvery ? { loopEvery: input.loopEvery } : {}) }));
  io.onTell((data) => {
    const { rate } = data as { rate: number };
    for (const a of agents) a.setRate(rate / input.clients);
  });
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
  const sum = (key: 'runsStarted' | 'loopsCompleted' | 'loopsHalted' | 'healthyHalted') => reports.reduce((n, r) => n + r[key], 0);
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
    runsStarted: sum('runsStarted'),
    loopsCompleted: sum('loopsCompleted'),
    loopTrees: reports.flatMap((r) => r.loopTrees),
    loopsHalted: sum('loopsHalted'),
    tripLatencies: reports.flatMap((r) => r.tripLatencies),
    healthyHalted: sum('healthyHalted'),
  };
});
