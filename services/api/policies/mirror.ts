/**
 * The API's view of the policies topic: a policy book fed exactly as the processors' (same
 * feed, same resolution), used to say which policy is in force for a tree's budget; and the
 * `policies` table kept in step with the topic, so versions published by anyone (not only this
 * API) are listed. At start the whole compacted topic is copied again, which also repairs a
 * version whose copy failed earlier (inserts are idempotent per version).
 */
import type { EventLog } from '../../../log/port.js';
import type { PolicyEvent } from '../../../schemas/index.js';
import type { Store } from '../../../storage/store.js';
import { insertPolicyVersions } from '../../../storage/tables/policies.js';
import { createPolicyBook, type PolicyBook } from '../../../streams/policies.js';
import type { Logger } from '../../logger.js';
import { createPolicyFeed } from '../../policy-feed.js';

export interface PolicyMirror {
  book: PolicyBook;
  /** Resolves once every copy queued so far is in ClickHouse (or has failed and been logged). */
  copied(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPolicyMirror(options: { log: EventLog; topic: string; store: Store; logger: Logger }): Promise<PolicyMirror> {
  const book = createPolicyBook();
  let pending: PolicyEvent[] = [];
  let copying: Promise<void> = Promise.resolve();

  // One insert at a time, each taking everything queued meanwhile: a catch-up of thousands of
  // policies is a few inserts, not thousands.
  async function copyPending(): Promise<void> {
    const batch = pending;
    pending = [];
    try {
      await insertPolicyVersions(options.store.client, batch);
    } catch (error) {
      options.logger.error('policy versions not copied to ClickHouse; the next API start copies them again', { count: batch.length, error: (error as Error).message });
    }
  }

  const feed = createPolicyFeed(options.log, options.topic, book, options.logger, (policy) => {
    pending.push(policy);
    if (pending.length === 1) copying = copying.then(copyPending);
  });
  await feed.start();
  return {
    book,
    copied: () => copying,
    async stop() {
      await feed.stop();
      await copying;
    },
  };
}
