/**
 * The REST API of Confluent's Schema Registry, the subset its clients and CI tools call
 * (docs/registry.md lists it), as a Fastify plugin over the registry service: the
 * stand-alone server (server.ts) mounts it at the root, a larger server may mount it too.
 * Requests are JSON whatever their content type says (Confluent's
 * `application/vnd.schemaregistry.v1+json`, `application/vnd.schemaregistry+json`,
 * `application/json`, or none); answers are `application/vnd.schemaregistry.v1+json`;
 * errors are `{"error_code", "message"}` with Confluent's codes and statuses.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TributaryError } from '../../core/errors.ts';
import { errorCodeOf, httpStatus, registryError } from './errors.ts';
import { parseVersion, type RegistryService, type SchemaRequest } from './service.ts';

export const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

type Req = FastifyRequest<{
  Params: Record<string, string>;
  Querystring: Record<string, string | undefined>;
  Body: unknown;
}>;

/** Query flags as clients send them: `true`, `True` (Python), `1`. */
function flag(req: Req, name: string): boolean {
  const v = req.query[name];
  return v !== undefined && /^(true|1)$/i.test(v);
}

function body(req: Req): SchemaRequest & Record<string, unknown> {
  const b = req.body;
  return b !== null && typeof b === 'object' && !Array.isArray(b)
    ? (b as SchemaRequest & Record<string, unknown>)
    : {};
}

function schemaId(req: Req): number {
  const text = req.params.id;
  return /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
}

/** Sends schema text as the JSON it is (the `/schema` endpoints answer the schema itself). */
function raw(reply: FastifyReply, text: string): FastifyReply {
  return reply.type(CONTENT_TYPE).send(text);
}

