/**
 * A definition's Avro reader schema and the contract it gives: `avro.schema` (an `.avsc`
 * file relative to the definition's file, or the schema as JSON text) or `avro.subject`
 * (the subject's latest version in the registry, when the pipeline is checked or
 * started). Its fields are the contract's fields, typed by the schema; the definition's
 * `contract.fields` add rules to them by name.
 */
import { promises as fs } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type AvroColumn, columnFieldSpec, describeType, readerColumns } from '../connectors/avro/columns.ts';
import { parseAvroSchema } from '../connectors/avro/parse.ts';
import type { SchemaRegistryClient } from '../connectors/avro/registry-client.ts';
import { isTributaryError } from '../core/errors.ts';
import { contractProblems, type DataContract, type FieldSpec } from '../quality/contract.ts';
import type { FieldDefinition, PipelineDefinition } from './definition.ts';
import type { Problem } from './shape.ts';

/** A reader schema, loaded: its text and where it came from (for `explain`). */
export interface LoadedAvro {
  schema: string;
  source: string;
}

const looksLikeJson = (s: string) => /^\s*[{["]/.test(s);

/** Why a definition's `format` and `avro` keys do not go together (before anything is loaded). */
export function avroKeyProblems(def: PipelineDefinition): Problem[] {
  const out: Problem[] = [];
  const avro = def.format === 'avro';
  if (!avro && def.avro !== undefined) {
    out.push({
      path: ['avro'],
      message: "'avro' gives the reader schema of format avro: set format: avro, or remove it",
    });
  }
  if (avro && 'table' in def.source) {
    out.push({
      path: ['format'],
      message: "a table source's rows are typed already: format applies to a topic's records",
    });
  }
  if (avro && 'topic' in def.source && def.avro?.schema === undefined && def.avro?.subject === undefined) {
    out.push({
      path: def.avro ? ['avro'] : ['format'],
      message:
        'format avro needs the reader schema: avro.schema (an .avsc file, or the schema as JSON) or avro.subject (a subject of the schema registry)',
    });
  }
  if (def.avro?.schema !== undefined && def.avro.subject !== undefined) {
    out.push({ path: ['avro', 'subject'], message: 'give avro.schema or avro.subject, not both' });
  }
  return out;
}

/**
 * Loads the reader schema of a definition with `format: avro` (undefined for other
 * formats), or the problem found. `registry` is needed for `avro.subject` only.
 */
export async function loadAvroReader(
  def: PipelineDefinition,
  file: string | undefined,
  registry?: SchemaRegistryClient,
): Promise<LoadedAvro | Problem | undefined> {
  if (def.format !== 'avro' || avroKeyProblems(def).length > 0) return undefined;
  const { schema, subject } = def.avro!;
  if (schema !== undefined) {
    if (looksLikeJson(schema)) return { schema, source: 'given in the definition' };
    const path = isAbsolute(schema) ? schema : resolve(file ? dirname(file) : '.', schema);
    try {
      return { schema: await fs.readFile(path, 'utf8'), source: `file ${path}` };
    } catch (err) {
      return {
        path: ['avro', 'schema'],
        message: `cannot read the Avro schema file ${path}: ${(err as Error).message} (a path is relative to the definition's file)`,
      };
    }
  }
  if (!registry) {
    return {
      path: ['avro', 'subject'],
      message: `the reader schema is subject '${subject}' of the schema registry: give the registry (--registry URL or $TRIBUTARY_REGISTRY)`,
    };
  }
  try {
    const latest = await registry.latest(subject!);
    if (!latest) {
      return {
        path: ['avro', 'subject'],
        message: `the schema registry has no subject '${subject}' (register a schema under it first)`,
      };
    }
    return {
      schema: latest.schema,
      source: `subject ${subject} version ${latest.version} (id ${latest.id})`,
    };
  } catch (err) {
    if (isTributaryError(err, 'SCHEMA_NOT_FOUND')) {
      return {
        path: ['avro', 'subject'],
        message: `the schema registry has no subject '${subject}': ${err.message}`,
      };
    }
    throw err;
  }
}

/** What a field of the definition may add to a column of the schema. */
const RULE_KEYS = [
  'required',
  'enum',
  'min',
  'max',
  'decimals',
  'precision',
  'pattern',
  'not_empty',
] as const;

/**
 * The contract of an Avro pipeline: the reader schema's fields, typed by it, with the
 * rules of the definition's fields of the same names. Problems point at the definition
 * (`avro.schema` for the schema's own, `contract.fields[i]` for a field's).
 */
export function avroContract(
  def: PipelineDefinition,
  reader: LoadedAvro,
): { contract?: DataContract; columns: AvroColumn[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const at = def.avro?.subject !== undefined ? ['avro', 'subject'] : ['avro', 'schema'];
  let type: ReturnType<typeof parseAvroSchema>;
  try {
    type = parseAvroSchema(reader.schema, `the reader schema (${reader.source})`);
  } catch (err) {
    return { columns: [], problems: [{ path: at, message: (err as Error).message }] };
  }
  const { columns, problems: refused } = readerColumns(type);
  for (const p of refused) {
    problems.push({
      path: at,
      message: `${p.message} (a writer's field that the reader schema leaves out is skipped: read with a schema without it)`,
    });
  }
  const declared = def.contract?.fields ?? [];
  const byName = new Map<string, { f: FieldDefinition; i: number }>();
  declared.forEach((f, i) => {
    const path = ['contract', 'fields', i];
    const col = columns.find((c) => c.name === f.name);
    byName.set(f.name, { f, i });
    if (!col) {
      if (!refused.some((p) => p.field === f.name)) {
        problems.push({
          path: [...path, 'name'],
          message: `field '${f.name}' is not in the Avro reader schema (its fields: ${columns.map((c) => c.name).join(', ')})`,
        });
      }
      return;
    }
    if (f.type !== undefined && f.type !== col.contractType) {
      problems.push({
        path: [...path, 'type'],
        message: `field '${f.name}' is ${describeType(col.type)} in the Avro schema, contract type '${col.contractType}', not '${f.type}' (with format avro, leave 'type' out: the schema gives it)`,
      });
    }
    for (const key of ['items', 'min_items', 'coerce'] as const) {
      if (f[key] !== undefined) {
        problems.push({
          path: [...path, key],
          message: `'${key}' applies to JSON records, not to a field of an Avro schema`,
        });
      }
    }
    if (col.kind === 'decimal' && f.precision !== undefined && f.precision !== col.precision) {
      problems.push({
        path: [...path, 'precision'],
        message: `field '${f.name}' is a decimal of precision ${col.precision} in the Avro schema, not ${f.precision}`,
      });
    }
  });
  if (problems.length > 0) return { columns, problems };
  const fields: FieldSpec[] = columns.map((c) => {
    const base = columnFieldSpec(c);
    const d = byName.get(c.name)?.f;
    if (!d) return base;
    const rules: Partial<FieldSpec> = {};
    for (const key of RULE_KEYS) {
      const v = d[key];
      if (v === undefined) continue;
      if (key === 'not_empty') rules.notEmpty = v as boolean;
      else Object.assign(rules, { [key]: v });
    }
    return { ...base, ...rules };
  });
  // The contract's own checks (a bound of the wrong kind, a pattern on a number...), at the definition's field.
  for (const p of contractProblems(fields)) {
    const name = fields[p.path[1] as number]?.name;
    const d = byName.get(name);
    problems.push({
      path: d ? ['contract', 'fields', d.i, ...p.path.slice(2)] : at,
      message: p.message,
    });
  }
  const name = def.contract?.name ?? (type as { name?: string }).name ?? 'avro';
  return { contract: { name, fields }, columns, problems };
}
