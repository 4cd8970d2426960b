/**
 * The agent keeps running while its broker is down. On a broker of its own (so other test
 * files never see the outage): spans emitted while it is stopped wait in the client's bounded
 * buffer and all arrive once it is back; beyond the bound the oldest are dropped, and the client
 * reports exactly how many. A client configured to fail closed refuses actions once the control
 * plane has been silent past its bound, says so once, and recovers by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaLog } from '../log/kafka.js';
import type { EventLog } from '../log/port.js';
import { topicNames, topicSpecs, type Topics } from '../log/topics.js';
import { spanEventCodec, type SpanEvent } from '../schemas/index.js';
import { canonicalHash } from '../streams/canonical.js';
import { startKafkaBroker, type KafkaBroker } from '../scripts/kafka/broker.js';
import { eventually, readAll } from '../test/kafka.js';
import { createFusebox, RunHalted, type Fusebox, type FuseboxWarning, type Run } from './index.js';

const OUTAGE_CALLS = 400; // under the built-in iteration cap of 500 steps
const SMALL_BUFFER = 250;
const BATCH = 50;

describe('agent client while the broker is stopped and restarted', () => {
  let broker: KafkaBroker;
  let log: EventLog;
  let topics: Topics;
  const clients: Fusebox[] = [];

  beforeAll(async () => {
    broker = await startKafkaBroker({ defaultPartitions: 3 });
    log = createKafkaLog({ brokers: [broker.brokers], clientId: 'outage-test' });
    topics = topicNames('outage');
    await log.ensureTopics(topicSpecs(topics, 3));
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close(1_000)));
    await log?.close();
    await broker?.stop();
  }, 60_000);

  async function client(options: { maxBuffered?: number; staleAfterMs?: number; whenStale?: 'open' | 'closed'; warnings?: FuseboxWarning[]; lines?: string[] }): Promise<Fusebox> {
    const fusebox = await createFusebox({
      tenantId: 'acme', agentId: 'outage-agent', brokers: [broker.brokers], topicPrefix: 'outage', batchSize: BATCH, ...options,
      onWarning: (w) => options.warnings?.push(w),
      logLine: (line) => options.lines?.push(line),
    });
    clients.push(fusebox);
    return fusebox;
  }

  /** Tool calls numbered from `from`; each one's arguments name its number, so its span can be found. */
  async function toolCalls(run: Run, from: number, count: number): Promise<void> {
    for (let i = from; i < from + count; i++) await run.tool('fetch_page', { i }, () => `page ${i}`);
  }

  function callNumbers(spans: SpanEvent[], run: Run, upTo: number): Set<number> {
    const byHash = new Map(Array.from({ length: upTo }, (_, i) => [canonicalHash({ i }), i]));
    return new Set(spans.filter((s) => s.runId === run.id && s.kind === 'tool_call').map((s) => byHash.get(s.argsHash!)!));
  }

  it('loses nothing within its buffer, drops exactly what is beyond it, and fails closed only where configured', async () => {
    const roomy = await client({ maxBuffered: 10_000 });
    const small = await client({ maxBuffered: SMALL_BUFFER });
    const closedWarnings: FuseboxWarning[] = [];
    const closedLines: string[] = [];
    const strict = await client({ staleAfterMs: 2_000, whenStale: 'closed', warnings: closedWarnings, lines: closedLines });
    const [roomyRun, smallRun, strictRun] = await Promise.all([roomy.startRun(), small.startRun(), strict.startRun()]);

    // Before the outage: 10 calls each, all confirmed sent.
    await Promise.all([toolCalls(roomyRun, 0, 10), toolCalls(smallRun, 0, 10)]);
    await eventually('the first calls to be sent', () => roomy.stats().buffered === 0 && small.stats().buffered === 0 && roomy.stats().sent >= 11 && small.stats().sent >= 11);

    await broker.halt();
    // The agents run on regardless: every call returns while the broker is down.
    await Promise.all([toolCalls(roomyRun, 10, OUTAGE_CALLS), toolCalls(smallRun, 10, OUTAGE_CALLS)]);
    expect(roomy.stats()).toMatchObject({ dropped: 0, buffered: OUTAGE_CALLS });
    expect(small.stats()).toMatchObject({ dropped: OUTAGE_CALLS - SMALL_BUFFER, buffered: SMALL_BUFFER });

    // The strict client stops trusting its board, says so once, and refuses.
    await eventually('the strict client to fail closed', () => strict.stats().stale, 60_000);
    const refused = (() => { try { strictRun.guard(); return null; } catch (e) { return e; } })();
    expect(refused).toBeInstanceOf(RunHalted);
    expect(refused).toMatchObject({ origin: 'stale', retriable: true, reason: { detector: 'staleness', threshold: 2_000 } });
    expect(closedLines.filter((l) => l.includes('FAILS CLOSED'))).toHaveLength(1);
    // The fail-open clients keep answering.
    expect(() => roomyRun.guard()).not.toThrow();

    await broker.restart();
    await eventually('every buffered span to be sent', () => roomy.stats().buffered === 0 && small.stats().buffered === 0, 120_000);
    await eventually('the strict client to trust its board again', () => !strict.stats().stale, 60_000);
    expect(() => strictRun.guard()).not.toThrow();
    expect(closedLines.filter((l) => l.includes('reachable again'))).toHaveLength(1);
    expect(closedWarnings.filter((w) => w.kind === 'staleness').map((w) => w.kind === 'staleness' && [w.transition.state, w.transition.mode])).toEqual([['stale', 'closed'], ['fresh', 'closed']]);

    const spans = (await readAll(log, topics.spans, { on: [broker.brokers] })).map((m) => spanEventCodec.decode(m.value!));
    const total = OUTAGE_CALLS + 10;
    // Within the buffer: every call is on the topic.
    expect(callNumbers(spans, roomyRun, total).size).toBe(total);
    expect(roomy.stats().dropped).toBe(0);
    // Beyond it: exactly the reported number is missing, all from the oldest of the outage.
    const kept = callNumbers(spans, smallRun, total);
    const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !kept.has(i));
    expect(missing).toHaveLength(small.stats().dropped);
    expect(missing.length).toBe(OUTAGE_CALLS - SMALL_BUFFER);
    expect(Math.min(...missing)).toBeGreaterThanOrEqual(10);
    // The oldest not in flight went: at most the one batch that was being sent when the broker stopped precedes them.
    expect(Math.max(...missing)).toBeLessThan(10 + BATCH + OUTAGE_CALLS - SMALL_BUFFER);
  }, 300_000);
});
