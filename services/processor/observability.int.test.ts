/**
 * The processor process as an operator sees it: /healthz, /readyz and Prometheus /metrics on
 * its own port, counting what it read, wrote, dead-lettered and tripped, and its consumer lag.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../../log/port.js';
import { spanEventCodec } from '../../schemas/index.js';
import { brokers, eventually, freshKafka } from '../../test/kafka.js';
import { killAll, startService } from '../../test/processes.js';
import { toolCall } from '../../test/spans.js';

const logs: EventLog[] = [];
afterAll(async () => {
  await killAll();
  await Promise.all(logs.map((l) => l.close()));
});

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

describe('processor observability (real Kafka)', () => {
  it('serves health, readiness and metrics: spans in, trips by detector, dead letters by code, lag', async () => {
    const { log, topics, prefix } = await freshKafka(2);
    logs.push(log);
    const child = startService('services/processor/main.ts', { KAFKA_BROKERS: brokers().join(','), FUSEBOX_TOPIC_PREFIX: prefix, FUSEBOX_PARTITIONS: '2' });
    const stderr = () => (child as typeof child & { stderrTail(): string }).stderrTail();
    const url = await eventually('the metrics address in the log', () => /"url":"(http:\/\/[^"]+)"/.exec(stderr())?.[1], 60_000);

    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ status: 'ok', service: 'processor' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { kafka: 'ok' } });

    // A loop (3 identical failing calls: one trip) and a message that is not a span at all.
    const calls = [1, 2, 3].map((i) => toolCall('fetch', 'same-args', { status: 'error', error: 'HTTP 503' }, { eventId: `e${i}`, runId: 'r1', treeId: 't1', startTimeMs: i * 1000, endTimeMs: i * 1000 + 10 }));
    const producer = await log.producer();
    await producer.send(topics.spans, [...calls.map((c) => ({ key: c.treeId, value: spanEventCodec.encode(c) })), { key: 't1', value: Buffer.from('not avro') }]);
    await producer.close();

    const text = await eventually('the trip counted', async () => {
      const body = await (await fetch(`${url}/metrics`)).text();
      return sample(body, 'fusebox_trips_total', { detector: 'loop' }) === 1 ? body : undefined;
    }, 60_000);
    expect(sample(text, 'fusebox_events_in_total', { kind: 'span', service: 'processor' })).toBe(4);
    expect(sample(text, 'fusebox_dead_letters_total', { code: 'NOT_SINGLE_OBJECT' })).toBe(1);
    expect(sample(text, 'fusebox_events_out_total', { topic: topics.control })).toBe(1);
    expect(sample(text, 'fusebox_events_out_total', { topic: topics.deadLetter })).toBe(1);
    expect(sample(text, 'fusebox_consumer_lag', { topic: topics.spans })).toBe(0);
  }, 120_000);
});
