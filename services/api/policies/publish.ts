/**
 * Publishing a policy version: to the compacted policies topic first (that is what puts it in
 * force: processors, stages and the sink follow the topic), then into this API's policy book and
 * the `policies` table, so the caller's next read through this API sees it (read-after-write).
 * The version is the newest in ClickHouse plus one, read and written under the policy's lock.
 */
import { policyEventCodec, type PolicyEvent } from '../../../schemas/index.js';
import { insertPolicyVersions, policyHistory } from '../../../storage/tables/policies.js';
import { ApiError } from '../errors.js';
import type { ApiDeps } from '../route.js';
import { policyVersion, type PolicyDraft } from './policy-events.js';

/**
 * The newest version of a tenant's policy, or null: the newer of ClickHouse's copy and this
 * API's book, which holds a version at once even when copying it to ClickHouse failed (a
 * retried change must not reuse a version number the processors already hold).
 */
export async function currentPolicy(deps: ApiDeps, tenantId: string, policyId: string): Promise<PolicyEvent | null> {
  const stored = (await policyHistory(deps.store.client, tenantId, policyId))[0] ?? null;
  const held = deps.policies.held(policyId);
  return held !== undefined && held.tenantId === tenantId && held.version > (stored?.version ?? 0) ? held : stored;
}

/**
 * Publishes the next version of `policyId` made from `draft` (checked by the caller). `change`
 * runs under the policy's lock with its current version, and returns the draft to publish.
 */
export async function publishNextVersion(
  deps: ApiDeps,
  who: { tenantId: string; keyId: string },
  policyId: string,
  change: (current: PolicyEvent | null) => PolicyDraft,
): Promise<PolicyEvent> {
  return deps.lock(`policy:${policyId}`, async () => {
    const current = await currentPolicy(deps, who.tenantId, policyId);
    const draft = change(current);
    const policy = policyVersion(draft, { policyId, tenantId: who.tenantId, version: (current?.version ?? 0) + 1, changedBy: `key:${who.keyId}`, changedAtMs: deps.clock() });
    await publishPolicy(deps, policy);
    return policy;
  });
}

async function publishPolicy(deps: ApiDeps, policy: PolicyEvent): Promise<void> {
  try {
    const producer = await deps.producer();
    await producer.send(deps.topics.policies, [{ key: policy.policyId, value: policyEventCodec.encode(policy) }]);
  } catch (error) {
    throw new ApiError('LOG_UNAVAILABLE', `policy '${policy.policyId}' version ${policy.version} was not published; nothing changed, try again`, { cause: error });
  }
  deps.policies.apply(policy.policyId, policy);
  try {
    await insertPolicyVersions(deps.store.client, [policy]);
  } catch (error) {
    throw new ApiError('STORE_UNAVAILABLE', `policy '${policy.policyId}' version ${policy.version} is published and in force, but not yet listed; the API copies it at its next start, or repeat the request (same content, next version)`, { cause: error });
  }
}
