/**
 * The early lane: trips and warnings sent the moment a batch decides them, outside the
 * transaction, to a topic of their own (control-early) that agents read beside the control
 * topic.
 *
 * Why: the control topic is written in transactions, and a read_committed agent sees a trip only
 * once the transaction that carries it commits, which under load means after the transaction
 * already in flight on that partition and then its own (about 150 ms at p99 on the 2-core bench
 * box). A record written without a transaction to the control topic would not help: a
 * read_committed reader stops at the first open transaction of a partition, and the control
 * topic always has one. On a topic no transaction writes to, a record is readable as soon as it
 * is appended.
 *
 * What it costs in guarantees: the early copy is at least once and may precede its
 * transaction. Agents apply a control event once per event id, and the copy carries the id of the
 * transactional event (a hash of action, detector, scope, target and episode), so the later copy
 * changes nothing. If the transaction aborts (a crash, a fenced zombie), the owner that replays
 * the same inputs from the same restored state decides the same trip with the same id. The one
 * difference a replay can make is a policy change applied between the two folds; an early halt
 * then stands without its audit record, until an SRE resets it. The audit trail, the agent and
 * tenant stages and the sink read only the transactional topics, so nothing downstream counts an
 * early copy.
 */
import type { EventLog, LogProducer, OutgoingMessage } from '../../log/port.js';
import type { Logger } from '../logger.js';

export interface EarlyLaneStats {
  sent: number;
  failed: number;
}

export function createEarlyLane(log: EventLog, topic: string, logger: Logger) {
  let producer: Promise<LogProducer> | null = null;
  const stats: EarlyLaneStats = { sent: 0, failed: 0 };
  const pending = new Set<Promise<void>>();

  return {
    /** Sends without waiting; a failure is logged and counted, the transactional copy still follows. */
    send(messages: OutgoingMessage[]): void {
      if (messages.length === 0) return;
      if (!producer) {
        const created = log.producer();
        producer = created;
        created.catch(() => { if (producer === created) producer = null; }); // the next send tries again
      }
      const sending = producer
        .then((p) => p.send(topic, messages))
        .then(
          () => { stats.sent += messages.length; },
          (error: Error) => {
            stats.failed += messages.length;
            logger.warn('an early trip was not sent; its transaction still carries it', { count: messages.length, error: error.message });
          },
        )
        .finally(() => pending.delete(sending));
      pending.add(sending);
    },
    stats: (): EarlyLaneStats => ({ ...stats }),
    /** Waits for the sends under way, then closes the producer. */
    async close(): Promise<void> {
      await Promise.allSettled([...pending]);
      const closing = producer;
      producer = null;
      if (closing) await (await closing.catch(() => null))?.close();
    },
  };
}

export type EarlyLane = ReturnType<typeof createEarlyLane>;
