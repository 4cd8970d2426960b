/**
 * What `GET /v1/policies` answers for one tenant, and when a client's copy is still current.
 * Pure, so the version and the If-None-Match rules are tested without a server.
 *
 * The version is a hash of the answer itself, not a counter: every gateway instance, and a
 * gateway restarted after compaction, gives the same policies the same version, so a client
 * moved to another instance behind a load balancer is never told "not modified" about a
 * different set (a counter kept per process could repeat a number for other contents).
 */
import { createHash } from 'node:crypto';
import type { PolicyEvent } from '../../schemas/index.js';

export interface PolicySnapshot {
  /** Quoted for the ETag header; the body's `version` is the same string unquoted. */
  etag: string;
  version: string;
  /** The JSON answer, serialized once per change rather than once per poll. */
  body: string;
  count: number;
}

/** The enabled policies among `held`, ordered by id, with the version naming exactly them. */
export function snapshotOf(held: Iterable<PolicyEvent>): PolicySnapshot {
  const inForce = [...held].filter((p) => p.enabled).sort((a, b) => (a.policyId < b.policyId ? -1 : a.policyId > b.policyId ? 1 : 0));
  const policies = JSON.stringify(inForce);
  const version = createHash('sha256').update(policies).digest('base64url').slice(0, 22);
  return { etag: `"${version}"`, version, body: `{"version":"${version}","policies":${policies}}`, count: inForce.length };
}

/**
 * Whether an If-None-Match header names `etag` (RFC 9110 13.1.2: a list of entity tags compared
 * weakly, or `*`). A header that names nothing we gave out is simply not a match.
 */
export function notModified(ifNoneMatch: string | string[] | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const header = Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed === etag || trimmed === `W/${etag}`;
  });
}
