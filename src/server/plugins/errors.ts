/**
 * Every error the API answers, as `{ statusCode, code, message, field? }` with the error
 * catalog's code (http-errors.ts decides the status). Server errors are logged with
 * their detail; their answer says only that the server failed.
 */
import { isTributaryError } from '../../core/errors.ts';
import { errorBody } from '../http-errors.ts';
import { shared } from './shared.ts';

export interface ErrorsOptions {
  log: (line: string) => void;
  verbose: boolean;
}

export const errorsPlugin = shared<ErrorsOptions>('tributary-errors', async (app, opts) => {
  app.setErrorHandler((err, req, reply) => {
    const body = errorBody(err);
    if (body.statusCode >= 500 && !(isTributaryError(err) && err.retryable)) {
      const detail =
        opts.verbose || !isTributaryError(err)
          ? ((err as Error).stack ?? String(err))
          : (err as Error).message;
      opts.log(`error: ${req.method} ${req.url}: ${detail}`);
    }
    const retryAfter = isTributaryError(err) ? err.details.retryAfterSeconds : undefined;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    return reply.code(body.statusCode).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      statusCode: 404,
      code: 'HTTP_NOT_FOUND',
      message: `no route ${req.method} ${req.url.split('?')[0]}; the routes are listed at /docs`,
    }),
  );
});
