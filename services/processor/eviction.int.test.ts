/**
 * Eviction on the real broker: a finished tree idle past the retention (in event time) leaves
 * the processor's memory, its changelog holds the summary and a tombstone for each run, and a
 * processor restored from that changelog carries the tree's spend on when a late span arrives;
 * a trip stands on breaker-state until the tree is forgotten altogether.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../../log/port.js';
import { controlEventCodec, spanEventCodec, type ControlEvent } from '../../schemas/index.js';
import { eventually, freshKafka, readAll } from '../../test/kafka.js';
import { span, toolCall } from '../../test/spans.js';
import { silentLogger } from '../logger.js';
import { POSITION_KEY } from '../transactional-stage.js';
import { createProcessor, type Processor } from './processor.js';
import { INLINE_RUNS } from '../../streams/engine.js';
import { decodeRecord, runKey } from './state-changelog.js';

const logs: EventLog[] = [];
const running: Processor[] = [];
afterAll(async () => {
  await Promise.allSettled(running.map((p) => p.stop()));
  await Promise.all(logs.map((l) => l.close()));
});

describe('processor eviction', () => {
  it('evicts an idle finished tree, tombstones its runs, and a restored processor carries its spend on', async () => {
    const { log, topics, prefix } = await freshKafka(1);
    logs.push(log);
    const start = async () => {
      const processor = createProcessor({ log, topics, logger: silentLogger, groupId: `${prefix}.processor`, eviction: { retentionMs: 60_000 } });
      running.push(processor);
      await processor.start();
      return processor;
    };
    const producer = await log.producer();
    const send = (...events: ReturnType<typeof span>[]) => producer.send(topics.spans, events.map((e) => ({ key: e.treeId, value: spanEventCodec.encode(e) })));
    const t0 = 1_700_000_000_000;
    const at = (ms: number, over: Parameters<typeof span>[0]) => span({ startTimeMs: ms - 10, endTimeMs: ms, treeId: 'done', runId: 'done', ...over });

    const first = await start();
    // Enough runs that each has a changelog record of its own (a small tree's runs are inside its record).
    const children = Array.from({ length: INLINE_RUNS }, (_, i) => at(t0 + 500, { kind: 'run_end', name: 'child', runId: `child-${i}` }));
    await send(at(t0, { kind: 'run_start', name: 'task' }), ...children, at(t0 + 1000, { kind: 'llm_call', name: 'chat', costMicros: 700 }), at(t0 + 2000, { kind: 'run_end', name: 'task' }));
    await eventually('the tree to finish', () => first.engine.tree('done')?.runs.get('done')?.ended);
    await eventually('its runs to have records of their own', async () => (await readAll(log, topics.processorState)).some((m) => m.key === runKey('done', 'child-0') && m.value !== null));
    // Ten minutes of event time later (sweeps come every five), another tree's span moves the partition's time on.
    await send(at(t0 + 600_000, { kind: 'run_start', name: 'task', treeId: 'busy', runId: 'busy' }));
    await eventually('the finished tree to be evicted', () => first.engine.summary('done'));
    expect(first.engine.tree('done')).toBeUndefined();

    const committed = await eventually('the eviction to be committed', async () => {
      const newest = new Map<string, Buffer | null>();
      for (const m of await readAll(log, topics.processorState)) if (m.key !== POSITION_KEY) newest.set(m.key!, m.value);
      return newest.get(runKey('done', 'done')) === null && newest.get(runKey('done', 'child-0')) === null ? newest : undefined;
    });
    expect(decodeRecord('done', committed.get('done')!)).toMatchObject({ kind: 'summary', summary: { costMicros: 700, lastEventMs: t0 + 2000 } });
    await first.stop();

    const second = await start();
    await eventually('the summary to be restored', () => second.engine.summary('done'));
    expect(second.engine.tree('done')).toBeUndefined();
    await send(at(t0 + 3000, { kind: 'llm_call', name: 'chat', runId: 'late', costMicros: 500 }));
    await eventually('the late span to carry the spend on', () => second.engine.tree('done')?.costMicros === 1200);
  }, 120_000);

  it('a trip stands on breaker-state, written in its transaction, until the tree is forgotten: then its tombstone', async () => {
    const { log, topics, prefix } = await freshKafka(1);
    logs.push(log);
    const processor = createProcessor({ log, topics, logger: silentLogger, groupId: `${prefix}.processor`, eviction: { retentionMs: 60_000, summaryRetentionMs: 900_000 } });
    running.push(processor);
    await processor.start();
    const producer = await log.producer();
    const send = (...events: ReturnType<typeof span>[]) => producer.send(topics.spans, events.map((e) => ({ key: e.treeId, value: spanEventCodec.encode(e) })));
    const t0 = 1_700_000_000_000;
    const tree = { treeId: 'looped', runId: 'looped' };
    const at = (ms: number, over: Parameters<typeof span>[0]) => span({ startTimeMs: ms - 10, endTimeMs: ms, ...tree, ...over });
    const standing = async () => {
      const newest = new Map<string, ControlEvent | null>();
      for (const m of await readAll(log, topics.breakerState)) newest.set(m.key!, m.value ? controlEventCodec.decode(m.value) : null);
      return newest;
    };

    // The default loop policy trips the run on its third identical failing call.
    await send(at(t0, { kind: 'run_start', name: 'task' }), ...[1, 2, 3].map((i) => toolCall('search', 'same-args', {}, { ...tree, startTimeMs: t0 + i * 100 - 10, endTimeMs: t0 + i * 100 })), at(t0 + 1000, { kind: 'run_end', name: 'task' }));
    const tripped = await eventually('the trip to stand', async () => (await standing()).get('run:tenant-a:looped'));
    expect(tripped).toMatchObject({ scope: 'run', target: 'looped', treeId: 'looped', action: 'trip', reason: { detector: 'loop' } });
    const control = (await readAll(log, topics.control)).map((m) => controlEventCodec.decode(m.value!));
    expect(control.filter((e) => e.action === 'trip').map((e) => e.eventId)).toEqual([tripped!.eventId]);

    // Event time moves on (sweeps every five minutes of it): evicted to a summary, the breaker
    // still stands; past the summary's retention the tree is forgotten and so is its breaker.
    await send(at(t0 + 600_000, { kind: 'run_start', name: 'task', treeId: 'later-1', runId: 'later-1' }));
    await eventually('the tree to be evicted', () => processor.engine.summary('looped'));
    expect((await standing()).get('run:tenant-a:looped')).toMatchObject({ action: 'trip' });
    await send(at(t0 + 1_200_000, { kind: 'run_start', name: 'task', treeId: 'later-2', runId: 'later-2' }));
    await eventually('the tombstone', async () => (await standing()).get('run:tenant-a:looped') === null);
    expect(processor.engine.summary('looped')).toBeUndefined();
  }, 120_000);
});
