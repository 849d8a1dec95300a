/**
 * `tributary registry`: serves the schema registry (Confluent's REST API, Avro) over the
 * event log until Ctrl-C or SIGTERM, then stops gracefully: requests under way finish,
 * the store stops reading its topic, the log is closed. docs/registry.md.
 */
import { TributaryError } from '../../core/errors.ts';
import { createRegistryServer } from '../../server/registry/server.ts';
import { DEFAULT_TOPIC } from '../../server/registry/store.ts';
import { intOption, LOG_OPTIONS, LOG_OPTIONS_USAGE, openLogFromArgs } from './log-args.ts';
import { parseCommand } from './options.ts';
import { onStopSignals } from './stop-signals.ts';

const USAGE = `usage: tributary registry [options]

Serves a schema registry that Confluent's clients and serializers use unchanged
(Avro; docs/registry.md). Its schemas live in a topic of the log, so they survive
restarts and several registries on one log share them. Runs until Ctrl-C.

options:
  --port N           the port to listen on (default 8081; 0 picks a free one)
  --host H           the address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --topic T          the topic holding the registry's schemas (default ${DEFAULT_TOPIC})

${LOG_OPTIONS_USAGE}`;

const OPTIONS = {
  ...LOG_OPTIONS,
  port: { type: 'string' },
  host: { type: 'string' },
  topic: { type: 'string' },
} as const;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, args);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 0) {
    console.error(`tributary registry: unexpected argument '${positionals[0]}'\n\n${USAGE}`);
    return 2;
  }
  const port = intOption('port', values.port, 0) ?? 8081;
  if (port > 65535) {
    throw new TributaryError('CONFIG_INVALID', `--port must be at most 65535, got ${port}`, {
      option: 'port',
    });
  }
  const log = await openLogFromArgs(values);
  try {
    const server = createRegistryServer({ log, host: values.host, port, topic: values.topic });
    const url = await server.start();
    const { service } = server.registry;
    console.log(`schema registry at ${url}`);
    console.log(
      `schemas in topic '${service.store.topic}' of ${log.description}: ${service.subjects(false).length} subjects, ${service.store.state.schemas.size} schemas; Ctrl-C stops it`,
    );
    await new Promise<void>((resolve) => {
      const remove = onStopSignals(() => {
        console.error('stopping: answering the requests under way');
        void server.stop().finally(() => {
          remove();
          resolve();
        });
      });
    });
    return 0;
  } finally {
    await log.close();
  }
}
