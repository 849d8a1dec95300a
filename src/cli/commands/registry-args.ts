/**
 * Where a command finds its schema registry (Avro topics, docs/avro.md): `--registry URL`
 * or $TRIBUTARY_REGISTRY, any registry speaking Confluent's REST API (ours: `tributary
 * registry`); without one, the embedded registry: the registry's store over the
 * command's own log (topic `_schemas`), opened in this process when first asked, so
 * `tributary generate sales` and `tributary run` on one data directory (or one Kafka)
 * share schemas without a server (docs/registry.md).
 */
import { HttpSchemaRegistryClient } from '../../connectors/avro/http-registry.ts';
import type { RegisteredSchema, SchemaRegistryClient } from '../../connectors/avro/registry-client.ts';
import type { Log } from '../../log/log.ts';
import { openRegistry, type Registry } from '../../server/registry/server.ts';

export const REGISTRY_OPTIONS = { registry: { type: 'string' } } as const;

export const REGISTRY_OPTIONS_USAGE = `schema registry (Avro topics, docs/avro.md):
  --registry URL     a schema registry speaking Confluent's REST API, e.g. http://localhost:8081
                     (default: $TRIBUTARY_REGISTRY, else the embedded registry in the log's
                     topic _schemas); user and password may be given in the URL`;

/** The registry given on the command line or in $TRIBUTARY_REGISTRY, or undefined. */
export function registryFromArgs(values: { registry?: string }): HttpSchemaRegistryClient | undefined {
  const url = values.registry ?? process.env.TRIBUTARY_REGISTRY;
  return url ? new HttpSchemaRegistryClient(url) : undefined;
}

export interface OpenedRegistry {
  client: SchemaRegistryClient;
  /** `http://...` or `embedded (topic _schemas of <log>)`. */
  describe: string;
  /** Stops the embedded registry if it was opened (the log stays open: the caller's). */
  close(): Promise<void>;
}

/** The named registry, else the embedded one over `log`, opened on first use. */
export function registryOrEmbedded(values: { registry?: string }, log: Log): OpenedRegistry {
  const named = registryFromArgs(values);
  if (named) {
    return {
      client: named,
      describe: named.description,
      close: async () => {},
    };
  }
  const embedded = new EmbeddedRegistryClient(log);
  return {
    client: embedded,
    describe: `the embedded registry (topic _schemas of ${log.description})`,
    close: () => embedded.close(),
  };
}

/** The in-process registry over a log, opened when first asked (a run without Avro never creates `_schemas`). */
class EmbeddedRegistryClient implements SchemaRegistryClient {
  private readonly log: Log;
  private opening?: Promise<Registry>;

  constructor(log: Log) {
    this.log = log;
  }

  private registry(): Promise<Registry> {
    this.opening ??= openRegistry({ log: this.log });
    return this.opening;
  }

  async schemaById(id: number): Promise<string> {
    return (await this.registry()).client.schemaById(id);
  }

  async register(subject: string, schema: string): Promise<number> {
    return (await this.registry()).client.register(subject, schema);
  }

  async latest(subject: string): Promise<RegisteredSchema | undefined> {
    return (await this.registry()).client.latest(subject);
  }

  async close(): Promise<void> {
    if (this.opening) await (await this.opening).close();
  }
}
