/**
 * A Fastify plugin whose hooks, handlers and decorators apply to the instance that
 * registers it rather than to a context of its own: what Fastify's `skip-override`
 * symbol asks for (the mechanism behind fastify-plugin). The cross-cutting plugins
 * (errors, auth, logging, OpenAPI) use it; route plugins stay encapsulated.
 */
import type { FastifyInstance } from 'fastify';

export type SharedPlugin<O> = ((app: FastifyInstance, opts: O) => Promise<void>) & {
  [key: symbol]: unknown;
};

export function shared<O>(
  name: string,
  fn: (app: FastifyInstance, opts: O) => Promise<void>,
): SharedPlugin<O> {
  const plugin = fn as SharedPlugin<O>;
  plugin[Symbol.for('skip-override')] = true;
  plugin[Symbol.for('fastify.display-name')] = name;
  return plugin;
}
