/**
 * A sandbox worker process (started by sandbox-pool.ts with an IPC channel): runs the
 * queries it is sent, one at a time, in this process, and answers with the result or
 * the error's code, message and details. It ends when its parent goes away.
 *
 * Messages in:  { id, opts: SandboxedQueryOptions }
 * Messages out: { ready: true, rss } once loaded; then { id, result } or { id, error }
 */
import { isTributaryError } from '../core/errors.ts';
import { runInProcess, type SandboxedQueryOptions } from './sandbox-run.ts';

interface Request {
  id: number;
  opts: SandboxedQueryOptions;
}

function send(message: unknown): void {
  process.send?.(message);
}

if (process.send === undefined) {
  process.stderr.write('sandbox-worker: start me with an IPC channel (sandbox-pool.ts does)\n');
  process.exit(2);
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message: Request) => {
  runInProcess(message.opts).then(
    (result) => send({ id: message.id, result }),
    (err: unknown) => {
      const error = isTributaryError(err)
        ? { code: err.code, message: err.message, details: err.details }
        : { code: 'INTERNAL', message: (err as Error)?.message ?? String(err), details: {} };
      send({ id: message.id, error });
    },
  );
});
send({ ready: true });
