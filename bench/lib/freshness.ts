/**
 * How long after an agent emitted a span it can be queried in ClickHouse, measured inside the
 * sink's process (chDB binds its folder to one process, so nobody else can ask it), two ways:
 *
 *   acked   every 128th span of each batch, when the sink's handler for that batch resolved: the
 *           sink returns only after the ClickHouse insert holding the batch's rows succeeded, so
 *           from then on a SELECT sees them. Many samples, no queries; it trusts that claim.
 *   polled  every 250 ms one span, at a random place in the batch the sink receives, is taken
 *           as a probe, and ClickHouse is asked for it by its primary key every 25 ms (all
 *           outstanding probes in one query) until a row comes back. Fewer samples, each one
 *           proven by a query; it costs the sink a little. The query that found a probe is timed
 *           too (`pollQueryMs`): in chDB it runs in the sink's process beside the inserts and
 *           merges, and its own wait is part of what a probe measures.
 *
 * Both measure from the span's `endTimeMs`, which the client stamps with Date.now() in the tick
 * it emits the span (the simulated agents' work is instant), and all processes share the
 * machine's clock. Samples carry the time they were taken, so a scenario can keep a window.
 */
import type { LogBatch } from '../../log/port.js';
import { spanEventCodec } from '../../schemas/index.js';
import type { Store } from '../../storage/store.js';

/** [Date.now() when taken, emit-to-queryable milliseconds] */
export type TimedSample = [atMs: number, latencyMs: number];

export interface FreshnessSamples {
  acked: TimedSample[];
  polled: TimedSample[];
  /** Probes never found within GIVE_UP_MS. */
  polledMissed: number;
  /** [Date.now() when it returned, milliseconds] of each query that found at least one probe. */
  pollQueryMs: TimedSample[];
}

const ACK_EVERY = 128;
const PROBE_EVERY_MS = 250;
const POLL_EVERY_MS = 25;
const GIVE_UP_MS = 30_000;

interface Probe {
  tenantId: string;
  treeId: string;
  eventId: string;
  emittedAt: number;
}

export function measureFreshness(store: Store) {
  const samples: FreshnessSamples = { acked: [], polled: [], polledMissed: 0, pollQueryMs: [] };
  const probes = new Map<string, Probe>();
  let nextProbeAt = 0;
  let polling = false;

  const poll = async () => {
    if (polling || probes.size === 0) return;
    polling = true;
    try {
      const waiting = [...probes.values()];
      const asked = Date.now();
      const result = await store.client.query({
        query: 'SELECT event_id FROM spans WHERE tenant_id IN {tenants:Array(String)} AND tree_id IN {trees:Array(String)} AND event_id IN {ids:Array(String)}',
        query_params: { tenants: [...new Set(waiting.map((p) => p.tenantId))], trees: waiting.map((p) => p.treeId), ids: waiting.map((p) => p.eventId) },
        format: 'JSONEachRow',
      });
      const rows = await result.json<{ event_id: string }>();
      const now = Date.now();
      let found = 0;
      for (const row of rows) {
        const probe = probes.get(row.event_id);
        if (!probe) continue;
        samples.polled.push([now, now - probe.emittedAt]);
        probes.delete(row.event_id);
        found += 1;
      }
      if (found > 0) samples.pollQueryMs.push([now, now - asked]);
      for (const probe of probes.values()) {
        if (now - probe.emittedAt > GIVE_UP_MS) { samples.polledMissed += 1; probes.delete(probe.eventId); }
      }
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll().catch(() => {}), POLL_EVERY_MS);
  timer.unref();

  return {
    /** A span batch reached the sink's handler. */
    received(batch: LogBatch): void {
      const now = Date.now();
      if (now < nextProbeAt || batch.messages.length === 0) return;
      nextProbeAt = now + PROBE_EVERY_MS;
      // At random, not the batch's first: that one is its oldest span, which biased the probe late.
      const event = spanEventCodec.decode(batch.messages[Math.floor(Math.random() * batch.messages.length)]!.value!);
      probes.set(event.eventId, { tenantId: event.tenantId, treeId: event.treeId, eventId: event.eventId, emittedAt: event.endTimeMs });
    },
    /** The sink's handler for that batch resolved: its rows are in ClickHouse. */
    stored(batch: LogBatch): void {
      const now = Date.now();
      for (let i = 0; i < batch.messages.length; i += ACK_EVERY) {
        samples.acked.push([now, now - spanEventCodec.decode(batch.messages[i]!.value!).endTimeMs]);
      }
    },
    stop(): FreshnessSamples {
      clearInterval(timer);
      return samples;
    },
  };
}
