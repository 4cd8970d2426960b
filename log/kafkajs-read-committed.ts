/**
 * A fix for kafkajs 2.2.4's read_committed filtering, installed before kafkajs loads.
 *
 * A fetch answer lists the aborted transactions overlapping it (producer id, first offset);
 * a read_committed client must hide every transactional record of such a producer from that
 * first offset until the producer's abort marker. kafkajs (src/consumer/filterAbortedMessages.js)
 * moves at most ONE aborted transaction into its "hide" set per record it looks at, so when a
 * fetch starts past the first offsets of several aborted transactions (a consumer resuming from
 * a committed offset, a seek, a fetch cut by its byte limit), the records of all but the first
 * leak out as if committed. Measured on Kafka 3.9.1: two producers interleave x1 y1 x2 y2 and
 * both abort; a consumer starting at offset 1 is handed y1, one starting at 3 is handed y2.
 * With several transactional writers per output partition (every processor instance writes
 * every control and audit partition), that is an aborted trip delivered to agents and to the
 * sink. log/kafka.int.test.ts reproduces it through the event-log port.
 *
 * The replacement does what the Java client's Fetcher does: every aborted transaction whose
 * first offset is at or below the record joins the hide set before the record is judged.
 *
 * kafkajs's batch module binds the filter at load, so this has to be in Node's module cache
 * first: log/kafka.ts imports this module before kafkajs, and if kafkajs was loaded already
 * (someone imported it before log/kafka.ts) we fail loudly rather than run unfixed.
 */
import Module, { createRequire } from 'node:module';

interface AbortedTransaction {
  producerId: unknown;
  firstOffset: string;
}

interface FetchedRecord {
  offset: string;
  key: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: unknown; inTransaction: boolean };
}

/** An ABORT control record's key: version 0, type 0. */
const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

export function filterAbortedRecords<T extends FetchedRecord>({ messages, abortedTransactions }: { messages: T[]; abortedTransactions?: AbortedTransaction[] }): T[] {
  if (!abortedTransactions || abortedTransactions.length === 0) return messages;
  const pending = [...abortedTransactions].sort((a, b) => (BigInt(a.firstOffset) < BigInt(b.firstOffset) ? -1 : BigInt(a.firstOffset) > BigInt(b.firstOffset) ? 1 : 0));
  const hidden = new Set<string>();
  return messages.filter((message) => {
    const offset = BigInt(message.offset);
    while (pending.length > 0 && BigInt(pending[0]!.firstOffset) <= offset) hidden.add(String(pending.shift()!.producerId));
    const producer = String(message.batchContext.producerId);
    if (message.isControlRecord && message.key && Buffer.from(message.key).equals(ABORT_MARKER_KEY)) {
      hidden.delete(producer);
      return true; // control records are dropped by kafkajs's batch after filtering
    }
    return !(message.batchContext.inTransaction && hidden.has(producer));
  });
}

const require = createRequire(import.meta.url);
const filterPath = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
const batchPath = require.resolve('kafkajs/src/consumer/batch.js');
const cache = require.cache;

if (!cache[filterPath] || cache[filterPath]!.exports !== filterAbortedRecords) {
  if (cache[batchPath]) {
    throw new Error('kafkajs was loaded before its read_committed fix: import log/kafka.js (or log/kafkajs-read-committed.js) before importing kafkajs');
  }
  const fixed = new Module(filterPath);
  fixed.filename = filterPath;
  fixed.loaded = true;
  fixed.exports = filterAbortedRecords;
  cache[filterPath] = fixed;
}
