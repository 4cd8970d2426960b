/**
 * Feeds the policies topic (compacted, key = policy id) into a policy book: every policy at
 * start, before any span is judged, then each change as it arrives, so the next event handled
 * is judged by it. No restart, no redeploy.
 */
import type { EventLog, LogMessage, PartitionReader } from '../log/port.js';
import { policyEventCodec, SchemaError, type PolicyEvent } from '../schemas/index.js';
import type { PolicyBook } from '../streams/policies.js';
import { followWholeTopic } from './compacted-topic.js';
import type { Logger } from './logger.js';

export interface PolicyFeedStats {
  applied: number;
  rejected: number;
}

/** `onApplied` hears every policy version the book accepted (not replays of older versions). */
export function createPolicyFeed(log: EventLog, topic: string, book: PolicyBook, logger: Logger, onApplied?: (policy: PolicyEvent) => void) {
  const stats: PolicyFeedStats = { applied: 0, rejected: 0 };
  let reader: PartitionReader | null = null;

  function onMessage(message: LogMessage): void {
    const policyId = message.key ?? '(no key)';
    let result;
    let decoded: PolicyEvent | null = null;
    try {
      decoded = message.value === null ? null : policyEventCodec.decode(message.value);
      result = book.apply(policyId, decoded);
    } catch (error) {
      if (!(error instanceof SchemaError)) throw error;
      result = { ok: false as const, policyId, reason: error.message };
    }
    if (result.ok) {
      stats.applied += 1;
      if (decoded !== null && result.policy === decoded) onApplied?.(decoded);
    } else {
      // The previous version stays in force; the API validates before publishing, so this is
      // a producer that bypassed it.
      stats.rejected += 1;
      logger.warn('policy refused, previous version stays in force', { policyId: result.policyId, reason: result.reason, offset: message.offset });
    }
  }

  return {
    stats: (): Readonly<PolicyFeedStats> => ({ ...stats }),
    /** Resolves once every policy published before the call is in the book. */
    async start(): Promise<void> {
      reader = await followWholeTopic(log, topic, onMessage);
    },
    async stop(): Promise<void> {
      await reader?.stop();
    },
  };
}
