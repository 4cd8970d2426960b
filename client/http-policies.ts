/**
 * Policies for a client on the HTTP transport: the gateway answers the tenant's enabled
 * policies as a whole (`GET /v1/policies`), not as a stream of changes, so each new answer is
 * turned into the changes the Kafka transport would have read from the policies topic and
 * applied to the same policy book: every policy in the answer as a version (older or equal
 * versions are ignored by the book, as on the topic), and a deletion for every policy the
 * previous answer had and this one lacks (disabled or deleted: either way, as if absent).
 *
 * Pure, apart from the book it is given; the polling itself is in http-transport.ts.
 */
import { policyEventSchema } from '../schemas/index.js';
import type { PolicyBook } from '../streams/policies.js';

export interface PolicySync {
  /** Policy ids this answer holds: the next answer is compared with them. */
  ids: ReadonlySet<string>;
  /** Versions the book took, deletions included. */
  applied: number;
  /** Items that are not a policy this client can read, or that the book refused: the version it holds stays. */
  refused: Array<{ policyId: string; reason: string }>;
}

/** Applies one answer of the gateway to `book`, given the ids of the previous answer. */
export function syncPolicies(book: Pick<PolicyBook, 'apply'>, previous: ReadonlySet<string>, answer: unknown): PolicySync {
  const items = (answer as { policies?: unknown } | null)?.policies;
  if (!Array.isArray(items)) throw new TypeError('the gateway answered without a policies array');
  const ids = new Set<string>();
  const refused: PolicySync['refused'] = [];
  let applied = 0;
  for (const item of items) {
    const policyId = (item as { policyId?: unknown } | null)?.policyId;
    // An item that names itself but does not parse (a newer schema) keeps what is held, as a
    // refused version on the topic does; one that does not even name itself is skipped.
    if (typeof policyId === 'string') ids.add(policyId);
    const parsed = policyEventSchema.safeParse(item);
    if (!parsed.success) {
      refused.push({ policyId: typeof policyId === 'string' ? policyId : '(unnamed)', reason: `${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}` });
      continue;
    }
    const result = book.apply(parsed.data.policyId, parsed.data);
    if (result.ok) applied += 1;
    else refused.push({ policyId: result.policyId, reason: result.reason });
  }
  for (const gone of previous) {
    if (ids.has(gone)) continue;
    book.apply(gone, null);
    applied += 1;
  }
  return { ids, applied, refused };
}

/** The wait before the next poll: `meanMs` give or take 20%, so clients started together do not poll together. */
export function jittered(meanMs: number, random: () => number = Math.random): number {
  return Math.round(meanMs * (0.8 + 0.4 * random()));
}
