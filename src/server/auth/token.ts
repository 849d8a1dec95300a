/** Tokens signed with the local secret (`tributary token create`). */
import { SignJWT } from 'jose';
import { TributaryError } from '../../core/errors.ts';
import type { Role } from './roles.ts';

export const LOCAL_ISSUER = 'tributary';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `30m`, `1h`, `7d` → seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d+)\s*([smhd])$/i.exec(text.trim());
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2].toLowerCase()] : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `--ttl '${text}' is not a duration: write a whole number with s, m, h or d (90s, 30m, 1h, 7d)`,
      { ttl: text },
    );
  }
  return seconds;
}

export interface CreateTokenOptions {
  key: Uint8Array;
  role: Role;
  ttlSeconds: number;
  subject?: string;
  /** Seconds since the epoch (default now). */
  now?: number;
}

/** An HS256 JWT: `sub`, `roles: [role]`, `iss: tributary`, `iat`, `exp`. */
export async function createToken(opts: CreateTokenOptions): Promise<{ token: string; expiresAt: Date }> {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const exp = now + opts.ttlSeconds;
  const token = await new SignJWT({ roles: [opts.role] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.subject ?? 'tributary')
    .setIssuer(LOCAL_ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(opts.key);
  return { token, expiresAt: new Date(exp * 1000) };
}
