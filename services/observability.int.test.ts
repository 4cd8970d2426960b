/**
 * The processor and sink processes as an operator sees them: /healthz, /readyz and Prometheus
 * /metrics on ports of their own, counting what they read, wrote, dead-lettered and tripped,
 * and their consumer lag.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../log/port.js';
import { spanEventCodec } from '../schemas/index.js';
import { brokers, eventually, freshKafka } from '../test/kafka.js';
import { killAll, startService } from '../test/processes.js';
import { toolCall } from '../test/spans.js';

const logs: EventLog[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'fusebox-observability-'));
afterAll(async () => {
  await killAll();
  await Promise.all(logs.map((l) => l.close()));
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts a service process and reads the address of its metrics from its log. */
async function startObserved(entry: string, env: Record<string, string>): Promise<string> {
  const child = startService(entry, env);
  const stderr = () => (child as typeof child & { stderrTail(): string }).stderrTail();
  return eventually(`the metrics address in the log of ${entry}`, () => /"url":"(http:\/\/[^"]+)"/.exec(stderr())?.[1], 60_000);
}

async function scrape(url: string, until: (text: string) => boolean): Promise<string> {
  return eventually(`metrics at ${url}`, async () => {
    const body = await (await fetch(`${url}/metrics`)).text();
    return until(body) ? body : undefined;
  }, 60_000);
}

/** The value of one series in Prometheus text, e.g. `fusebox_trips_total{detector="loop"}`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}'));
    const has = Object.entries(labels).every(([k, v]) => inner.includes(`${k}="${v}"`));
    if (has) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('service observability (real Kafka, chDB)', () => {
  it('processor and sink serve health, readiness and metrics: events in and out, trips by detector, dead letters by code, lag', async () => {
    const { log, topics, prefix } = await freshKafka(2);
    logs.push(log);
    const env = { KAFKA_BROKERS: brokers().join(','), FUSEBOX_TOPIC_PREFIX: prefix, FUSEBOX_PARTITIONS: '2', FUSEBOX_DATA_DIR: dataDir };
    const [url, sinkUrl] = await Promise.all([startObserved('services/processor/main.ts', env), startObserved('services/sink/main.ts', env)]);

    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ status: 'ok', service: 'processor' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { kafka: 'ok' } });

    // A loop (3 identical failing calls: one trip) and a message that is not a span at all.
    const calls = [1, 2, 3].map((i) => toolCall('fetch', 'same-args', { status: 'error', error: 'HTTP 503' }, { eventId: `e${i}`, runId: 'r1', treeId: 't1', startTimeMs: i * 1000, endTimeMs: i * 1000 + 10 }));
    const producer = await log.producer();
    await producer.send(topics.spans, [...calls.map((c) => ({ key: c.treeId, value: spanEventCodec.encode(c) })), { key: 't1', value: Buffer.from('not avro') }]);
    await producer.close();

    const text = await scrape(url, (body) => sample(body, 'fusebox_trips_total', { detector: 'loop' }) === 1);
    expect(sample(text, 'fusebox_events_in_total', { kind: 'span', service: 'processor' })).toBe(4);
    expect(sample(text, 'fusebox_dead_letters_total', { code: 'NOT_SINGLE_OBJECT' })).toBe(1);
    expect(sample(text, 'fusebox_events_out_total', { topic: topics.control })).toBe(1);
    expect(sample(text, 'fusebox_events_out_total', { topic: topics.deadLetter })).toBe(1);
    expect(sample(text, 'fusebox_consumer_lag', { topic: topics.spans })).toBe(0);

    // The sink: three span rows written, the garbage dead-lettered, the trip's audit record stored.
    expect(await (await fetch(`${sinkUrl}/readyz`)).json()).toMatchObject({ status: 'ready', checks: { kafka: 'ok', store: 'ok' } });
    // The spans and the audit topic are stored independently (one fetch may hand over both): wait for both.
    const sunk = await scrape(sinkUrl, (body) => sample(body, 'fusebox_events_out_total', { topic: 'clickhouse.breaker_events' }) === 1 && sample(body, 'fusebox_events_out_total', { topic: 'clickhouse.spans' }) === 3);
    expect(sample(sunk, 'fusebox_events_in_total', { kind: 'span', service: 'sink' })).toBe(4);
    expect(sample(sunk, 'fusebox_events_out_total', { topic: 'clickhouse.spans' })).toBe(3);
    expect(sample(sunk, 'fusebox_dead_letters_total', { code: 'NOT_SINGLE_OBJECT' })).toBe(1);
  }, 120_000);
});
