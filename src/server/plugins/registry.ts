/**
 * The schema registry's REST API (src/server/registry/routes.ts) mounted in the serving
 * layer's server, under `/registry` by default, behind its auth: reading schemas needs
 * reader, registering and changing the configuration writer, deleting admin. Its
 * answers keep Confluent's format (errors `{ error_code, message }`), so Confluent's
 * clients pointed at `<url>/registry` work, given a token.
 */

import type { Role } from '../auth/roles.ts';
import type { ServerPlugin } from '../options.ts';
import { registryRoutes } from '../registry/routes.ts';
import type { RegistryService } from '../registry/service.ts';
import { setRouteRole } from './auth.ts';

function roleFor(method: string | string[]): Role {
  const methods = (Array.isArray(method) ? method : [method]).map((m) => m.toUpperCase());
  if (methods.includes('DELETE')) return 'admin';
  if (methods.every((m) => m === 'GET' || m === 'HEAD')) return 'reader';
  return 'writer';
}

export function registryPlugin(service: RegistryService, prefix = '/registry'): ServerPlugin {
  return {
    name: 'schema-registry',
    prefix,
    async register(app) {
      app.addHook('onRoute', (route) => {
        setRouteRole(route, roleFor(route.method));
        const schema = route.schema as Record<string, unknown>;
        schema.tags = ['schema registry'];
      });
      await app.register(registryRoutes(service));
    },
  };
}
