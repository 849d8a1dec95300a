/** The options that say how the server checks tokens, shared by `serve` and `token`. */
import { TributaryError } from '../../core/errors.ts';
import { loadSecret } from '../../server/auth/secret.ts';
import { createVerifier } from '../../server/auth/verify.ts';
import type { AuthOptions } from '../../server/options.ts';

export const AUTH_OPTIONS = {
  'no-auth': { type: 'boolean' },
  'jwt-secret': { type: 'string' },
  'jwks-url': { type: 'string' },
  'jwt-issuer': { type: 'string' },
  'jwt-audience': { type: 'string' },
  'jwt-roles-claim': { type: 'string' },
} as const;

export const AUTH_USAGE = `authentication (docs/serving.md):
  --jwt-secret S       the HS256 secret (or $TRIBUTARY_JWT_SECRET; default: the file
                       <data-dir>/server/jwt-secret, generated on first use)
  --jwks-url URL       also take RS256/ES256 tokens signed by the keys at this JWKS URL
  --jwt-issuer ISS     the issuer those tokens must name (required with --jwks-url)
  --jwt-audience AUD   the audience those tokens must name (required with --jwks-url)
  --jwt-roles-claim C  the claim holding the roles (default roles; dotted for nested)
  --no-auth            no tokens at all: refused unless --host is a loopback address`;

export interface AuthValues {
  'no-auth'?: boolean;
  'jwt-secret'?: string;
  'jwks-url'?: string;
  'jwt-issuer'?: string;
  'jwt-audience'?: string;
  'jwt-roles-claim'?: string;
}

/**
 * How the server authenticates: `--no-auth`, or tokens checked with the secret and/or
 * the JWKS URL. Without --jwks-url the secret file is generated when missing; with it,
 * HS256 tokens are taken only when a secret is given or the file exists.
 */
export async function authFromArgs(values: AuthValues, dataDir: string): Promise<AuthOptions> {
  if (values['no-auth']) {
    const given = (['jwt-secret', 'jwks-url', 'jwt-issuer', 'jwt-audience'] as const).filter(
      (o) => values[o] !== undefined,
    );
    if (given.length > 0) {
      throw new TributaryError('CONFIG_INVALID', `--no-auth cannot go with --${given.join(', --')}`, {});
    }
    return { mode: 'none' };
  }
  const secret = await loadSecret({
    explicit: values['jwt-secret'],
    dataDir,
    create: values['jwks-url'] === undefined,
  });
  const verifier = createVerifier({
    secret: secret?.key,
    secretSource: secret?.source,
    jwksUrl: values['jwks-url'],
    issuer: values['jwt-issuer'],
    audience: values['jwt-audience'],
    rolesClaim: values['jwt-roles-claim'],
  });
  return { mode: 'jwt', verifier };
}
