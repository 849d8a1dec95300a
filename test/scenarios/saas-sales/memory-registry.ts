/**
 * A schema registry client over a map in memory, for the sales tests: global ids from 1,
 * idempotent registration (the same schema, compared as parsed JSON, gets its id back),
 * BACKWARD compatibility against the subject's latest version (compat.ts), as a
 * registry's default mode decides. Not a registry: the registry service and its HTTP
 * client are tested against Confluent's own clients elsewhere.
 */
import avro from 'avsc';
import { checkCompatibility } from '../../../src/connectors/avro/compat.ts';
import type { RegisteredSchema, SchemaRegistryClient } from '../../../src/connectors/avro/registry-client.ts';
import { TributaryError } from '../../../src/core/errors.ts';

export class MemoryRegistry implements SchemaRegistryClient {
  /** Schema texts by global id. */
  readonly byId = new Map<number, string>();
  private readonly subjects = new Map<string, number[]>();
  /** Calls of each method, for tests of who asks what. */
  readonly calls: Array<{ method: string; arg: string | number }> = [];

  async schemaById(id: number): Promise<string> {
    this.calls.push({ method: 'schemaById', arg: id });
    const text = this.byId.get(id);
    if (text === undefined) throw new TributaryError('SCHEMA_NOT_FOUND', `no schema has id ${id}`, { id });
    return text;
  }

  async register(subject: string, schema: string): Promise<number> {
    this.calls.push({ method: 'register', arg: subject });
    let parsed: unknown;
    try {
      parsed = JSON.parse(schema);
      avro.Type.forSchema(parsed as avro.Schema);
    } catch (err) {
      throw new TributaryError('SCHEMA_INVALID', `not an Avro schema: ${(err as Error).message}`, {
        subject,
      });
    }
    const canonical = JSON.stringify(parsed);
    const versions = this.subjects.get(subject) ?? [];
    for (const id of versions) if (JSON.stringify(JSON.parse(this.byId.get(id)!)) === canonical) return id;
    const previous = versions.map((id) => this.byId.get(id)!);
    const result = checkCompatibility('BACKWARD', schema, previous);
    if (!result.compatible) {
      throw new TributaryError('SCHEMA_INCOMPATIBLE', result.messages.join('; '), { subject });
    }
    const id = this.byId.size + 1;
    this.byId.set(id, schema);
    versions.push(id);
    this.subjects.set(subject, versions);
    return id;
  }

  async latest(subject: string): Promise<RegisteredSchema | undefined> {
    this.calls.push({ method: 'latest', arg: subject });
    const versions = this.subjects.get(subject);
    if (!versions || versions.length === 0) return undefined;
    const id = versions[versions.length - 1];
    return { id, version: versions.length, schema: this.byId.get(id)! };
  }
}
