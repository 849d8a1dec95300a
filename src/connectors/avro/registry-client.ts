/**
 * What the runtime needs of a schema registry (Confluent's REST API or the registry
 * served in-process): schemas by id for decoding, registration for our own producers.
 * Two implementations: over HTTP (any Confluent-compatible registry, ours included) and
 * in-process (src/server/registry/, over the registry's own store).
 */

/** A registered schema: its global id, its version within the subject, its text. */
export interface RegisteredSchema {
  id: number;
  version: number;
  /** The schema as JSON text (Avro). */
  schema: string;
}

export interface SchemaRegistryClient {
  /**
   * The schema text registered under global `id`. Rejects with TributaryError
   * SCHEMA_NOT_FOUND when no schema has that id, REGISTRY_UNAVAILABLE when the
   * registry cannot be reached.
   */
  schemaById(id: number): Promise<string>;
  /**
   * Registers `schema` (Avro JSON text) under `subject`, or finds it registered already
   * (idempotent), and gives its global id. Rejects with SCHEMA_INCOMPATIBLE (the
   * message names the field and the reason) or SCHEMA_INVALID.
   */
  register(subject: string, schema: string): Promise<number>;
  /** The latest version of `subject`; undefined when the subject has none. */
  latest(subject: string): Promise<RegisteredSchema | undefined>;
}
