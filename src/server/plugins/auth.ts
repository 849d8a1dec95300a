/**
 * Who may call what. Every route says it in its config: `config: { role: 'reader' }`
 * (or writer, admin), or `config: { public: true }` for the probes and the docs. A route
 * that says neither needs `admin`, so a route added without thought is closed, not open.
 * Unknown paths answer 404 to anyone (the route list is public at /docs anyway).
 *
 * The role a route needs is also written into its OpenAPI entry (the bearer security
 * requirement and a line of its description), so the docs page says it.
 */
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { TributaryError } from '../../core/errors.ts';
import { type Role, roleAllows } from '../auth/roles.ts';
import type { Principal } from '../auth/verify.ts';
import { httpStatusOf } from '../http-errors.ts';
import type { AuthOptions } from '../options.ts';
import { shared } from './shared.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role that may call the route (default admin). */
    role?: Role;
    /** No token needed (probes, docs). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** Who the token says the caller is; set before the handler of a non-public route. */
    principal?: Principal;
  }
}

export const SECURITY_SCHEME = 'bearerAuth';

/** The principal of every request when the server runs with `--no-auth`. */
export const ANONYMOUS: Principal = { subject: 'anonymous', role: 'admin' };

export interface AuthPluginOptions {
  auth: AuthOptions;
  /** URL prefixes whose routes are public (the docs page and its assets). */
  publicPrefixes: string[];
}

function bearerToken(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (header === undefined || header === '') {
    throw new TributaryError(
      'AUTH_REQUIRED',
      'this route needs a bearer token: send the header "Authorization: Bearer <token>" (tributary token create --role reader makes one)',
    );
  }
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!m) {
    throw new TributaryError(
      'AUTH_TOKEN_INVALID',
      'the Authorization header is not "Bearer <token>" (one token, after the word Bearer and a space)',
    );
  }
  return m[1];
}

/** Writes the role (or none, for a public route) into a route's OpenAPI entry. */
export function documentRole(route: RouteOptions, role: Role | undefined): void {
  route.schema ??= {};
  const schema = route.schema as Record<string, unknown>;
  if (role === undefined) {
    schema.security = [];
    return;
  }
  schema.security = [{ [SECURITY_SCHEME]: [] }];
  const line = `Role: ${role} or above.`;
  const description = typeof schema.description === 'string' ? schema.description : '';
  if (!description.includes(line)) schema.description = description ? `${description}\n\n${line}` : line;
}

/**
 * Sets the role a route needs, from an `onRoute` hook of a plugin that mounts routes
 * written without roles (the schema registry's): its config and its OpenAPI entry.
 */
export function setRouteRole(route: RouteOptions, role: Role): void {
  route.config = { ...(route.config ?? {}), role };
  documentRole(route, role);
}

export const authPlugin = shared<AuthPluginOptions>('tributary-auth', async (app, opts) => {
  app.decorateRequest('principal', undefined);
  app.addHook('onRoute', (route) => {
    if (opts.publicPrefixes.some((p) => route.url.startsWith(p))) {
      route.config = { ...(route.config ?? {}), public: true };
    }
    if (route.config?.public === true) documentRole(route, undefined);
    else documentRole(route, route.config?.role ?? 'admin');
  });
  app.addHook('onRequest', async (req: FastifyRequest, _reply: FastifyReply) => {
    try {
      authorize(req, opts.auth);
      await authorizeToken(req, opts.auth);
    } catch (err) {
      // The status rides on the error too (Fastify's convention), for routes with an error
      // handler of their own (the schema registry answers in Confluent's format).
      if (err instanceof TributaryError) Object.assign(err, { statusCode: httpStatusOf(err.code) });
      throw err;
    }
  });
});

/** Routes that need no token, and the no-auth mode. */
function authorize(req: FastifyRequest, auth: AuthOptions): void {
  if (auth.mode === 'none' && req.routeOptions.url !== undefined) req.principal = ANONYMOUS;
}

async function authorizeToken(req: FastifyRequest, auth: AuthOptions): Promise<void> {
  const config = req.routeOptions.config;
  // No route matched: the not-found handler answers 404.
  if (req.routeOptions.url === undefined || config?.public === true || auth.mode === 'none') return;
  const need: Role = config?.role ?? 'admin';
  const principal = await auth.verifier.verify(bearerToken(req));
  if (!roleAllows(principal.role, need)) {
    throw new TributaryError(
      'AUTH_FORBIDDEN',
      `${req.method} ${req.routeOptions.url} needs the role ${need} or above; the token of ${principal.subject} has ${principal.role}`,
      { need, have: principal.role },
    );
  }
  req.principal = principal;
}