export function registryRoutes(service: RegistryService) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, text, done) => {
      if (text === '') return done(null, undefined);
      try {
        done(null, JSON.parse(text as string));
      } catch (err) {
        const e = new Error(`the request body is not JSON: ${(err as Error).message}`) as FastifyError;
        e.statusCode = 400;
        done(e, undefined);
      }
    });
    app.addHook('onRequest', async (_req, reply) => {
      reply.type(CONTENT_TYPE);
    });
    app.setErrorHandler((err: FastifyError, _req, reply) => {
      reply.type(CONTENT_TYPE);
      const code = errorCodeOf(err);
      if (code !== undefined) {
        return reply.code(httpStatus(code)).send({ error_code: code, message: err.message });
      }
      if (err instanceof TributaryError && err.domain === 'external') {
        return reply
          .code(500)
          .send({ error_code: 50001, message: `Error in the backend data store: ${err.message}` });
      }
      const status = typeof err.statusCode === 'number' && err.statusCode < 500 ? err.statusCode : 500;
      return reply.code(status).send({ error_code: status, message: err.message });
    });

    app.get('/', async () => ({}));
    app.get('/schemas/types', async () => ['AVRO']);
    app.get('/contexts', async () => ['.']);

    app.get('/schemas/ids/:id', async (req: Req) => {
      const id = schemaId(req);
      const schema = await service.fresh(() => service.schemaById(id));
      return flag(req, 'fetchMaxId') ? { schema, maxId: service.maxId() } : { schema };
    });
    app.get('/schemas/ids/:id/schema', async (req: Req, reply) => {
      const id = schemaId(req);
      return raw(reply, await service.fresh(() => service.schemaById(id)));
    });
    app.get('/schemas/ids/:id/versions', async (req: Req) => {
      const id = schemaId(req);
      return service.fresh(() => service.versionsOfId(id, flag(req, 'deleted')));
    });
    app.get('/schemas/ids/:id/subjects', async (req: Req) => {
      const id = schemaId(req);
      const pairs = await service.fresh(() => service.versionsOfId(id, flag(req, 'deleted')));
      return [...new Set(pairs.map((p) => p.subject))];
    });

    app.get('/subjects', async (req: Req) =>
      service.subjects(flag(req, 'deleted'), req.query.subjectPrefix ?? ''),
    );
    app.get('/subjects/:subject/versions', async (req: Req) =>
      service.fresh(() => service.versions(req.params.subject, flag(req, 'deleted'))),
    );
    app.get('/subjects/:subject/versions/:version', async (req: Req) => {
      const ref = parseVersion(req.params.version);
      return service.fresh(() => service.version(req.params.subject, ref, flag(req, 'deleted')));
    });
    app.get('/subjects/:subject/versions/:version/schema', async (req: Req, reply) => {
      const ref = parseVersion(req.params.version);
      const v = await service.fresh(() => service.version(req.params.subject, ref, flag(req, 'deleted')));
      return raw(reply, v.schema);
    });
    app.get('/subjects/:subject/versions/:version/referencedby', async (req: Req) => {
      const ref = parseVersion(req.params.version);
      await service.fresh(() => service.version(req.params.subject, ref, true));
      return [];
    });
    app.post('/subjects/:subject/versions', async (req: Req) => {
      const v = await service.register(req.params.subject, body(req));
      return { id: v.id };
    });
    app.post('/subjects/:subject', async (req: Req) =>
      service.fresh(() => service.lookup(req.params.subject, body(req), flag(req, 'deleted'))),
    );
    app.delete('/subjects/:subject', async (req: Req) =>
      service.deleteSubject(req.params.subject, flag(req, 'permanent')),
    );
    app.delete('/subjects/:subject/versions/:version', async (req: Req) =>
      service.deleteVersion(req.params.subject, parseVersion(req.params.version), flag(req, 'permanent')),
    );

    app.post('/compatibility/subjects/:subject/versions/:version', async (req: Req) => {
      const ref = parseVersion(req.params.version);
      const answer = await service.fresh(() =>
        service.checkCompatibility(req.params.subject, ref, body(req)),
      );
      return compatibilityAnswer(answer, flag(req, 'verbose'));
    });
    app.post('/compatibility/subjects/:subject/versions', async (req: Req) => {
      const answer = service.checkCompatibility(req.params.subject, undefined, body(req));
      return compatibilityAnswer(answer, flag(req, 'verbose'));
    });

    app.get('/config', async () => ({ compatibilityLevel: service.globalCompatibility() }));
    app.put('/config', async (req: Req) => ({
      compatibility: await service.setCompatibility(null, body(req).compatibility),
    }));
    app.delete('/config', async () => ({ compatibilityLevel: await service.deleteCompatibility(null) }));
    app.get('/config/:subject', async (req: Req) => ({
      compatibilityLevel: await service.fresh(() =>
        service.subjectCompatibility(req.params.subject, flag(req, 'defaultToGlobal')),
      ),
    }));
    app.put('/config/:subject', async (req: Req) => ({
      compatibility: await service.setCompatibility(req.params.subject, body(req).compatibility),
    }));
    app.delete('/config/:subject', async (req: Req) => ({
      compatibilityLevel: await service.deleteCompatibility(req.params.subject),
    }));

    // Only READWRITE: this registry has no import mode and no read-only mode yet.
    app.get('/mode', async () => ({ mode: 'READWRITE' }));
    app.get('/mode/:subject', async () => ({ mode: 'READWRITE' }));
    const putMode = async (req: Req) => {
      const mode = body(req).mode;
      if (typeof mode === 'string' && mode.toUpperCase() === 'READWRITE') return { mode: 'READWRITE' };
      throw invalidMode(mode);
    };
    app.put('/mode', putMode);
    app.put('/mode/:subject', putMode);
  };
}

function compatibilityAnswer(answer: { is_compatible: boolean; messages: string[] }, verbose: boolean) {
  return verbose ? answer : { is_compatible: answer.is_compatible };
}

function invalidMode(mode: unknown) {
  return registryError(
    42204,
    `Invalid mode ${JSON.stringify(mode ?? null)}: this registry runs in READWRITE mode only (no IMPORT or READONLY yet)`,
  );
}
