/**
 * Ceiling: what plain kafkajs does on this broker with span-sized messages. Every Fusebox rate
 * is read against these figures, measured in the same run on the same broker.
 */
import { startWorker } from '../lib/child.js';
import { deleteTopics, freshTopics, produceRaw } from '../lib/kafka.js';
import { figure, type Figure } from '../lib/results.js';
import { distribution, perSecond } from '../lib/stats.js';
import { buildWorkload } from '../lib/workload.js';
import type { DrainInput, DrainResult } from '../workers/drain.js';
import { sized, type BenchContext, type ScenarioOutput } from './scenario.js';

const PARTITIONS = 6;

export async function run(ctx: BenchContext): Promise<ScenarioOutput> {
  const count = sized(ctx, 400_000, 100_000);
  ctx.progress(`encoding ${count.toLocaleString('en-US')} realistic spans`);
  const workload = buildWorkload({ spans: count, seed: 1 });
  const sizes = distribution(workload.messages.map((m) => m.value.length));
  const figures: Figure[] = [
    { ...figure('span size on the wire', sizes.mean, 'bytes', 'Avro single-object, realistic mix'), distribution: sizes },
  ];

  // Two topics, so the client-shaped produce does not add to the topic the consumer drains.
  const fast = await freshTopics(ctx.brokers, 'ceiling', PARTITIONS);
  const shaped = await freshTopics(ctx.brokers, 'ceiling-shaped', PARTITIONS);
  try {
    ctx.progress('produce: 1,000 per request, 4 in flight, acks=all');
    const produced = await produceRaw(ctx.brokers, fast.topics.spans, workload.messages, { partitions: PARTITIONS, batchSize: 1000, inFlight: 4 });
    const produceRate = perSecond(count, produced.elapsedMs);
    ctx.progress(`  ${Math.round(produceRate).toLocaleString('en-US')} msgs/s`);
    figures.push(figure('produce, kafkajs flat out', produceRate, 'msgs/s', '1,000 msgs/request, 4 in flight, acks=all'));
    figures.push(figure('produce, kafkajs flat out', (produceRate * sizes.mean) / 1024 ** 2, 'MiB/s'));

    // The client's emitter: batches of 500, one request at a time, idempotent producer.
    const shapedCount = Math.min(count, sized(ctx, 200_000, 50_000));
    ctx.progress(`produce shaped like the client: ${shapedCount.toLocaleString('en-US')} spans, 500 per request, 1 in flight, idempotent`);
    const shapedRun = await produceRaw(ctx.brokers, shaped.topics.spans, workload.messages.slice(0, shapedCount), { partitions: PARTITIONS, batchSize: 500, inFlight: 1, idempotent: true });
    const shapedRate = perSecond(shapedCount, shapedRun.elapsedMs);
    ctx.progress(`  ${Math.round(shapedRate).toLocaleString('en-US')} msgs/s`);
    figures.push(figure('produce, shaped like the client emitter', shapedRate, 'msgs/s', '500 msgs/request, 1 in flight, idempotent, acks=all'));

    ctx.progress('consume: plain kafkajs consumer in its own process');
    const consumer = startWorker<DrainResult>('workers/drain.ts', { mode: 'raw', brokers: ctx.brokers, prefix: fast.prefix, expected: count } satisfies DrainInput, { label: 'raw consumer', progress: ctx.progress, timeoutMs: 180_000 });
    const consumed = await consumer.result;
    ctx.progress(`  ${Math.round(consumed.ratePerSec).toLocaleString('en-US')} msgs/s`);
    figures.push(figure('consume, kafkajs', consumed.ratePerSec, 'msgs/s', `eachBatch, mean batch ${Math.round(consumed.batchSize.mean)} msgs, first batch to last`));
    figures.push(figure('consume, kafkajs', (consumed.ratePerSec * sizes.mean) / 1024 ** 2, 'MiB/s'));
    figures.push(figure('consumer group join', consumed.joinMs, 'ms', 'connect, subscribe, join (fresh group)'));
    figures.push(figure('consumer process RSS, peak', consumed.rss.peakMiB, 'MiB'));

    const notes = consumed.count === count ? [] : [`the consumer saw ${consumed.count} messages, expected ${count}`];
    return { figures, notes };
  } finally {
    await Promise.all([fast.log.close(), shaped.log.close()]);
    await Promise.all([deleteTopics(ctx.brokers, fast.topics), deleteTopics(ctx.brokers, shaped.topics)]);
  }
}
