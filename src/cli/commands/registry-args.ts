/** The schema registry option of the commands that read or write Avro topics. */
import { HttpSchemaRegistryClient } from '../../connectors/avro/http-registry.ts';
import type { SchemaRegistryClient } from '../../connectors/avro/registry-client.ts';

export const REGISTRY_OPTIONS = { registry: { type: 'string' } } as const;

export const REGISTRY_OPTIONS_USAGE = `schema registry (Avro topics, docs/avro.md):
  --registry URL     a schema registry speaking Confluent's REST API, e.g. http://localhost:8081
                     (default: $TRIBUTARY_REGISTRY); user and password may be given in the URL`;

/**
 * The registry given on the command line or in $TRIBUTARY_REGISTRY, or undefined. Where
 * none is given, the embedded registry (over the data directory's log) is the one to
 * open here; until then a pipeline that needs one says so (compile.ts).
 */
export function registryFromArgs(values: { registry?: string }): SchemaRegistryClient | undefined {
  const url = values.registry ?? process.env.TRIBUTARY_REGISTRY;
  return url ? new HttpSchemaRegistryClient(url) : undefined;
}
