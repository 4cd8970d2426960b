import type { ControlScope } from '../schemas/index.js';

/** What a detector concludes about one event: trip this breaker, for this reason. */
export interface Decision {
  detector: string;
  scope: ControlScope;
  threshold: number;
  observed: number;
  windowMs: number | null;
  message: string;
}

/** The policy that made a decision; every trip records its id and version. */
export interface PolicyRef {
  policyId: string;
  policyVersion: number;
}
