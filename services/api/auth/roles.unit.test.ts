import { describe, expect, it } from 'vitest';
import { PERMISSIONS, ROLE_PERMISSIONS, ROLES, isRole, roleGrants, type Permission, type Role } from './roles.js';

/** The policy as a table a reviewer can read: what each role may do, and nothing else. */
const EXPECTED: Record<Role, Permission[]> = {
  agent: ['spans:ingest'],
  sre: ['runs:read', 'breakers:read', 'breakers:control', 'registry:read', 'policies:read', 'prices:read'],
  finance: ['reports:read', 'ledgers:read', 'prices:read'],
  admin: [...PERMISSIONS],
};

describe('roles', () => {
  for (const role of ROLES) {
    for (const permission of PERMISSIONS) {
      const granted = EXPECTED[role].includes(permission);
      it(`${role} ${granted ? 'may' : 'may not'} ${permission}`, () => {
        expect(roleGrants(role, permission)).toBe(granted);
      });
    }
  }

  it('grants every permission to some role, and the admin all of them', () => {
    expect(new Set(Object.values(ROLE_PERMISSIONS).flat())).toEqual(new Set(PERMISSIONS));
    expect(ROLE_PERMISSIONS.admin).toEqual(PERMISSIONS);
  });

  it('knows its roles and nothing else', () => {
    expect(ROLES.every(isRole)).toBe(true);
    expect(isRole('root')).toBe(false);
    expect(isRole('Admin')).toBe(false);
  });
});
