/**
 * Ceiling: what plain kafkajs does on this broker with span-sized messages. Every Fusebox rate
 * is read against these figures, measured in the same run on the same broker.
 */
import { startWorker } from '../lib/child.js';
import { deleteTopics, freshTopics, PRELOAD, produceRaw, type RawProduceOptions } from '../lib/kafka.js';
import { figure, type Figure } from '../lib/results.js';
import { distribution, perSecond } from '../lib/stats.js';
import { buildWorkload } from '../lib/workload.js';
import type { DrainInput, DrainResult } from '../workers/drain.js';
import { sized, type BenchContext, type ScenarioOutput } from './scenario.js';

const PARTITIONS = 6;

export async function run(ctx: BenchContext): Promise<ScenarioOutput> {
  const count = sized(ctx, 400_000, 60_000);
  ctx.progress(`encoding ${count.toLocaleString('en-US')} realistic spans`);
  const workload = buildWorkload({ spans: count, seed: 1 });
  const sizes = distribution(workload.messages.map((m) => m.value.length));
  const figures: Figure[] = [
    { ...figure('span size on the wire', sizes.mean, 'bytes', 'Avro single-object, realistic mix'), distribution: sizes },
  ];

  // One topic per way of producing, so the consumer drains exactly one copy, in order.
  const ordered = await freshTopics(ctx.brokers, 'ceiling', PARTITIONS);
  const unordered = await freshTopics(ctx.brokers, 'ceiling-unordered', PARTITIONS);
  const shaped = await freshTopics(ctx.brokers, 'ceiling-shaped', PARTITIONS);
  try {
    const produceMeasured = async (label: string, topic: string, messages: typeof workload.messages, options: Omit<RawProduceOptions, 'partitions'>) => {
      ctx.progress(`produce ${label}: ${messages.length.toLocaleString('en-US')} spans`);
      const run = await produceRaw(ctx.brokers, topic, messages, { partitions: PARTITIONS, ...options });
      const rate = perSecond(messages.length, run.elapsedMs);
      const cpuMicros = (run.cpuMs * 1000) / messages.length;
      ctx.progress(`  ${Math.round(rate).toLocaleString('en-US')} msgs/s, ${cpuMicros.toFixed(1)} µs of CPU a message`);
      return { rate, cpuMicros };
    };
    const produce = async (...args: Parameters<typeof produceMeasured>) => (await produceMeasured(...args)).rate;
    // Per-key order kept, as Fusebox needs it: idempotent, one large request at a time.
    const orderedRate = await produce('in order (idempotent, 5,000 per request, 1 in flight)', ordered.topics.spans, workload.messages, PRELOAD);
    figures.push(figure('produce, kafkajs, order kept', orderedRate, 'msgs/s', '5,000 msgs/request, 1 in flight, idempotent, acks=all'));
    figures.push(figure('produce, kafkajs, order kept', (orderedRate * sizes.mean) / 1024 ** 2, 'MiB/s'));

    const sample = workload.messages.slice(0, Math.min(count, sized(ctx, 200_000, 30_000)));
    // kafkajs's fastest, for reference only: its retries may reorder and duplicate.
    const unorderedRate = await produce('flat out (1,000 per request, 4 in flight)', unordered.topics.spans, sample, { batchSize: 1000, inFlight: 4 });
    figures.push(figure('produce, kafkajs, 4 in flight (no order)', unorderedRate, 'msgs/s', '1,000 msgs/request, acks=all; retries may reorder'));

    // The client's emitter: batches of 500, one request at a time, idempotent producer.
    const shapedRate = await produce('shaped like the client emitter (500 per request, 1 in flight, idempotent)', shaped.topics.spans, sample, { batchSize: 500, inFlight: 1, idempotent: true });
    figures.push(figure('produce, shaped like the client emitter', shapedRate, 'msgs/s', '500 msgs/request, 1 in flight, idempotent, acks=all'));

    // Fusebox's own producer (log/wire), which the client, the gateway and every plain send use
    // now, against kafkajs's idempotent producer it replaced, on the same spans: at the client's
    // largest batch (500) and at a small one (50: a busy agent's 5 ms linger), one request at a time.
    for (const batchSize of [500, 50]) {
      const perBatch = sample.slice(0, batchSize === 50 ? Math.min(sample.length, sized(ctx, 50_000, 10_000)) : sample.length);
      const viaKafkajs = await freshTopics(ctx.brokers, `ceiling-kafkajs-${batchSize}`, PARTITIONS);
      const viaWire = await freshTopics(ctx.brokers, `ceiling-wire-${batchSize}`, PARTITIONS);
      try {
        const kafkajs = await produceMeasured(`kafkajs idempotent, ${batchSize} per request, 1 in flight`, viaKafkajs.topics.spans, perBatch, { batchSize, inFlight: 1, idempotent: true });
        const wire = await produceMeasured(`Fusebox wire producer, ${batchSize} per request, 1 in flight`, viaWire.topics.spans, perBatch, { batchSize, inFlight: 1, via: 'wire' });
        figures.push(figure(`produce ${batchSize}/request, Fusebox wire producer`, wire.rate, 'msgs/s', `1 in flight, acks=all; kafkajs idempotent in the same run: ${Math.round(kafkajs.rate).toLocaleString('en-US')} msgs/s`));
        figures.push(figure(`produce ${batchSize}/request, CPU a message, wire producer`, wire.cpuMicros, 'µs/span', `this process's user + system CPU over the messages; kafkajs idempotent: ${kafkajs.cpuMicros.toFixed(1)} µs`));
        figures.push(figure(`produce ${batchSize}/request, CPU a message, kafkajs / wire`, kafkajs.cpuMicros / wire.cpuMicros, 'ratio', 'how many times the CPU kafkajs spends per message'));
      } finally {
        for (const t of [viaKafkajs, viaWire]) {
          await t.log.close();
          await deleteTopics(ctx.brokers, t.topics);
        }
      }
    }

    ctx.progress('consume: plain kafkajs consumer in its own process');
    const consumer = startWorker<DrainResult>('workers/drain.ts', { mode: 'raw', brokers: ctx.brokers, prefix: ordered.prefix, expected: count } satisfies DrainInput, { label: 'raw consumer', progress: ctx.progress, timeoutMs: 180_000 });
    const consumed = await consumer.result;
    ctx.progress(`  ${Math.round(consumed.ratePerSec).toLocaleString('en-US')} msgs/s`);
    figures.push(figure('consume, kafkajs', consumed.ratePerSec, 'msgs/s', `eachBatch, mean batch ${Math.round(consumed.batchSize.mean)} msgs, first batch to last`));
    figures.push(figure('consume, kafkajs', (consumed.ratePerSec * sizes.mean) / 1024 ** 2, 'MiB/s'));
    figures.push(figure('consumer group join', consumed.joinMs, 'ms', 'connect, subscribe, join (fresh group)'));
    figures.push(figure('consumer process RSS, peak', consumed.rss.peakMiB, 'MiB'));

    const notes = consumed.count === count ? [] : [`the consumer saw ${consumed.count} messages, expected ${count}`];
    return { figures, notes };
  } finally {
    for (const t of [ordered, unordered, shaped]) {
      await t.log.close();
      await deleteTopics(ctx.brokers, t.topics);
    }
  }
}
