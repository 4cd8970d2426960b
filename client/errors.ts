/**
 * Errors an agent can branch on, by class or by `code`. TransportUnavailable is retriable, and
 * so is a RunHalted whose origin is 'stale' (the control plane is back, the refusal ends);
 * otherwise a halted run stays halted until someone resets it.
 */
import type { ControlScope, TripReason } from '../schemas/index.js';

export type FuseboxErrorCode = 'RUN_HALTED' | 'REJECTED_EVENT' | 'TRANSPORT_UNAVAILABLE' | 'CLIENT_CLOSED';

export abstract class FuseboxError extends Error {
  abstract readonly code: FuseboxErrorCode;
  abstract readonly retriable: boolean;
}

/**
 * Where a refusal was decided: 'control', a breaker opened on the control plane (a detector's
 * trip, an operator's kill); 'local', the client's pre-check from its cached policies, the
 * decision the processor makes on seeing the attempt; 'stale', the control plane has been
 * unreachable past the bound and the client is configured to fail closed.
 */
export type HaltOrigin = 'control' | 'local' | 'stale';

/** The run may not take its next action: a breaker covering it is open. */
export class RunHalted extends FuseboxError {
  readonly code = 'RUN_HALTED';
  readonly retriable: boolean;
  constructor(
    readonly runId: string,
    /** Which breaker: the run itself, its spawn tree, its agent or its tenant. */
    readonly scope: ControlScope,
    readonly reason: TripReason | null,
    readonly policy: { id: string | null; version: number | null },
    /** 'kill' when halted by hand, 'trip' when a detector decided. */
    readonly action: 'trip' | 'kill',
    readonly origin: HaltOrigin = 'control',
  ) {
    super(reason ? `run ${runId} halted by the ${reason.detector} ${origin === 'local' ? 'pre-check' : 'breaker'} (${scope} scope${origin === 'control' ? '' : `, ${origin}`}): ${reason.message} [threshold ${reason.threshold}, observed ${reason.observed}${policy.id ? `, policy ${policy.id} v${policy.version}` : ''}]` : `run ${runId} halted (${scope} scope, ${action})`);
    this.name = 'RunHalted';
    this.retriable = origin === 'stale';
  }
}

/** An event the client refuses to send because it would not pass the schema. */
export class RejectedEvent extends FuseboxError {
  readonly code = 'REJECTED_EVENT';
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RejectedEvent';
  }
}

/** The event log could not be reached; what could not be sent is counted, not thrown at the agent. */
export class TransportUnavailable extends FuseboxError {
  readonly code = 'TRANSPORT_UNAVAILABLE';
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportUnavailable';
  }
}

export class ClientClosed extends FuseboxError {
  readonly code = 'CLIENT_CLOSED';
  readonly retriable = false;
  constructor() {
    super('this Fusebox client is closed');
    this.name = 'ClientClosed';
  }
}
