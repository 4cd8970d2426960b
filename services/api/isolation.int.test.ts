/**
 * Tenant isolation and roles, route by route. Every route of the API is walked with a second
 * tenant's key and the first tenant's ids: each answers 404 exactly as for an id that exists
 * nowhere, and leaves a flagged access-log row. Then each role is refused (403) every route it
 * is not granted. Both walks are driven by the route table, so a new route without a case fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from './app.js';
import { ROLES, roleGrants, type Role } from './auth/roles.js';
import { apiHarness, loopTrip, seedSpans, seedTrips, type ApiHarness } from '../../test/api.js';
import { span } from '../../test/spans.js';
import { recordTenantPrice } from '../../storage/tables/model-prices.js';

const T0 = Date.UTC(2026, 2, 1);
const ACME = 'acme';
const GLOBEX = 'globex';
const PRICE = { inputMicrosPerMTok: 1_000_000, outputMicrosPerMTok: 2_000_000, cachedInputMicrosPerMTok: 100_000 };

interface Probe {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The request naming acme's resource. */
  url: string;
  payload?: Record<string, unknown>;
  /** The same request naming a resource that exists nowhere. */
  missingUrl: string;
  missingPayload?: Record<string, unknown>;
  /** What the flagged access-log row names. */
  resourceId: string;
}

