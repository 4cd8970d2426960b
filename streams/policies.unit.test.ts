import { describe, expect, it } from 'vitest';
import { policyEventSchema, type PolicyEvent } from '../schemas/index.js';
import { loop } from './detectors/loop.js';
import { treeBudget } from './detectors/tree-budget.js';
import { createPolicyBook, type Subject } from './policies.js';

const policy = (over: Partial<PolicyEvent> & Pick<PolicyEvent, 'policyId'>): PolicyEvent =>
  policyEventSchema.parse({ version: 1, tenantId: 'acme', detector: 'loop', selector: {}, disposition: 'block', changedBy: 'ops', changedAtMs: 1, ...over });

const subject: Subject = { tenantId: 'acme', agentId: 'researcher', runId: 'run-7', tags: ['prod', 'eu'] };

describe('policy book', () => {
  it('gives a tenant with no policies the built-in defaults, and no budget', () => {
    const book = createPolicyBook();
    expect(book.resolve(loop, subject)).toEqual({ params: { threshold: 3, maxCycle: 3 }, disposition: 'block', ref: { policyId: 'builtin:loop', policyVersion: 1 } });
    expect(book.resolve(treeBudget, subject)).toBeNull();
  });

  it('resolves defaults < tenant < fleet tag < agent < run', () => {
    const book = createPolicyBook();
    const levels = [
      policy({ policyId: 'tenant', params: { threshold: '4' } }),
      policy({ policyId: 'tag', selector: { agentId: null, tags: ['prod'], runId: null }, params: { threshold: '5' } }),
      policy({ policyId: 'agent', selector: { agentId: 'researcher', tags: [], runId: null }, params: { threshold: '6' } }),
      policy({ policyId: 'run', selector: { agentId: null, tags: [], runId: 'run-7' }, params: { threshold: '7' } }),
    ];
    const seen: string[] = [];
    for (const level of levels) {
      book.apply(level.policyId, level);
      seen.push(book.resolve(loop, subject)!.ref.policyId);
    }
    expect(seen).toEqual(['tenant', 'tag', 'agent', 'run']);
    expect(book.resolve(loop, { ...subject, runId: 'run-8' })!.ref.policyId).toBe('agent');
    expect(book.resolve(loop, { ...subject, agentId: 'other', runId: 'x' })!.ref.policyId).toBe('tag');
    expect(book.resolve(loop, { ...subject, agentId: 'other', runId: 'x', tags: ['eu'] })!.ref.policyId).toBe('tenant');
    expect(book.resolve(loop, { ...subject, tenantId: 'other-tenant' })!.ref.policyId).toBe('builtin:loop');
  });

  it('keeps the newest version, ignores replays of older ones, and forgets on a tombstone', () => {
    const book = createPolicyBook();
    book.apply('p', policy({ policyId: 'p', version: 2, params: { threshold: '9' } }));
    book.apply('p', policy({ policyId: 'p', version: 1, params: { threshold: '4' } }));
    expect(book.resolve(loop, subject)).toMatchObject({ params: { threshold: 9 }, ref: { policyVersion: 2 } });
    book.apply('p', null);
    expect(book.resolve(loop, subject)!.ref.policyId).toBe('builtin:loop');
  });

  it('tells whether a tenant has any policy for a detector (the agent and tenant stages hear only of those)', () => {
    const book = createPolicyBook();
    expect(book.governs('acme', 'agent_breaker')).toBe(false);
    book.apply('a', policy({ policyId: 'a', detector: 'agent_breaker', selector: { agentId: 'crawler', tags: [], runId: null }, params: { tripsToOpen: '2' } }));
    expect(book.governs('acme', 'agent_breaker')).toBe(true);
    expect(book.governs('other', 'agent_breaker')).toBe(false);
    expect(book.governs('acme', 'tenant_cost_velocity')).toBe(false);
    book.apply('a', null);
    expect(book.governs('acme', 'agent_breaker')).toBe(false);
  });

  it('falls back when a policy is disabled', () => {
    const book = createPolicyBook();
    book.apply('p', policy({ policyId: 'p', params: { threshold: '9' } }));
    book.apply('p', policy({ policyId: 'p', version: 2, enabled: false, params: { threshold: '9' } }));
    expect(book.resolve(loop, subject)!.ref.policyId).toBe('builtin:loop');
  });

  it('refuses bad parameters and unknown detectors with the reason, keeping what was in force', () => {
    const book = createPolicyBook();
    book.apply('p', policy({ policyId: 'p', params: { threshold: '4' } }));
    expect(book.apply('p', policy({ policyId: 'p', version: 2, params: { threshold: 'lots' } }))).toEqual({ ok: false, policyId: 'p', reason: expect.stringMatching(/^params\.threshold: /) });
    expect(book.resolve(loop, subject)).toMatchObject({ params: { threshold: 4 } });
    expect(book.apply('q', policy({ policyId: 'q', detector: 'vibes' }))).toEqual({ ok: false, policyId: 'q', reason: expect.stringMatching(/unknown detector 'vibes'/) });
  });

  it('keeps redaction policies for the sink', () => {
    const book = createPolicyBook();
    book.apply('r', policy({ policyId: 'r', detector: 'redact', disposition: 'redact', params: { patterns: 'email' } }));
    expect(book.redactions(subject).map((p) => p.patterns.map((x) => x.name))).toEqual([['email']]);
    expect(book.apply('bad', policy({ policyId: 'bad', detector: 'redact', disposition: 'redact', params: { patterns: 'ssn' } }))).toMatchObject({ ok: false, reason: expect.stringMatching(/unknown pattern 'ssn'/) });
  });
});
