/**
 * What the HTTP transport does when the gateway says no, on the real gateway and broker:
 * 401 and 403 at start fail createFusebox at once (TransportUnavailable naming the status), a
 * 403 on spans later keeps them and retries slowly; 429 and 503 are retried no sooner than
 * their Retry-After, spans wait in the bounded buffer meanwhile and the oldest beyond the bound
 * are dropped and counted, and after a 429 spell the held spans arrive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import { spanEventCodec } from '../schemas/index.js';
import type { Store } from '../storage/store.js';
import { gatewayHarness, type GatewayHarness } from '../test/gateway.js';
import { eventually, freshKafka, readAll } from '../test/kafka.js';
import { freshStore } from '../test/store.js';
import { createFusebox, TransportUnavailable, type Fusebox, type FuseboxOptions, type FuseboxWarning } from './index.js';

type TransportWarning = Extract<FuseboxWarning, { kind: 'transport' }> & { atMs: number };

describe('HTTP transport error paths (real gateway and broker)', () => {
  let kafka: { log: EventLog; topics: Topics; prefix: string };
  let store: Store;
  let gw: GatewayHarness;
  let url: string;
  const clients: Fusebox[] = [];
  const gateways: GatewayHarness[] = [];

  beforeAll(async () => {
    kafka = await freshKafka(3);
    store = await freshStore();
    gw = await gatewayHarness({ kafka, store });
    url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close(500)));
    await Promise.allSettled(gateways.map((g) => g.close()));
    await gw?.close();
    await kafka?.log.close();
    await store?.close();
  });

  /** A client recording its transport warnings with the time each arrived. */
  async function client(over: Partial<FuseboxOptions> & Pick<FuseboxOptions, 'url' | 'apiKey'>) {
    const warnings: TransportWarning[] = [];
    const fusebox = await createFusebox({
      transport: 'http', tenantId: 'acme', agentId: 'edge-agent', logLine: () => {},
      onWarning: (w) => { if (w.kind === 'transport') warnings.push({ ...w, atMs: Date.now() }); },
      ...over,
    });
    clients.push(fusebox);
    const spans = () => warnings.filter((w) => w.spans > 0);
    const polls = () => warnings.filter((w) => w.spans === 0);
    return { fusebox, spans, polls };
  }

  const gaps = (warnings: TransportWarning[]) => warnings.slice(1).map((w, i) => w.atMs - warnings[i]!.atMs);

  it('fails createFusebox at once with an unknown key (401) or a role that may not do anything here (403)', async () => {
    for (const [apiKey, status] of [[`fbx_0123456789abcdef_${'a'.repeat(43)}`, 401], [await gw.key('acme', 'finance'), 403]] as const) {
      const startedMs = Date.now();
      const error = await createFusebox({ transport: 'http', url, apiKey, tenantId: 'acme', agentId: 'edge-agent', logLine: () => {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransportUnavailable);
      expect((error as Error).message).toContain(`answered ${status}`);
      expect((error as Error).message).toMatch(status === 401 ? /unknown or revoked API key/ : /use an 'agent' key/);
      expect(Date.now() - startedMs).toBeLessThan(5_000); // not the 10 s connect timeout: waiting cannot change the answer
    }
  });

  it('keeps spans a 403 refuses, reports it, and tries again only after 5 s', async () => {
    // An SRE key may follow breakers and read policies, so the client starts, but may not ingest.
    const { fusebox, spans } = await client({ url, apiKey: await gw.key('acme', 'sre') });
    const run = await fusebox.startRun();
    run.record({ kind: 'custom', name: 'refused', status: 'ok' });
    await eventually('the refusal to be reported', () => spans().length >= 1);
    expect(spans()[0]!.error.message).toMatch(/answered 403 \(the key's role may not ingest spans: use an 'agent' key\)/);
    await new Promise((ok) => setTimeout(ok, 3_000)); // within the 5 s: no second attempt (250 ms retries would make ~12)
    expect(spans()).toHaveLength(1);
    expect(fusebox.stats()).toMatchObject({ sent: 0, buffered: 2, dropped: 0, sendErrors: 1 });
    expect(await fusebox.close(200)).toEqual({ unsent: 2 });
  }, 30_000);

  it('waits out 429 Retry-After on spans and policy polls, holds spans to its bound, drops and counts the oldest, then delivers the rest', async () => {
    const t0 = 1_700_000_000_000;
    let clock = () => t0; // frozen: no token comes back, Retry-After stays 2 s
    const limited = await gatewayHarness({ kafka, store, clock: () => clock(), limits: { ratePerSecond: 0.5, rateBurst: 2 } });
    gateways.push(limited);
    const limitedUrl = await limited.app.listen({ port: 0, host: '127.0.0.1' });
    // The burst of 2: the control stream and the first policy poll; everything after is 429.
    const { fusebox, spans, polls } = await client({ url: limitedUrl, apiKey: await limited.key('acme', 'agent'), maxBuffered: 20, batchSize: 100, policyPollMs: 200 });
    const run = await fusebox.startRun(); // its run_start span is the oldest
    for (let i = 0; i < 29; i++) run.record({ kind: 'custom', name: `step-${i}`, status: 'ok' });
    expect(fusebox.stats()).toMatchObject({ buffered: 20, dropped: 10 });

    await eventually('three refused sends', () => spans().length >= 3, 30_000);
    expect(spans()[0]!.error.message).toMatch(/answered 429/);
    for (const gap of gaps(spans())) expect(gap).toBeGreaterThanOrEqual(1_900); // Retry-After: 2, not the 250 ms default
    expect(polls().length).toBeGreaterThanOrEqual(1);
    for (const gap of gaps(polls())) expect(gap).toBeGreaterThanOrEqual(1_900); // not the 200 ms poll interval
    expect(fusebox.stats()).toMatchObject({ sent: 0, buffered: 20, dropped: 10, stale: false });

    // Time moves again, fast: tokens come back and the held spans go out, the dropped ones never.
    const thawedAt = Date.now();
    clock = () => t0 + 3_600_000 + (Date.now() - thawedAt) * 100;
    await eventually('the held spans to be sent', () => fusebox.stats().sent === 20, 30_000);
    const names = await eventually('the spans on the topic', async () => {
      const ours = (await readAll(kafka.log, kafka.topics.spans)).map((m) => spanEventCodec.decode(m.value!)).filter((s) => s.runId === run.id);
      return ours.length >= 20 ? ours.map((s) => s.name) : undefined;
    });
    expect(names.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `step-${i + 9}`).sort());
    expect(fusebox.stats()).toMatchObject({ sent: 20, buffered: 0, dropped: 10 });
  }, 90_000);

  it('waits out 503 Retry-After while the gateway sheds load, holding spans to its bound', async () => {
    const draining = await gatewayHarness({ kafka, store, limits: { maxPendingSpans: 0 } }); // every batch: 503 OVERLOADED, Retry-After 1
    gateways.push(draining);
    const drainingUrl = await draining.app.listen({ port: 0, host: '127.0.0.1' });
    const { fusebox, spans } = await client({ url: drainingUrl, apiKey: await draining.key('acme', 'agent'), maxBuffered: 5, batchSize: 100 });
    const run = await fusebox.startRun();
    for (let i = 0; i < 7; i++) run.record({ kind: 'custom', name: `shed-${i}`, status: 'ok' });
    await eventually('three refused sends', () => spans().length >= 3, 30_000);
    expect(spans()[0]!.error.message).toMatch(/answered 503: .*OVERLOADED/);
    for (const gap of gaps(spans())) expect(gap).toBeGreaterThanOrEqual(900); // Retry-After: 1, not the 250 ms default
    expect(fusebox.stats()).toMatchObject({ sent: 0, buffered: 5, dropped: 3, stale: false });
    expect(await fusebox.close(200)).toEqual({ unsent: 5 });
  }, 60_000);
});
