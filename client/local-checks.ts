/**
 * Local pre-checks: the decisions the processor would make about an action, made by the client
 * from its cached policies before the action starts, so an out-of-scope tool or a step beyond
 * the iteration cap is refused before it happens rather than tripped after it happened.
 *
 * The checks call the processor's own detectors (`scope`, `iteration_cap`) with the same
 * policy resolution, so the reason (detector, threshold, observed, message, policy id and
 * version) is exactly the one the processor writes when it sees the refused attempt. Only
 * these two can be decided before an action: every other detector needs the action's outcome.
 *
 * Pure and synchronous. A run caches what governs it and looks again only when the policy
 * book changed (a generation counter), so a check is a few property reads.
 */
import type { SpanEvent, SpanKind, TripReason } from '../schemas/index.js';
import type { Detector } from '../streams/detectors/index.js';
import { isStep, iterationCap, type IterationCapParams } from '../streams/detectors/iteration-cap.js';
import { scope, type ScopeParams } from '../streams/detectors/scope.js';
import { createPolicyBook, type Governing, type PolicyBook, type PolicySource, type Subject } from '../streams/policies.js';

/** What the agent is about to do. */
export interface NextAction {
  kind: SpanKind;
  name: string;
}

export interface LocalRefusal {
  reason: TripReason;
  policy: { id: string; version: number };
}

/** Per run: the governing policies as of a book generation. */
export interface RunPolicies {
  generation: number;
  scope: Governing | null;
  cap: Governing | null;
}

/** A policy book that counts its changes, so runs know when their cache is stale. */
export interface CountedPolicies extends PolicySource {
  readonly generation: number;
}

export const emptyRunPolicies = (): RunPolicies => ({ generation: -1, scope: null, cap: null });

/** The parts of a span the two detectors read; the rest is filled so no detector meets undefined. */
const probe: SpanEvent = {
  eventId: 'local-check', tenantId: '', agentId: '', runId: '', parentRunId: null, treeId: '', spanId: 'local-check', parentSpanId: null,
  kind: 'custom', name: 'next', status: 'unset', error: null, startTimeMs: 0, endTimeMs: 0, model: null, provider: null,
  inputTokens: 0, outputTokens: 0, cachedTokens: 0, costMicros: null, argsHash: null, args: null, outputHash: null, output: null,
  userId: null, sessionId: null, edge: null, attributes: {},
};

/**
 * Whether `next` (or, without it, any next step) may start, given the steps the run has
 * taken. Scope first, as in the processor, so a scope violation is the reason when both apply.
 */
export function checkLocally(policies: CountedPolicies, subject: Subject, cached: RunPolicies, stepsTaken: number, next?: NextAction): LocalRefusal | null {
  if (cached.generation !== policies.generation) {
    cached.scope = blocking(policies.resolve(scope, subject));
    cached.cap = blocking(policies.resolve(iterationCap, subject));
    cached.generation = policies.generation;
  }
  if (cached.scope === null && cached.cap === null) return null;
  probe.kind = next?.kind ?? 'custom';
  probe.name = next?.name ?? 'next';
  if (cached.scope !== null && next !== undefined) {
    const refusal = decide(scope, null, cached.scope);
    if (refusal) return refusal;
  }
  if (cached.cap !== null && isStep(probe.kind)) {
    // The step about to start is counted, as the processor counts the span it decides on.
    return decide(iterationCap, { steps: stepsTaken + 1 }, cached.cap);
  }
  return null;
}

/** Only a blocking policy refuses; a warn disposition is the processor's to report. */
function blocking(governing: Governing | null): Governing | null {
  return governing !== null && governing.disposition === 'block' ? governing : null;
}

function decide<S, P extends ScopeParams | IterationCapParams>(detector: Detector<S, P>, state: S, governing: Governing): LocalRefusal | null {
  const finding = detector.decide(state, probe, governing.params as P);
  if (!finding) return null;
  return {
    reason: { detector: detector.name, threshold: finding.threshold, observed: finding.observed, windowMs: finding.windowMs, message: finding.message },
    policy: { id: governing.ref.policyId, version: governing.ref.policyVersion },
  };
}

/**
 * The client's policy cache: the processor's policy book, holding only this tenant's policies
 * (the topic carries every tenant's) and counting accepted changes for the runs' caches.
 */
export function createCachedPolicies(tenantId: string): PolicyBook & CountedPolicies {
  const book = createPolicyBook();
  let generation = 0;
  // Inherits whatever else the book offers; its methods close over its state, not `this`.
  const cached = Object.create(book) as PolicyBook & { generation: number };
  cached.apply = (policyId, event) => {
    if (event !== null && event.tenantId !== tenantId) return { ok: true, policy: null };
    const result = book.apply(policyId, event);
    if (result.ok) generation += 1;
    return result;
  };
  Object.defineProperty(cached, 'generation', { get: () => generation });
  return cached;
}
