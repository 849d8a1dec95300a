/**
 * Request logging: quiet by default (server errors only, from plugins/errors.ts), one
 * line per request with `verbose`: method, path, status, time and who asked. Tokens and
 * bodies are never logged.
 */
import { shared } from './shared.ts';

export interface RequestLogOptions {
  log: (line: string) => void;
  verbose: boolean;
}

export const requestLogPlugin = shared<RequestLogOptions>('tributary-request-log', async (app, opts) => {
  if (!opts.verbose) return;
  app.addHook('onResponse', async (req, reply) => {
    const who = req.principal ? ` ${req.principal.subject}(${req.principal.role})` : '';
    opts.log(
      `${new Date().toISOString()} ${req.method} ${req.url} ${reply.statusCode} ${reply.elapsedTime.toFixed(1)}ms${who}`,
    );
  });
});
