/**
 * The fusebox command line, for operators with access to Fusebox's ClickHouse.
 *
 *   fusebox keys create --tenant acme --role admin [--name "first admin"]   prints the key once
 *   fusebox keys list --tenant acme
 *   fusebox keys revoke --key-id 0123456789abcdef
 *   fusebox report cost --from 2026-03-01T00:00:00Z --to 2026-04-01T00:00:00Z --by agent,model [--format csv] [--tree ID] [--agent ID]
 *   fusebox reprice --tenant acme --from 2026-03-01 --to 2026-04-01 [--model gpt-4o]
 *
 * `keys create` is how the first admin key of a tenant comes to be: whoever can reach the
 * store may create keys. `report cost` is a finance read like the API's: it needs a key
 * (FUSEBOX_API_KEY or --key) with the reports permission, takes the tenant from that key, and
 * leaves an access-log row. Run as `npx fusebox ...` or `npx tsx scripts/fusebox.ts ...`; the
 * `reprice` is an operator's repair, like `keys`: it recomputes the cost of the spans Fusebox
 * priced (never an agent's own cost) by the prices in effect now, printing progress per day. The
 * store is the one services use (chDB in $FUSEBOX_DATA_DIR/chdb, or CLICKHOUSE_URL).
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { insertAccessRecords } from '../storage/tables/access-log.js';
import { findApiKey, listApiKeys, revokeApiKey } from '../storage/tables/api-keys.js';
import type { Store } from '../storage/store.js';
import { treeExists, treeExistsElsewhere } from '../storage/tables/runs.js';
import { authenticate } from '../services/api/auth/authenticate.js';
import { createApiKey } from '../services/api/auth/create-key.js';
import { isRole, roleGrants, ROLES } from '../services/api/auth/roles.js';
import { ApiError, notFound } from '../services/api/errors.js';
import { buildCostReport, costReportCsv } from '../services/api/reports/cost-report.js';
import { costReportQuery, iso, timeParam } from '../services/api/schemas.js';
import { reprice } from '../storage/reprice.js';
import { storedPriceTable } from '../storage/tables/model-prices.js';
import { DEFAULT_LIMITS } from '../services/api/app.js';
import { loadConfig } from '../services/config.js';
import { openConfiguredStore } from '../services/runtime.js';

const USAGE = `usage:
  fusebox keys create --tenant <tenant> --role <${ROLES.join('|')}> [--name <text>]
  fusebox keys list --tenant <tenant>
  fusebox keys revoke --key-id <16 hex digits>
  fusebox report cost --from <time> --to <time> [--by agent,model,provider,user,session,day,tree] [--format json|csv] [--tree <id>] [--agent <id>] [--key <key>]
  fusebox reprice --tenant <tenant> --from <time> --to <time> [--model <model>]
times: ISO 8601 with a zone (2026-03-01T00:00:00Z) or epoch milliseconds; the key defaults to $FUSEBOX_API_KEY`;

/** A mistake in the command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  now(): number;
}

/** Runs one command against `store`; returns the exit code. Exported for tests. */
export async function runCli(argv: string[], store: Store, io: CliIo): Promise<number> {
  try {
    const [group, command, ...rest] = argv;
    if (group === 'keys' && command === 'create') return await keysCreate(rest, store, io);
    if (group === 'keys' && command === 'list') return await keysList(rest, store, io);
    if (group === 'keys' && command === 'revoke') return await keysRevoke(rest, store, io);
    if (group === 'report' && command === 'cost') return await reportCost(rest, store, io);
    if (group === 'reprice') return await repriceCommand(argv.slice(1), store, io);
    throw new UsageError(argv.length === 0 ? 'no command given' : `unknown command '${argv.slice(0, 2).join(' ')}'`);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`fusebox: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    if (error instanceof ApiError) {
      io.err(`fusebox: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

function options<T extends Record<string, { type: 'string' }>>(args: string[], spec: T) {
  try {
    return parseArgs({ args, options: spec, strict: true, allowPositionals: false }).values as Partial<Record<keyof T, string>>;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

async function keysCreate(args: string[], store: Store, io: CliIo): Promise<number> {
  const values = options(args, { tenant: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } });
  const tenantId = required(values.tenant, '--tenant');
  const role = required(values.role, '--role');
  if (!isRole(role)) throw new UsageError(`--role: '${role}' is not a role; choose from ${ROLES.join(', ')}`);
  const { record, key } = await createApiKey(store.client, { tenantId, role, name: values.name ?? '', createdBy: 'cli', nowMs: io.now() });
  io.err(`created ${role} key ${record.keyId} for tenant '${tenantId}'. It is shown once, here, and stored only as a hash:\n`);
  io.out(`${key}\n`);
  return 0;
}

async function keysList(args: string[], store: Store, io: CliIo): Promise<number> {
  const values = options(args, { tenant: { type: 'string' } });
  const keys = await listApiKeys(store.client, required(values.tenant, '--tenant'));
  for (const key of keys) {
    io.out(`${key.keyId}  ${key.role.padEnd(7)}  created ${new Date(key.createdAtMs).toISOString()} by ${key.createdBy}${key.revokedAtMs === null ? '' : `  REVOKED ${new Date(key.revokedAtMs).toISOString()}`}  ${key.name}\n`);
  }
  if (keys.length === 0) io.err('no keys\n');
  return 0;
}

async function keysRevoke(args: string[], store: Store, io: CliIo): Promise<number> {
  const values = options(args, { 'key-id': { type: 'string' } });
  const keyId = required(values['key-id'], '--key-id');
  const key = await findApiKey(store.client, keyId);
  if (key === null) throw new ApiError('NOT_FOUND', `no API key ${keyId}`);
  await revokeApiKey(store.client, key, io.now());
  io.err(`revoked ${keyId} (tenant '${key.tenantId}', role ${key.role})\n`);
  return 0;
}

async function reportCost(args: string[], store: Store, io: CliIo): Promise<number> {
  const values = options(args, { from: { type: 'string' }, to: { type: 'string' }, by: { type: 'string' }, format: { type: 'string' }, tree: { type: 'string' }, agent: { type: 'string' }, key: { type: 'string' } });
  const key = values.key ?? io.env.FUSEBOX_API_KEY;
  if (!key) throw new UsageError('a key with the reports permission is needed: --key or FUSEBOX_API_KEY (create one with `fusebox keys create --role finance`)');
  const { key: _key, ...query } = values;
  const parsed = costReportQuery.safeParse(Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`--${String(issue.path[0] ?? '')}: ${issue.code === 'invalid_type' ? 'required' : issue.message}`);
  }
  const request: z.output<typeof costReportQuery> = parsed.data;
  const caller = await authenticate(store.client, `Bearer ${key}`);
  const allowed = roleGrants(caller.role, 'reports:read');
  const record = (statusCode: number, flagged = false) => insertAccessRecords(store.client, [{
    tenantId: caller.tenantId, timeMs: io.now(), requestId: randomUUID(), keyId: caller.keyId, role: caller.role, method: 'CLI',
    route: 'fusebox report cost', resourceType: 'cost_report',
    resourceId: request.tree ?? `${new Date(request.from).toISOString()}..${new Date(request.to).toISOString()}`,
    statusCode, flagged, flagReason: flagged ? 'cross_tenant' : '',
  }]);
  if (!allowed) {
    await record(403);
    throw new ApiError('FORBIDDEN', `role '${caller.role}' may not read cost reports (needs 'reports:read')`);
  }
  // A tree is a resource, as in the API: another tenant's answers like a missing one, flagged.
  if (request.tree !== undefined && !(await treeExists(store.client, caller.tenantId, request.tree))) {
    await record(404, await treeExistsElsewhere(store.client, caller.tenantId, request.tree));
    throw notFound('tree', request.tree);
  }
  const report = await buildCostReport(store.client, {
    tenantId: caller.tenantId, fromMs: request.from, toMs: request.to, by: request.by ?? [], treeId: request.tree, agentId: request.agent,
    maxGroups: DEFAULT_LIMITS.maxReportGroups,
  });
  await record(200);
  io.out(request.format === 'csv' ? costReportCsv(report) : `${JSON.stringify(report, null, 2)}\n`);
  return 0;
}

async function repriceCommand(args: string[], store: Store, io: CliIo): Promise<number> {
  const values = options(args, { tenant: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, model: { type: 'string' } });
  const tenantId = required(values.tenant, '--tenant');
  const time = (flag: 'from' | 'to') => {
    const parsed = timeParam.safeParse(required(values[flag], `--${flag}`));
    if (!parsed.success) throw new UsageError(`--${flag}: ${parsed.error.issues[0]!.message}`);
    return parsed.data;
  };
  const fromMs = time('from');
  const toMs = time('to');
  if (toMs <= fromMs) throw new UsageError('--to must be after --from');
  const table = await storedPriceTable(store.client, tenantId);
  io.err(`repricing tenant '${tenantId}' from ${iso(fromMs)} to ${iso(toMs)}${values.model ? `, model ${values.model}` : ''}\n`);
  const totals = await reprice(store.client, table, { tenantId, fromMs, toMs, model: values.model }, (day) => {
    if (day.read > 0) io.err(`  ${day.day}: ${day.read} spans, ${day.changed} changed, ${day.unpriced} unpriced, ${usd(day.costBeforeMicros)} -> ${usd(day.costAfterMicros)}\n`);
  });
  io.out(`${JSON.stringify({ tenant: tenantId, from: iso(fromMs), to: iso(toMs), days: totals.days, spans: totals.read, changed: totals.changed, unpriced: totals.unpriced, costBeforeMicros: String(totals.costBeforeMicros), costAfterMicros: String(totals.costAfterMicros) })}\n`);
  return 0;
}

/** Exact dollars from micro-USD, for people. */
function usd(micros: bigint): string {
  return `$${micros / 1_000_000n}.${String(micros % 1_000_000n).padStart(6, '0')}`;
}

// Run as a program (not when imported by a test).
if ((process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) || process.env.FUSEBOX_CLI_SHIM === '1') {
  const store = await openConfiguredStore(loadConfig());
  let code: number;
  try {
    code = await runCli(process.argv.slice(2), store, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
      env: process.env,
      now: Date.now,
    });
  } finally {
    await store.close();
  }
  process.exitCode = code;
}
