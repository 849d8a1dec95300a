/**
 * The `sales_event` Avro schemas, shipped as files in pipelines/saas/ (the package's
 * `pipelines/` folder): version 1, version 2 (adds the optional `discount_code`:
 * BACKWARD compatible) and version 3 (adds the required `sales_channel` without a
 * default: BACKWARD refuses it). pipelines/saas/README.md says which rule each shows.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the schema files are, in the source tree and in the package alike. */
export const SAAS_SCHEMA_DIR = join(import.meta.dirname, '..', '..', '..', 'pipelines', 'saas');

export type SalesSchemaVersion = 1 | 2 | 3;

const texts = new Map<SalesSchemaVersion, string>();

/** The schema text of `version` as its file holds it (read once). */
export function salesSchemaText(version: SalesSchemaVersion): string {
  let text = texts.get(version);
  if (text === undefined) {
    text = readFileSync(join(SAAS_SCHEMA_DIR, `sales_event.v${version}.avsc`), 'utf8');
    texts.set(version, text);
  }
  return text;
}