describe('tenant isolation', () => {
  let api: ApiHarness;
  let acmeKeyId: string;
  const keys = {} as Record<Role, string>;
  let acmeAdmin: string;
  let acmePolicyId: string;

  beforeAll(async () => {
    api = await apiHarness();
    await seedSpans(api.store, [
      span({ kind: 'run_start', name: 'r', tenantId: ACME, agentId: 'acme-researcher', runId: 'acme-run', treeId: 'acme-tree', startTimeMs: T0 }),
      span({ kind: 'llm_call', name: 'm', tenantId: ACME, agentId: 'acme-researcher', runId: 'acme-run', treeId: 'acme-tree', startTimeMs: T0 + 1, model: 'gpt-4o', costMicros: 9_999 }),
      // globex has runs of its own, so its answers are not empty because it has nothing
      span({ kind: 'run_start', name: 'r', tenantId: GLOBEX, agentId: 'globex-agent', runId: 'globex-run', treeId: 'globex-run', startTimeMs: T0 }),
    ]);
    await seedTrips(api.store, [loopTrip({ eventId: 'acme-trip', tenantId: ACME, runId: 'acme-run', treeId: 'acme-tree' })]);
    await recordTenantPrice(api.store.client, { ...PRICE, tenantId: ACME, provider: 'openai', model: 'gpt-4o', effectiveFromMs: T0, note: 'acme contract', changedBy: 'test', changedAtMs: T0 }, false);
    acmeAdmin = await api.key(ACME, 'admin');
    acmeKeyId = acmeAdmin.slice(4, 20);
    expect((await api.call(acmeAdmin, { method: 'POST', url: '/v1/agents', payload: { agentId: 'acme-researcher', owner: 'acme-team', allowedTools: ['web_search'] } })).statusCode).toBe(201);
    const policy = await api.call(acmeAdmin, { method: 'POST', url: '/v1/policies', payload: { detector: 'loop', params: { threshold: 4 } } });
    acmePolicyId = policy.json().policyId;
    for (const role of ROLES) keys[role] = await api.key(GLOBEX, role);
  });
  afterAll(async () => { await api?.close(); });

  const range = `from=${T0}&to=${T0 + 86_400_000}`;
  /** One probe per route: acme's id where the route takes one, else acme's tenant or a filter naming acme's tree. */
  const probes: Record<string, Probe> = {
    'GET /v1/runs': { method: 'GET', url: '/v1/runs?tenant=acme', missingUrl: '/v1/runs?tenant=nobody', resourceId: 'acme' },
    'GET /v1/runs/:runId': { method: 'GET', url: '/v1/runs/acme-run', missingUrl: '/v1/runs/no-such-run', resourceId: 'acme-run' },
    'GET /v1/runs/:runId/spans': { method: 'GET', url: '/v1/runs/acme-run/spans', missingUrl: '/v1/runs/no-such-run/spans', resourceId: 'acme-run' },
    'GET /v1/runs/:runId/graph': { method: 'GET', url: '/v1/runs/acme-run/graph', missingUrl: '/v1/runs/no-such-run/graph', resourceId: 'acme-run' },
    'GET /v1/trees/:treeId/graph': { method: 'GET', url: '/v1/trees/acme-tree/graph', missingUrl: '/v1/trees/no-such-tree/graph', resourceId: 'acme-tree' },
    'GET /v1/breakers/trips': { method: 'GET', url: '/v1/breakers/trips?run=acme-run', missingUrl: '/v1/breakers/trips?run=no-such-run', resourceId: 'acme-run' },
    'GET /v1/breakers/open': { method: 'GET', url: '/v1/breakers/open?tenantId=acme', missingUrl: '/v1/breakers/open?tenantId=nobody', resourceId: 'acme' },
    'POST /v1/runs/:runId/halt': { method: 'POST', url: '/v1/runs/acme-run/halt', missingUrl: '/v1/runs/no-such-run/halt', resourceId: 'acme-run' },
    'POST /v1/runs/:runId/reset': { method: 'POST', url: '/v1/runs/acme-run/reset', missingUrl: '/v1/runs/no-such-run/reset', resourceId: 'acme-run' },
    'POST /v1/trees/:treeId/halt': { method: 'POST', url: '/v1/trees/acme-tree/halt', missingUrl: '/v1/trees/no-such-tree/halt', resourceId: 'acme-tree' },
    'POST /v1/trees/:treeId/reset': { method: 'POST', url: '/v1/trees/acme-tree/reset', missingUrl: '/v1/trees/no-such-tree/reset', resourceId: 'acme-tree' },
    'POST /v1/agents/:agentId/halt': { method: 'POST', url: '/v1/agents/acme-researcher/halt', missingUrl: '/v1/agents/no-such-agent/halt', resourceId: 'acme-researcher' },
    'POST /v1/agents/:agentId/reset': { method: 'POST', url: '/v1/agents/acme-researcher/reset', missingUrl: '/v1/agents/no-such-agent/reset', resourceId: 'acme-researcher' },
    'GET /v1/trees/:treeId/budget': { method: 'GET', url: '/v1/trees/acme-tree/budget', missingUrl: '/v1/trees/no-such-tree/budget', resourceId: 'acme-tree' },
    'GET /v1/agents': { method: 'GET', url: '/v1/agents?tenant=acme', missingUrl: '/v1/agents?tenant=nobody', resourceId: 'acme' },
    'POST /v1/agents': { method: 'POST', url: '/v1/agents', payload: { tenantId: ACME, agentId: 'acme-researcher', owner: 'mallory' }, missingUrl: '/v1/agents', missingPayload: { tenantId: 'nobody', agentId: 'acme-researcher', owner: 'mallory' }, resourceId: 'acme' },
    'GET /v1/agents/:agentId': { method: 'GET', url: '/v1/agents/acme-researcher', missingUrl: '/v1/agents/no-such-agent', resourceId: 'acme-researcher' },
    'GET /v1/agents/:agentId/history': { method: 'GET', url: '/v1/agents/acme-researcher/history', missingUrl: '/v1/agents/no-such-agent/history', resourceId: 'acme-researcher' },
    'PATCH /v1/agents/:agentId': { method: 'PATCH', url: '/v1/agents/acme-researcher', payload: { allowedTools: null }, missingUrl: '/v1/agents/no-such-agent', missingPayload: { allowedTools: null }, resourceId: 'acme-researcher' },
    'POST /v1/agents/:agentId/lifecycle': { method: 'POST', url: '/v1/agents/acme-researcher/lifecycle', payload: { state: 'retired' }, missingUrl: '/v1/agents/no-such-agent/lifecycle', missingPayload: { state: 'retired' }, resourceId: 'acme-researcher' },
    'POST /v1/agents/:agentId/suspend': { method: 'POST', url: '/v1/agents/acme-researcher/suspend', missingUrl: '/v1/agents/no-such-agent/suspend', resourceId: 'acme-researcher' },
    'POST /v1/agents/:agentId/resume': { method: 'POST', url: '/v1/agents/acme-researcher/resume', missingUrl: '/v1/agents/no-such-agent/resume', resourceId: 'acme-researcher' },
    'GET /v1/policies': { method: 'GET', url: '/v1/policies?tenant_id=acme', missingUrl: '/v1/policies?tenant_id=nobody', resourceId: 'acme' },
    'POST /v1/policies': { method: 'POST', url: '/v1/policies', payload: { tenant: ACME, detector: 'loop' }, missingUrl: '/v1/policies', missingPayload: { tenant: 'nobody', detector: 'loop' }, resourceId: 'acme' },
    'GET /v1/policies/:policyId': { method: 'GET', url: '/v1/policies/{acmePolicy}', missingUrl: '/v1/policies/pol_0000000000000000', resourceId: '{acmePolicy}' },
    'GET /v1/policies/:policyId/history': { method: 'GET', url: '/v1/policies/{acmePolicy}/history', missingUrl: '/v1/policies/pol_0000000000000000/history', resourceId: '{acmePolicy}' },
    'PATCH /v1/policies/:policyId': { method: 'PATCH', url: '/v1/policies/{acmePolicy}', payload: { enabled: false }, missingUrl: '/v1/policies/pol_0000000000000000', missingPayload: { enabled: false }, resourceId: '{acmePolicy}' },
    'POST /v1/policies/:policyId/disable': { method: 'POST', url: '/v1/policies/{acmePolicy}/disable', missingUrl: '/v1/policies/pol_0000000000000000/disable', resourceId: '{acmePolicy}' },
    'GET /v1/reports/cost': { method: 'GET', url: `/v1/reports/cost?${range}&tree=acme-tree`, missingUrl: `/v1/reports/cost?${range}&tree=no-such-tree`, resourceId: 'acme-tree' },
    'POST /v1/keys': { method: 'POST', url: '/v1/keys', payload: { tenantId: ACME, role: 'admin' }, missingUrl: '/v1/keys', missingPayload: { tenantId: 'nobody', role: 'admin' }, resourceId: 'acme' },
    'GET /v1/keys': { method: 'GET', url: '/v1/keys?tenant_id=acme', missingUrl: '/v1/keys?tenant_id=nobody', resourceId: 'acme' },
    'DELETE /v1/keys/:keyId': { method: 'DELETE', url: '', missingUrl: '/v1/keys/0000000000000000', resourceId: '' },
    'GET /v1/prices': { method: 'GET', url: '/v1/prices?tenant=acme', missingUrl: '/v1/prices?tenant=nobody', resourceId: 'acme' },
    'GET /v1/prices/overrides': { method: 'GET', url: '/v1/prices/overrides?tenantId=acme', missingUrl: '/v1/prices/overrides?tenantId=nobody', resourceId: 'acme' },
    'POST /v1/prices/overrides': { method: 'POST', url: '/v1/prices/overrides', payload: { tenantId: ACME, provider: 'openai', model: 'gpt-4o', ...PRICE }, missingUrl: '/v1/prices/overrides', missingPayload: { tenantId: 'nobody', provider: 'openai', model: 'gpt-4o', ...PRICE }, resourceId: 'acme' },
    'DELETE /v1/prices/overrides/:provider/:model/:effectiveFrom': { method: 'DELETE', url: '/v1/prices/overrides/openai/gpt-4o/2026-03-01', missingUrl: '/v1/prices/overrides/openai/gpt-4o/2020-01-01', resourceId: 'openai/gpt-4o@2026-03-01T00:00:00.000Z' },
    'GET /v1/access-log': { method: 'GET', url: '/v1/access-log?tenant=acme', missingUrl: '/v1/access-log?tenant=nobody', resourceId: 'acme' },
  };
  const probe = (name: string): Probe => {
    const p = probes[name]!;
    if (name === 'DELETE /v1/keys/:keyId') return { ...p, url: `/v1/keys/${acmeKeyId}`, resourceId: acmeKeyId };
    // acme's policy id is made when acme creates it, in beforeAll
    return { ...p, url: p.url.replace('{acmePolicy}', acmePolicyId), resourceId: p.resourceId.replace('{acmePolicy}', acmePolicyId) };
  };

  it('has a probe for every route of the API', () => {
    expect(Object.keys(probes).sort()).toEqual(apiRoutes.map((r) => `${r.method} ${r.url}`).sort());
  });

  for (const name of Object.keys(probes)) {
    it(`${name}: another tenant's resource answers 404 like a missing one, and is flagged`, async () => {
      const p = probe(name);
      const admin = keys.admin;
      const foreign = await api.call(admin, { method: p.method, url: p.url, ...(p.payload ? { payload: p.payload } : {}) });
      const missing = await api.call(admin, { method: p.method, url: p.missingUrl, ...(p.missingPayload ? { payload: p.missingPayload } : {}) });
      expect(foreign.statusCode).toBe(404);
      expect(missing.statusCode).toBe(404);
      // Same body once the id itself is blanked out: nothing says "exists, but not yours".
      const missingId = missing.json().error.message.match(/'([^']+)'/)?.[1];
      expect(foreign.json()).toEqual({ error: { code: 'NOT_FOUND', message: missing.json().error.message.replace(missingId, p.resourceId) } });
      expect(Object.keys(foreign.headers).sort()).toEqual(Object.keys(missing.headers).sort());

      const rows = await api.accessRows(GLOBEX);
      const flagged = rows.filter((r) => r.flagged && r.resource_id === p.resourceId && r.route === name.split(' ')[1] && r.method === p.method);
      expect(flagged).toHaveLength(1);
      expect(flagged[0]).toMatchObject({ status_code: 404, flag_reason: 'cross_tenant', role: 'admin', method: p.method, key_id: admin.slice(4, 20) });
      // the missing one is logged too, but not flagged
      expect(rows.some((r) => !r.flagged && r.route === name.split(' ')[1] && r.method === p.method && r.status_code === 404)).toBe(true);
      // and acme's log says nothing of globex's probing
      expect((await api.accessRows(ACME)).some((r) => r.key_id === admin.slice(4, 20))).toBe(false);
    });
  }

  it('acme\'s data was never touched by the probes: its run is not halted, its key not revoked', async () => {
    expect((await api.get(acmeAdmin, '/v1/breakers/open')).json().breakers.map((b: { source: string }) => b.source)).toEqual(['detector']);
    expect((await api.get(acmeAdmin, '/v1/runs/acme-run')).statusCode).toBe(200);
    expect((await api.get(acmeAdmin, '/v1/keys')).json().keys.every((k: { revokedAt: string | null }) => k.revokedAt === null)).toBe(true);
    expect((await api.get(acmeAdmin, '/v1/agents/acme-researcher/history')).json().changes.map((c: { change: string }) => c.change)).toEqual(['registered']);
    expect((await api.get(acmeAdmin, `/v1/policies/${acmePolicyId}`)).json()).toMatchObject({ version: 1, enabled: true });
    expect((await api.get(acmeAdmin, '/v1/policies')).json().policies).toHaveLength(2); // its loop policy and its agent's scope policy
  });

  it('a tenant\'s own key sees only its own runs and costs', async () => {
    const globexRuns = (await api.get(keys.sre, '/v1/runs')).json().runs.map((r: { runId: string }) => r.runId);
    expect(globexRuns).toEqual(['globex-run']);
    const report = (await api.get(keys.finance, `/v1/reports/cost?${range}`)).json();
    expect(report.totals.costMicros).toBe(0);
    expect(report.totals.spans).toBe(1);
  });
});

