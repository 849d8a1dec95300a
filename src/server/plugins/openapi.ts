/**
 * The OpenAPI 3 document, generated from the routes' schemas (@fastify/swagger), at
 * `/openapi.json`, and the interactive page at `/docs` (@fastify/swagger-ui). The page's
 * scripts and styles are served by this server from the package's own files: it works
 * with no network, and its Content-Security-Policy allows nothing from elsewhere.
 *
 * Register it before the routes: it documents the routes added after it.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { ERROR_SCHEMA } from '../http-errors.ts';
import { SECURITY_SCHEME } from './auth.ts';
import { shared } from './shared.ts';

export const DOCS_PREFIX = '/docs';
export const OPENAPI_PATH = '/openapi.json';

export interface OpenApiOptions {
  version: string;
}

export const openapiPlugin = shared<OpenApiOptions>('tributary-openapi', async (app, opts) => {
  app.addSchema({ $id: 'Error', ...ERROR_SCHEMA });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tributary',
        version: opts.version,
        description:
          'The HTTP API of a Tributary lake: its tables (schema, history, files, rows with time travel), ' +
          'and the probes. Errors answer `{ statusCode, code, message, field? }` with the codes of docs/errors.md. ' +
          'Routes other than the probes and these docs need a bearer token (JWT) whose role is at least the one each route names.',
      },
      components: {
        securitySchemes: {
          [SECURITY_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description:
              'A JWT with a role (reader, writer, admin) in its roles claim: `tributary token create --role reader`.',
          },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { docExpansion: 'list', deepLinking: false, validatorUrl: null },
    staticCSP: true,
    // Nothing from elsewhere: no web fonts, no online validator badge.
    transformStaticCSP: (header: string) =>
      header
        .replace(/ https:/g, '')
        .replace(/ validator\.swagger\.io/g, '')
        .replace(' upgrade-insecure-requests;', ''),
  });
  app.get(OPENAPI_PATH, { schema: { hide: true }, config: { public: true } }, async () => app.swagger());
});
