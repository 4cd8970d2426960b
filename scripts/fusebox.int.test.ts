/** The fusebox CLI against real chDB: the bootstrap admin key, key management, the cost report. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../services/api/auth/authenticate.js';
import { seedSpans } from '../test/api.js';
import { span } from '../test/spans.js';
import { freshStore } from '../test/store.js';
import type { Store } from '../storage/store.js';
import { accessLog } from '../storage/tables/access-log.js';
import { runCli, type CliIo } from './fusebox.js';

const T0 = Date.UTC(2026, 2, 1);

describe('fusebox CLI', () => {
  let store: Store;
  beforeAll(async () => {
    store = await freshStore();
    await seedSpans(store, [
      span({ kind: 'llm_call', name: 'm', tenantId: 'acme', agentId: 'planner', runId: 'r1', treeId: 'r1', startTimeMs: T0, model: 'gpt-4o', costMicros: 1_500_000, inputTokens: 10 }),
      span({ kind: 'llm_call', name: 'm', tenantId: 'acme', agentId: 'planner', runId: 'r1', treeId: 'r1', startTimeMs: T0 + 1, model: 'gpt-4o', costMicros: 250 }),
      span({ kind: 'llm_call', name: 'm', tenantId: 'acme', agentId: '=cmd|calc', runId: 'r2', treeId: 'r2', startTimeMs: T0 + 2, model: null, costMicros: null }),
      span({ kind: 'llm_call', name: 'm', tenantId: 'globex', agentId: 'spy', runId: 'g1', treeId: 'g1', startTimeMs: T0, model: 'gpt-4o', costMicros: 7 }),
    ]);
  });
  afterAll(async () => { await store?.close(); });

  /** A clock that moves a millisecond per reading, so "newest access-log row" is well defined. */
  let tick = Date.UTC(2026, 3, 1);

  async function cli(args: string[], env: Record<string, string> = {}) {
    let out = '';
    let err = '';
    const io: CliIo = { out: (t) => { out += t; }, err: (t) => { err += t; }, env, now: () => ++tick };
    const code = await runCli(args, store, io);
    return { code, out, err };
  }

  it('creates the first admin key of a tenant, printing it once on stdout', async () => {
    const { code, out, err } = await cli(['keys', 'create', '--tenant', 'acme', '--role', 'admin', '--name', 'bootstrap']);
    expect(code).toBe(0);
    const key = out.trim();
    expect(key).toMatch(/^fbx_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(err).toContain(`created admin key ${key.slice(4, 20)} for tenant 'acme'`);
    expect(await authenticate(store.client, `Bearer ${key}`)).toEqual({ tenantId: 'acme', keyId: key.slice(4, 20), role: 'admin' });
    const listed = await cli(['keys', 'list', '--tenant', 'acme']);
    expect(listed.out).toContain(`${key.slice(4, 20)}  admin`);
    expect(listed.out).not.toContain(key.slice(21));
  });

  it('revokes a key', async () => {
    const key = (await cli(['keys', 'create', '--tenant', 'acme', '--role', 'sre'])).out.trim();
    expect((await cli(['keys', 'revoke', '--key-id', key.slice(4, 20)])).code).toBe(0);
    await expect(authenticate(store.client, `Bearer ${key}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('prints a cost report as CSV for the key\'s tenant only, and logs the read', async () => {
    const key = (await cli(['keys', 'create', '--tenant', 'acme', '--role', 'finance'])).out.trim();
    const { code, out } = await cli(['report', 'cost', '--from', '2026-03-01', '--to', '2026-03-02', '--by', 'agent,model', '--format', 'csv'], { FUSEBOX_API_KEY: key });
    expect(code).toBe(0);
    expect(out).toBe([
      'agent,model,spans,steps,cost_micros,cost_usd,unpriced_spans,input_tokens,output_tokens,cached_tokens',
      "'=cmd|calc,,1,1,0,0.000000,1,0,0,0",
      'planner,gpt-4o,2,2,1500250,1.500250,0,10,0,0',
      '',
    ].join('\r\n'));
    const [row] = await accessLog(store.client, 'acme');
    expect(row).toMatchObject({ key_id: key.slice(4, 20), method: 'CLI', route: 'fusebox report cost', resource_type: 'cost_report', status_code: 200, flagged: false });
  });

  it('prints JSON by default, with totals', async () => {
    const key = (await cli(['keys', 'create', '--tenant', 'acme', '--role', 'admin'])).out.trim();
    const { out } = await cli(['report', 'cost', '--from', String(T0), '--to', String(T0 + 1_000), '--key', key]);
    expect(JSON.parse(out).totals).toMatchObject({ costMicros: 1_500_250, costUsd: '1.500250', spans: 3, unpricedSpans: 1 });
  });

  it('refuses a role without the reports permission (logged as 403), and another tenant\'s tree (404, flagged)', async () => {
    const sre = (await cli(['keys', 'create', '--tenant', 'acme', '--role', 'sre'])).out.trim();
    const refused = await cli(['report', 'cost', '--from', '2026-03-01', '--to', '2026-03-02'], { FUSEBOX_API_KEY: sre });
    expect(refused).toMatchObject({ code: 1, err: "fusebox: role 'sre' may not read cost reports (needs 'reports:read')\n" });
    expect((await accessLog(store.client, 'acme'))[0]).toMatchObject({ key_id: sre.slice(4, 20), status_code: 403 });

    const finance = (await cli(['keys', 'create', '--tenant', 'acme', '--role', 'finance'])).out.trim();
    const foreign = await cli(['report', 'cost', '--from', '2026-03-01', '--to', '2026-03-02', '--tree', 'g1'], { FUSEBOX_API_KEY: finance });
    expect(foreign).toMatchObject({ code: 1, err: "fusebox: tree 'g1' not found\n" });
    expect((await accessLog(store.client, 'acme'))[0]).toMatchObject({ key_id: finance.slice(4, 20), status_code: 404, flagged: true, resource_id: 'g1' });
  });

  it.each([
    [[], /no command given/],
    [['keys', 'create', '--tenant', 'acme'], /--role is required/],
    [['keys', 'create', '--tenant', 'acme', '--role', 'root'], /--role: 'root' is not a role; choose from agent, sre, finance, admin/],
    [['report', 'cost', '--from', '2026-03-01'], /a key with the reports permission is needed/],
    [['report', 'cost', '--key', 'k', '--from', '2026-03-01'], /--to: required/],
    [['report', 'cost', '--key', 'k', '--from', '2026-03-01', '--to', '2026-03-02', '--by', 'colour'], /--by: unknown dimension 'colour'/],
    [['keys', 'list', '--tenant', 'acme', '--bogus', 'x'], /Unknown option '--bogus'/],
  ])('answers %j with usage and exit code 2', async (args, message) => {
    const { code, err } = await cli(args);
    expect(code).toBe(2);
    expect(err).toMatch(message);
    expect(err).toContain('usage:');
  });
});