describe('roles', () => {
  let api: ApiHarness;
  const keys = {} as Record<Role, string>;

  beforeAll(async () => {
    api = await apiHarness();
    await seedSpans(api.store, [span({ kind: 'run_start', name: 'r', tenantId: ACME, agentId: 'a', runId: 'r-1', treeId: 'r-1', startTimeMs: T0 })]);
    for (const role of ROLES) keys[role] = await api.key(ACME, role);
  });
  afterAll(async () => { await api?.close(); });

  /** Bodies the registry and policy writes need to get past validation when the role is granted. */
  const REGISTRY_AND_POLICY_BODIES: Record<string, Record<string, unknown>> = {
    'POST /v1/agents': { agentId: 'registered-by-the-matrix', owner: 'someone' },
    'PATCH /v1/agents/:agentId': { owner: 'someone else' },
    'POST /v1/agents/:agentId/lifecycle': { state: 'staging' },
    'POST /v1/policies': { detector: 'loop' },
    'PATCH /v1/policies/:policyId': { enabled: false },
  };

  /** A request each route answers with something other than 401/403 when the role is granted. */
  const requestFor = (method: string, url: string) => ({
    method: method as 'GET',
    url: url.replace(':runId', 'r-1').replace(':treeId', 'r-1').replace(':agentId', 'a').replace(':keyId', '0000000000000000')
      .replace(':provider/:model/:effectiveFrom', 'openai/gpt-4o/2020-01-01').replace(':policyId', 'pol_0000000000000000')
      + (url === '/v1/reports/cost' ? `?from=${T0}&to=${T0 + 1000}` : ''),
    ...(method === 'POST' && url === '/v1/keys' ? { payload: { role: 'agent' } }
      : method === 'POST' && url === '/v1/prices/overrides' ? { payload: { provider: 'openai', model: 'gpt-4o', ...PRICE } }
      : method === 'POST' || method === 'PATCH' ? { payload: REGISTRY_AND_POLICY_BODIES[`${method} ${url}`] ?? {} } : {}),
  });

  for (const role of ROLES) {
    for (const route of apiRoutes) {
      const granted = roleGrants(role, route.permission);
      it(`${role} ${granted ? 'may' : 'is refused (403)'}: ${route.method} ${route.url}`, async () => {
        const response = await api.call(keys[role], requestFor(route.method, route.url));
        if (granted) {
          expect([200, 201, 202, 404]).toContain(response.statusCode);
          return;
        }
        expect(response.statusCode).toBe(403);
        expect(response.json().error).toEqual({ code: 'FORBIDDEN', message: `role '${role}' may not ${route.summary.toLowerCase()} (needs '${route.permission}')` });
        const rows = await api.accessRows(ACME);
        expect(rows.some((r) => r.key_id === keys[role].slice(4, 20) && r.route === route.url && r.status_code === 403 && r.method === route.method)).toBe(true);
      });
    }
  }
});
