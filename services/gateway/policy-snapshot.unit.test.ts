import { describe, expect, it } from 'vitest';
import { policyEventSchema, type PolicyEvent } from '../../schemas/index.js';
import { notModified, snapshotOf } from './policy-snapshot.js';

const policy = (over: Partial<PolicyEvent> & Pick<PolicyEvent, 'policyId'>): PolicyEvent =>
  policyEventSchema.parse({ version: 1, tenantId: 'acme', selector: {}, detector: 'scope', params: { allowedTools: 'web_search' }, disposition: 'block', changedBy: 'sre', changedAtMs: 1, ...over });

describe('snapshotOf', () => {
  it('answers the enabled policies ordered by id, with a version naming exactly them', () => {
    const a = policy({ policyId: 'a' });
    const b = policy({ policyId: 'b' });
    const off = policy({ policyId: 'c', enabled: false });
    const snapshot = snapshotOf([b, off, a]);
    expect(JSON.parse(snapshot.body)).toEqual({ version: snapshot.version, policies: [a, b] });
    expect([snapshot.etag, snapshot.count]).toEqual([`"${snapshot.version}"`, 2]);
    // Order of arrival does not matter; any change of what is served does.
    expect(snapshotOf([a, b]).version).toBe(snapshot.version);
    expect(snapshotOf([a]).version).not.toBe(snapshot.version);
    expect(snapshotOf([a, { ...b, version: 2 }]).version).not.toBe(snapshot.version);
    expect(snapshotOf([a, { ...b, params: { allowedTools: 'shell' } }]).version).not.toBe(snapshot.version);
  });

  it('gives an empty set a version too', () => {
    expect(JSON.parse(snapshotOf([]).body)).toEqual({ version: snapshotOf([]).version, policies: [] });
  });
});

describe('notModified', () => {
  it.each([
    ['no header', undefined, false],
    ['the same tag', '"v1"', true],
    ['the same tag, weak', 'W/"v1"', true],
    ['one of a list', '"v0", "v1"', true],
    ['any', '*', true],
    ['another tag', '"v2"', false],
    ['the tag unquoted', 'v1', false],
    ['repeated headers', ['"v0"', '"v1"'], true],
  ] as const)('%s', (_name, header, expected) => {
    expect(notModified(header as string | string[] | undefined, '"v1"')).toBe(expected);
  });
});
