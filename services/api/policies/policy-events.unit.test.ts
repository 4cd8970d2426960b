import { describe, expect, it } from 'vitest';
import { createPolicyBook } from '../../../streams/policies.js';
import { scope } from '../../../streams/detectors/scope.js';
import { ApiError } from '../errors.js';
import { checkPolicyDraft, isRegistryManaged, policyVersion, registryScopePolicyId, scopePolicyDraft, type PolicyDraft } from './policy-events.js';

const draft = (over: Partial<PolicyDraft> = {}): PolicyDraft => ({ detector: 'loop', selector: { agentId: null, tags: [], runId: null }, params: { threshold: '3' }, disposition: 'block', enabled: true, ...over });

function fieldOf(d: PolicyDraft): string | undefined {
  try {
    checkPolicyDraft(d, 'body');
    return undefined;
  } catch (error) {
    if (error instanceof ApiError && error.code === 'INVALID_REQUEST') return `${error.field} | ${error.message}`;
    throw error;
  }
}

describe('policy drafts are checked as the processors parse them', () => {
  it.each([
    ['a good loop policy', draft(), undefined],
    ['a threshold that is not a number', draft({ params: { threshold: 'three' } }), 'body.params.threshold'],
    ['a threshold below 1', draft({ params: { threshold: '0' } }), 'body.params.threshold'],
    ['a misspelt parameter (would leave the default in force)', draft({ params: { threshhold: '3' } }), 'body.params.threshhold'],
    ['an unknown detector', draft({ detector: 'vibes' }), 'body.detector'],
    ['a tree budget with no ceiling', draft({ detector: 'tree_budget', params: {} }), 'body.params.maxMicros'],
    ['redact as the disposition of a detector', draft({ disposition: 'redact' }), 'body.disposition'],
    ['a redact policy that would block', draft({ detector: 'redact', params: { fields: 'args', patterns: 'email' } }), 'body.disposition'],
  ])('%s', (_name, d, field) => {
    const found = fieldOf(d);
    if (field === undefined) expect(found).toBeUndefined();
    else expect(found?.split(' | ')[0]).toBe(field);
  });

  it('the message names the field and why', () => {
    expect(fieldOf(draft({ params: { threshhold: '3' } }))).toBe('body.params.threshhold | body.params.threshhold: unknown parameter of loop (expected one of: threshold, maxCycle)');
    expect(fieldOf(draft({ params: { threshold: 'three' } }))).toBe("body.params.threshold | body.params.threshold: Invalid input: expected number, received NaN (got 'three')");
    expect(fieldOf(draft({ detector: 'scope', params: {} }))).toBe('body.params.allowedTools | body.params.allowedTools: required');
  });

  it('every draft it accepts, the policy book accepts', () => {
    const book = createPolicyBook();
    const good = [draft(), draft({ detector: 'tree_budget', params: { maxMicros: '5000' } }), draft({ detector: 'redact', disposition: 'redact', params: { fields: 'args', patterns: 'email' } }), scopePolicyDraft({ agentId: 'a', allowedTools: [] })];
    good.forEach((d, i) => {
      checkPolicyDraft(d, 'body');
      expect(book.apply(`p${i}`, policyVersion(d, { policyId: `p${i}`, tenantId: 'acme', version: 1, changedBy: 'k', changedAtMs: 1 })).ok).toBe(true);
    });
  });
});

describe('the registry scope policy', () => {
  it('is an agent-level blocking scope policy listing the allowed tools, off when any tool is allowed', () => {
    expect(scopePolicyDraft({ agentId: 'researcher', allowedTools: ['web_search', 'github.*'] })).toEqual({
      detector: 'scope', selector: { agentId: 'researcher', tags: [], runId: null }, params: { allowedTools: 'web_search,github.*' }, disposition: 'block', enabled: true,
    });
    expect(scopePolicyDraft({ agentId: 'researcher', allowedTools: null }).enabled).toBe(false);
  });

  it('governs the agent in the book: an allowed tool passes, another trips', () => {
    const book = createPolicyBook();
    const id = registryScopePolicyId('acme', 'researcher');
    book.apply(id, policyVersion(scopePolicyDraft({ agentId: 'researcher', allowedTools: ['web_search'] }), { policyId: id, tenantId: 'acme', version: 1, changedBy: 'k', changedAtMs: 1 }));
    const governing = book.resolve(scope, { tenantId: 'acme', agentId: 'researcher', runId: 'r', tags: [] });
    expect(governing?.ref).toEqual({ policyId: id, policyVersion: 1 });
    expect(book.resolve(scope, { tenantId: 'acme', agentId: 'other', runId: 'r', tags: [] })).toBeNull();
    expect(book.resolve(scope, { tenantId: 'globex', agentId: 'researcher', runId: 'r', tags: [] })).toBeNull();
  });

  it('ids cannot collide across tenants, and are recognisably the registry\'s', () => {
    expect(registryScopePolicyId('a:b', 'c')).not.toBe(registryScopePolicyId('a', 'b:c'));
    expect(registryScopePolicyId('a/b', 'c')).not.toBe(registryScopePolicyId('a', 'b/c'));
    expect(isRegistryManaged(registryScopePolicyId('acme', 'x'))).toBe(true);
    expect(isRegistryManaged('pol_0123456789abcdef')).toBe(false);
  });
});
