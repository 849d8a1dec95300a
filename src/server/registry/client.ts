/**
 * The SchemaRegistryClient (src/connectors/avro/registry-client.ts) over a registry in
 * this process: no HTTP, the same store and rules as the REST API, so a pipeline or a
 * generator running with the embedded registry registers and looks up schemas directly.
 * Errors are the registry's TributaryErrors: SCHEMA_NOT_FOUND, SCHEMA_INCOMPATIBLE,
 * SCHEMA_INVALID, REGISTRY_UNAVAILABLE (the store failed).
 */
import type { RegisteredSchema, SchemaRegistryClient } from '../../connectors/avro/registry-client.ts';
import { errorCodeOf } from './errors.ts';
import type { RegistryService } from './service.ts';

export class InProcessRegistryClient implements SchemaRegistryClient {
  private readonly service: RegistryService;

  constructor(service: RegistryService) {
    this.service = service;
  }

  schemaById(id: number): Promise<string> {
    return this.service.fresh(() => this.service.schemaById(id));
  }

  async register(subject: string, schema: string): Promise<number> {
    return (await this.service.register(subject, { schema })).id;
  }

  async latest(subject: string): Promise<RegisteredSchema | undefined> {
    try {
      const v = await this.service.fresh(() => this.service.version(subject, 'latest'));
      return { id: v.id, version: v.version, schema: v.schema };
    } catch (err) {
      const code = errorCodeOf(err);
      if (code === 40401 || code === 40402) return undefined;
      throw err;
    }
  }
}
