/**
 * Bearer token verification with jose. Two kinds of tokens, told apart by the `alg` of
 * their header and each checked only with the keys of its kind, so one can never pass
 * for the other (no algorithm confusion):
 *
 * - HS256, signed with the server's secret (`tributary token create`, or any tool that
 *   has the secret);
 * - RS256 and ES256, signed by an identity provider whose public keys are at a JWKS URL;
 *   their issuer and audience are checked against the configured ones.
 *
 * Every token must carry an expiry (`exp`). Unsigned tokens (`alg: none`) are refused,
 * as is any other algorithm.
 */
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { TributaryError } from '../../core/errors.ts';
import { DEFAULT_ROLES_CLAIM, type Role, roleOf } from './roles.ts';

export interface Principal {
  /** The token's `sub`, or `(no subject)`. */
  subject: string;
  role: Role;
}

export interface TokenVerifier {
  /** The principal a token stands for; AUTH_TOKEN_INVALID, AUTH_FORBIDDEN or AUTH_KEYS_UNAVAILABLE otherwise. */
  verify(token: string): Promise<Principal>;
  /** How tokens are checked, for the start-up message (`HS256 (secret from ...)`, `RS256/ES256 (JWKS ...)`). */
  readonly description: string;
}

export interface VerifierOptions {
  /** The HS256 key: the UTF-8 bytes of the secret text. */
  secret?: Uint8Array;
  /** Where the secret came from, for messages. */
  secretSource?: string;
  /** The identity provider's JWKS URL (RS256/ES256 tokens). */
  jwksUrl?: string;
  /** Required with jwksUrl: the `iss` its tokens must carry. */
  issuer?: string;
  /** Required with jwksUrl: an `aud` its tokens must carry. */
  audience?: string;
  /** The claim holding the roles (default `roles`). */
  rolesClaim?: string;
  /** Seconds of clock skew allowed on `exp` and `nbf` (default 30). */
  clockToleranceSec?: number;
}

const ASYMMETRIC = ['RS256', 'ES256'];

function invalid(message: string, cause?: unknown): TributaryError {
  return new TributaryError('AUTH_TOKEN_INVALID', message, {}, cause);
}

/** jose's failures as the messages a client can act on. */
function explain(err: unknown, kind: string): TributaryError {
  if (err instanceof TributaryError) return err;
  if (!(err instanceof joseErrors.JOSEError)) {
    return new TributaryError(
      'AUTH_KEYS_UNAVAILABLE',
      `the token's keys could not be fetched from the JWKS URL (${(err as Error).message}); try again, and check that the identity provider is reachable from the server`,
      {},
      err,
    );
  }
  switch (err.code) {
    case 'ERR_JWT_EXPIRED':
      return invalid('the token has expired: get a new one', err);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalid(`the token's signature does not verify with this server's ${kind}`, err);
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const e = err as joseErrors.JWTClaimValidationFailed;
      if (e.claim === 'nbf') return invalid('the token is not valid yet (nbf is in the future)', err);
      if (e.claim === 'exp') return invalid('the token has no expiry (exp); tokens must expire', err);
      return invalid(`the token's '${e.claim}' claim is refused: ${e.message}`, err);
    }
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return invalid("no key at the JWKS URL matches the token's kid and algorithm", err);
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return new TributaryError(
        'AUTH_KEYS_UNAVAILABLE',
        `the JWKS URL did not answer with keys (${err.message}); try again`,
        {},
        err,
      );
    default:
      return invalid(`the token is malformed: ${err.message}`, err);
  }
}

export function createVerifier(opts: VerifierOptions): TokenVerifier {
  if (opts.secret === undefined && opts.jwksUrl === undefined) {
    throw new TributaryError(
      'CONFIG_INVALID',
      'token verification needs a secret (HS256) or a JWKS URL (RS256/ES256)',
    );
  }
  let jwks: JWTVerifyGetKey | undefined;
  if (opts.jwksUrl !== undefined) {
    if (!opts.issuer || !opts.audience) {
      throw new TributaryError(
        'CONFIG_INVALID',
        '--jwks-url needs --jwt-issuer and --jwt-audience: without them a token your identity provider issued for any other application would be taken',
        { jwksUrl: opts.jwksUrl },
      );
    }
    let url: URL;
    try {
      url = new URL(opts.jwksUrl);
    } catch {
      throw new TributaryError('CONFIG_INVALID', `--jwks-url '${opts.jwksUrl}' is not a URL`, {});
    }
    jwks = createRemoteJWKSet(url, { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  }
  const clockTolerance = opts.clockToleranceSec ?? 30;
  const rolesClaim = opts.rolesClaim ?? DEFAULT_ROLES_CLAIM;
  const accepted = [...(opts.secret ? ['HS256'] : []), ...(jwks ? ASYMMETRIC : [])];
  const parts: string[] = [];
  if (opts.secret) parts.push(`HS256 (secret from ${opts.secretSource ?? 'the configuration'})`);
  if (jwks)
    parts.push(`RS256/ES256 (keys from ${opts.jwksUrl}, issuer ${opts.issuer}, audience ${opts.audience})`);

  async function payloadOf(token: string): Promise<JWTPayload> {
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
      throw invalid('the token is not a JWT (three base64url parts separated by dots)');
    }
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch (err) {
      throw invalid(`the token's header is not readable: ${(err as Error).message}`, err);
    }
    if (typeof alg !== 'string' || alg.toLowerCase() === 'none') {
      throw invalid('unsigned tokens (alg none) are refused');
    }
    if (!accepted.includes(alg)) {
      throw invalid(`tokens signed with ${alg} are refused; this server takes ${accepted.join(', ')}`);
    }
    try {
      if (alg === 'HS256') {
        const out = await jwtVerify(token, opts.secret!, {
          algorithms: ['HS256'],
          clockTolerance,
          requiredClaims: ['exp'],
        });
        return out.payload;
      }
      const out = await jwtVerify(token, jwks!, {
        algorithms: ASYMMETRIC,
        clockTolerance,
        requiredClaims: ['exp'],
        issuer: opts.issuer,
        audience: opts.audience,
      });
      return out.payload;
    } catch (err) {
      throw explain(err, alg === 'HS256' ? 'secret' : 'JWKS keys');
    }
  }

  return {
    description: parts.join('; '),
    async verify(token) {
      const payload = await payloadOf(token);
      const role = roleOf(payload as Record<string, unknown>, rolesClaim);
      const subject = typeof payload.sub === 'string' ? payload.sub : '(no subject)';
      if (role === undefined) {
        throw new TributaryError(
          'AUTH_FORBIDDEN',
          `the token of ${subject} has no role in its '${rolesClaim}' claim: give it reader, writer or admin`,
          { subject },
        );
      }
      return { subject, role };
    },
  };
}
