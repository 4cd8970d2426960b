/**
 * The breaker processor: a thin shell around the pure engine. It decodes spans, folds them,
 * publishes the resulting trips to the control topic (agents halt) and their audit records to
 * the audit topic (the sink stores them), dead-letters what it cannot read, then commits.
 *
 * Delivery is at-least-once: outputs are published before the batch's offsets are committed.
 * A replayed trip carries the same deterministic id, so agents and the audit table see it once.
 */
import type { EventLog, LogBatch, LogProducer } from '../../log/port.js';
import type { Topics } from '../../log/topics.js';
import { breakerEventCodec, controlEventCodec } from '../../schemas/index.js';
import { createEngine, type Engine } from '../../streams/engine.js';
import { deadLetterFor, sendDeadLetters } from '../dead-letter.js';
import { decodeSpanMessage } from '../decode-span.js';
import type { Logger } from '../logger.js';

export interface ProcessorOptions {
  log: EventLog;
  topics: Topics;
  logger: Logger;
  groupId?: string;
  engine?: Engine;
}

export interface ProcessorStats {
  spans: number;
  trips: number;
  deadLettered: number;
}

export function createProcessor(options: ProcessorOptions) {
  const engine = options.engine ?? createEngine();
  const stats: ProcessorStats = { spans: 0, trips: 0, deadLettered: 0 };
  let producer: LogProducer | null = null;

  async function handleBatch(batch: LogBatch): Promise<void> {
    const controls = [];
    const audits = [];
    const dead = [];
    for (const message of batch.messages) {
      const decoded = decodeSpanMessage(message);
      if (!decoded.ok) {
        dead.push(deadLetterFor('processor', message, decoded.code, decoded.reason));
        continue;
      }
      const outcome = engine.apply(decoded.event);
      for (const control of outcome.controls) controls.push({ key: decoded.event.treeId, value: controlEventCodec.encode(control) });
      for (const audit of outcome.audits) {
        audits.push({ key: audit.treeId, value: breakerEventCodec.encode(audit) });
        options.logger.info('breaker tripped', { detector: audit.detector, scope: audit.scope, target: audit.target, observed: audit.observed, threshold: audit.threshold, tenant: audit.tenantId });
      }
    }
    // Control first: it is what stops the agent; audit and dead letters may trail by a moment.
    await producer!.send(options.topics.control, controls);
    await producer!.send(options.topics.audit, audits);
    await sendDeadLetters(producer!, options.topics.deadLetter, dead);
    if (dead.length > 0) options.logger.warn('dead-lettered unreadable spans', { count: dead.length, topic: batch.topic, partition: batch.partition });
    stats.spans += batch.messages.length - dead.length;
    stats.trips += controls.length;
    stats.deadLettered += dead.length;
  }

  const consumer = options.log.groupConsumer({
    groupId: options.groupId ?? 'fusebox-processor',
    topics: [options.topics.spans],
    fromBeginning: true,
    handleBatch,
    onCrash: (error) => options.logger.error('processor consumer crashed', { error: error.message }),
  });

  return {
    engine,
    stats: (): Readonly<ProcessorStats> => ({ ...stats }),
    async start(): Promise<void> {
      producer = await options.log.producer();
      await consumer.start();
    },
    async stop(): Promise<void> {
      await consumer.stop();
      await producer?.close();
    },
  };
}

export type Processor = ReturnType<typeof createProcessor>;
