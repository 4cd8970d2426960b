/**
 * Roles and what each may do: the whole authorization policy of the API in one table. Routes
 * name the permission they need; a key's role either grants it or the request is refused 403.
 */
export const PERMISSIONS = [
  'spans:ingest', // agents sending spans over HTTP (the gateway, issue 5)
  'runs:read', // runs, spans, causal graphs
  'breakers:read', // trips and open breakers
  'breakers:control', // halt and reset a run, tree or agent
  'reports:read', // cost reports
  'ledgers:read', // a tree's live budget ledger
  'registry:read', // the agent registry and its history
  'registry:write', // register agents, change them, move their lifecycle, suspend and resume
  'policies:read', // policies and their versions
  'policies:write', // create, change and disable policies
  'prices:read', // model prices in effect and the tenant's price overrides
  'prices:write', // set and remove price overrides
  'keys:manage', // create, list and revoke API keys
  'audit:read', // the tenant's access log
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ['agent', 'sre', 'finance', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = Object.freeze({
  agent: ['spans:ingest'],
  sre: ['runs:read', 'breakers:read', 'breakers:control', 'registry:read', 'policies:read', 'prices:read'],
  finance: ['reports:read', 'ledgers:read', 'prices:read'],
  admin: PERMISSIONS,
});

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function roleGrants(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}
