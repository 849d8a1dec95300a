/**
 * Roles, each allowing what the one before it does and more:
 *
 *   reader  tables, rows, SQL, status
 *   writer  + ingest
 *   admin   + jobs, maintenance
 *
 * A token carries its roles in a claim (`roles` unless configured otherwise: a string or
 * an array of strings; a dotted path such as `realm_access.roles` reaches a nested one).
 * Values other than the three names are ignored; the highest of the three counts.
 */
export const ROLES = ['reader', 'writer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const DEFAULT_ROLES_CLAIM = 'roles';

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** True when a principal with role `have` may call a route that needs `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** The claim's value at a dotted path, e.g. `realm_access.roles`. */
function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path];
  let at: unknown = claims;
  for (const part of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** The highest role a token's claims give, or undefined when they give none. */
export function roleOf(claims: Record<string, unknown>, claimPath = DEFAULT_ROLES_CLAIM): Role | undefined {
  const value = claimAt(claims, claimPath);
  const values = Array.isArray(value) ? value : [value];
  let best: Role | undefined;
  for (const v of values) {
    if (isRole(v) && (best === undefined || roleAllows(v, best))) best = v;
  }
  return best;
}
