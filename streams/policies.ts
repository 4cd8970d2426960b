/**
 * Which policy governs an event: the policy book, built from PolicyEvents (the compacted
 * policies topic) and consulted for every event, so a change applies to the next event handled.
 *
 * Resolution, least to most specific: built-in defaults, tenant (empty selector), fleet tag
 * (selector.tags, all of which the agent must carry), agent (selector.agentId), run
 * (selector.runId). Among equally specific policies the most recently changed wins. A
 * disabled policy is as if absent, so the next less specific level governs again.
 */
import type { Disposition, PolicyEvent } from '../schemas/index.js';
import { detectorByName, type Detector, type DetectorName } from './detectors/index.js';
import type { z } from 'zod';
import { AGENT_BREAKER, agentBreakerParams, type agentBreakerPolicy } from './agent-breaker.js';
import { costVelocityParams } from './detectors/cost-velocity.js';
import { redactParams, type RedactParams } from './redact.js';
import { TENANT_COST_VELOCITY, type tenantVelocityPolicy } from './tenant-velocity.js';

export interface PolicyRef {
  policyId: string;
  policyVersion: number;
}

export interface Governing {
  params: unknown;
  disposition: Exclude<Disposition, 'redact'>;
  ref: PolicyRef;
}

/** Who an event is about, as far as policy selection goes. */
export interface Subject {
  tenantId: string;
  agentId: string;
  runId: string;
  tags: readonly string[];
}

/** What policy selection needs of a detector (span detectors, and the agent breaker). */
export type Selectable = Pick<Detector, 'name' | 'defaults'> | typeof agentBreakerPolicy | typeof tenantVelocityPolicy;

export interface PolicySource {
  /** The governing policy for `detector`, or null when the detector is off for this subject. */
  resolve(detector: Selectable, subject: Subject): Governing | null;
}

/** Every detector a policy may name: the engine's, the agent and tenant stages', and redaction. */
export const POLICY_DETECTORS: readonly string[] = Object.freeze([...detectorByName.keys(), AGENT_BREAKER, TENANT_COST_VELOCITY, 'redact']);

/** How a policy's string parameters parse, by detector; undefined for an unknown detector.
 *  Redaction is applied by the sink and the agent breaker by the agent stage, from books like this.
 *  The query API validates with the same schemas before it publishes. */
export function paramsSchema(detector: string): z.ZodType | undefined {
  if (detector === 'redact') return redactParams;
  if (detector === AGENT_BREAKER) return agentBreakerParams;
  if (detector === TENANT_COST_VELOCITY) return costVelocityParams;
  return detectorByName.get(detector as DetectorName)?.params;
}

export type PolicyChange = { ok: true; policy: PolicyEvent | null } | { ok: false; policyId: string; reason: string };

interface Entry {
  event: PolicyEvent;
  specificity: number;
  /** What resolve answers for it: built once, since resolve runs for every detector of every span. */
  governing: Governing;
}

export const builtinRef = (detector: DetectorName): PolicyRef => ({ policyId: `builtin:${detector}`, policyVersion: 1 });

/** Each detector's built-in answer, built once (frozen: shared by every resolve). */
const builtinAnswers = new WeakMap<Selectable, Governing | null>();

/** Built-in defaults only: what a tenant with no policies gets. */
export const builtinPolicies: PolicySource = Object.freeze({
  resolve(detector: Selectable): Governing | null {
    let answer = builtinAnswers.get(detector);
    if (answer === undefined) {
      answer = detector.defaults ? Object.freeze({ params: detector.defaults, disposition: 'block' as const, ref: Object.freeze(builtinRef(detector.name)) }) : null;
      builtinAnswers.set(detector, answer);
    }
    return answer;
  },
});

function specificity(event: PolicyEvent): number {
  if (event.selector.runId) return 4;
  if (event.selector.agentId) return 3;
  if (event.selector.tags.length > 0) return 2;
  return 1;
}

