/**
 * The processor's state changelog: one compacted record per spawn tree (key = tree id), the
 * tree's engine snapshot as JSON. Written in the same transaction as the outputs and the
 * consumer offsets it reflects, so a restored processor resumes exactly where the committed
 * log says it was: no trip lost or repeated, no cost counted twice.
 *
 * JSON rather than Avro: it is private to the processor, read back only by the same code, and
 * its shape follows the detectors' state; `v` guards against reading a future layout.
 */
import type { TreeSnapshot } from '../../streams/engine.js';

// Encoding is `engine.snapshotJson(treeId)`: serialized straight from the live ledger.

export class UnreadableSnapshot extends Error {
  readonly code = 'UNREADABLE_SNAPSHOT';
  readonly retriable = false;
  constructor(key: string | null, reason: string) {
    super(`processor state for tree '${key}' cannot be read: ${reason}`);
    this.name = 'UnreadableSnapshot';
  }
}

/** The snapshot, or null for a tombstone (the tree's state was dropped). */
export function decodeSnapshot(key: string | null, value: Buffer | null): TreeSnapshot | null {
  if (value === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new UnreadableSnapshot(key, (error as Error).message);
  }
  const snapshot = parsed as Partial<TreeSnapshot>;
  if (snapshot.v !== 1) throw new UnreadableSnapshot(key, `layout version ${String(snapshot.v)}, this build reads 1`);
  if (snapshot.treeId !== key) throw new UnreadableSnapshot(key, `it names tree '${snapshot.treeId}'`);
  return snapshot as TreeSnapshot;
}
