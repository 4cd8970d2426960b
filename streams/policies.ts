/**
 * Which policy governs an event. The spine ships built-in defaults only; runtime policies
 * (tenant, fleet tag, agent, run, from the compacted policies topic) plug in behind the same
 * interface.
 */
import type { PolicyRef } from './decision.js';
import { DEFAULT_LOOP_POLICY, type LoopPolicy } from './detectors/loop.js';

export interface Governing<P> {
  policy: P;
  ref: PolicyRef;
}

export interface PolicySource {
  loop(tenantId: string, agentId: string): Governing<LoopPolicy>;
}

/** Built-in defaults protect a tenant that has written no policy. */
export const builtinPolicies: PolicySource = Object.freeze({
  loop: () => BUILTIN_LOOP,
});

const BUILTIN_LOOP: Governing<LoopPolicy> = Object.freeze({
  policy: DEFAULT_LOOP_POLICY,
  ref: Object.freeze({ policyId: 'builtin:loop', policyVersion: 1 }),
});