function matches(event: PolicyEvent, subject: Subject): boolean {
  const { selector } = event;
  if (event.tenantId !== subject.tenantId) return false;
  if (selector.runId !== null && selector.runId !== subject.runId) return false;
  if (selector.agentId !== null && selector.agentId !== subject.agentId) return false;
  // A loop, not every() with a closure: this runs for each candidate policy of each detector of each span.
  for (let i = 0; i < selector.tags.length; i++) if (!subject.tags.includes(selector.tags[i]!)) return false;
  return true;
}

export function createPolicyBook() {
  const byId = new Map<string, Entry>();
  /** tenant -> detector -> entries: resolution only looks at one short list. */
  const index = new Map<string, Map<string, Entry[]>>();

  function reindex(tenantId: string): void {
    const forTenant = new Map<string, Entry[]>();
    for (const entry of byId.values()) {
      if (entry.event.tenantId !== tenantId || !entry.event.enabled) continue;
      const list = forTenant.get(entry.event.detector) ?? [];
      list.push(entry);
      forTenant.set(entry.event.detector, list);
    }
    // Most specific first, then most recently changed, then id for a total order.
    for (const list of forTenant.values()) {
      list.sort((a, b) => b.specificity - a.specificity || b.event.changedAtMs - a.event.changedAtMs || a.event.policyId.localeCompare(b.event.policyId));
    }
    index.set(tenantId, forTenant);
  }

  return {
    /**
     * Applies a policy version, or a deletion (`null`, a compaction tombstone). Older versions
     * than the one held are ignored (replays, reordering); a policy whose parameters do not
     * parse is refused with the reason and the previous version stays in force.
     */
    apply(policyId: string, event: PolicyEvent | null): PolicyChange {
      const held = byId.get(policyId);
      if (event === null) {
        if (held) {
          byId.delete(policyId);
          reindex(held.event.tenantId);
        }
        return { ok: true, policy: null };
      }
      if (held && held.event.version >= event.version) return { ok: true, policy: held.event };
      const schema = paramsSchema(event.detector);
      if (!schema) return { ok: false, policyId, reason: `unknown detector '${event.detector}' (known: ${POLICY_DETECTORS.join(', ')})` };
      const parsed = schema.safeParse(event.params);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        return { ok: false, policyId, reason: `params.${issue.path.join('.') || '(root)'}: ${issue.message}` };
      }
      const disposition = event.disposition === 'redact' ? 'block' : event.disposition;
      const governing = Object.freeze({ params: parsed.data, disposition, ref: Object.freeze({ policyId: event.policyId, policyVersion: event.version }) });
      byId.set(policyId, { event, specificity: specificity(event), governing });
      if (held && held.event.tenantId !== event.tenantId) reindex(held.event.tenantId);
      reindex(event.tenantId);
      return { ok: true, policy: event };
    },

    resolve(detector: Selectable, subject: Subject): Governing | null {
      const candidates = index.get(subject.tenantId)?.get(detector.name);
      if (candidates) {
        for (const entry of candidates) {
          if (matches(entry.event, subject)) return entry.governing;
        }
      }
      return builtinPolicies.resolve(detector, subject);
    },

    /** The version of a policy the book holds (enabled or not), if any. */
    held(policyId: string): PolicyEvent | undefined {
      return byId.get(policyId)?.event;
    },

    /** Whether any policy of the tenant names `detector`: what a stage with no built-in
     *  default (agent breaker, tenant cost velocity) needs to hear about at all. */
    governs(tenantId: string, detector: string): boolean {
      return (index.get(tenantId)?.get(detector)?.length ?? 0) > 0;
    },

    /** Every redaction in force for a subject (all levels apply, least specific first). */
    redactions(subject: Subject): RedactParams[] {
      return (index.get(subject.tenantId)?.get('redact') ?? []).filter((e) => matches(e.event, subject)).map((e) => e.governing.params as RedactParams).reverse();
    },

    get size(): number {
      return byId.size;
    },
  };
}

export type PolicyBook = ReturnType<typeof createPolicyBook>;
