/**
 * The columns of a captured table, as the pipeline beside the capture reads them
 * (docs/cdc.md, "Schema changes"), for a capture that reads every column (`columns:
 * all`, format `flat`: capturesAllColumns):
 *
 * - At start the contract is completed from the table's columns in the catalog: the
 *   contract's own fields keep their types and rules, every other column becomes an
 *   optional field typed from its PostgreSQL type (capturedField). A required contract
 *   field that is not a column of the table (dropped, renamed, misspelt) is a definition
 *   problem.
 * - While running, the capture calls `onColumns` before it publishes a change whose
 *   columns differ from the last ones (publish.ts). A column the contract lacks becomes an
 *   optional field, and the pipeline is replaced (PipelineSlot.replace: stopped after its
 *   batch, compiled again, resumed from the progress in its tables) before the change is
 *   published, so no record with the column is read by a pipeline that would drop it.
 *   The tables gain the column as they are written (`schema: evolve`).
 * - A column dropped, or changed to a type read as another contract type, is
 *   CAPTURE_SCHEMA_CHANGED: the capture stops before publishing the change (the pipeline
 *   lands what came before: with-capture.ts). Running again accepts the table as it is.
 *   Drops and type changes are judged against the previous change's columns, never
 *   against the catalog: a replay after a restart (logical replication) may carry older
 *   columns than the catalog holds now.
 */
import type { ChangeColumn } from '../connectors/postgres/capture/change.ts';
import { describeColumns } from '../connectors/postgres/capture/table-info.ts';
import { PostgresPool } from '../connectors/postgres/client.ts';
import { postgresError } from '../connectors/postgres/errors.ts';
import { displayName, type PgTableName } from '../connectors/postgres/tables.ts';
import { TributaryError } from '../core/errors.ts';
import type { Pipeline } from '../stream/pipeline.ts';
import type { FieldDefinition, FieldType, PipelineDefinition } from './definition.ts';
import { invalid, type LoadedDefinition } from './load.ts';
import { tagColumns } from './plan.ts';
import type { Problem } from './shape.ts';
import { PipelineSlot } from './with-capture.ts';

/** Built-in type OIDs (pg_type.oid) and how their values arrive in a flat change (change.ts jsonValue). */
const TYPES: Record<number, { name: string; type: FieldType; coerce?: boolean }> = {
  16: { name: 'boolean', type: 'boolean' },
  20: { name: 'bigint', type: 'integer' },
  21: { name: 'smallint', type: 'integer' },
  23: { name: 'integer', type: 'integer' },
  26: { name: 'oid', type: 'integer' },
  // NaN and ±Infinity arrive as strings: converted, not refused.
  700: { name: 'real', type: 'number', coerce: true },
  701: { name: 'double precision', type: 'number', coerce: true },
  1700: { name: 'numeric', type: 'number' },
  1114: { name: 'timestamp', type: 'timestamp' },
  1184: { name: 'timestamptz', type: 'timestamp' },
  // Embedded as JSON: read as its JSON text.
  114: { name: 'json', type: 'string', coerce: true },
  3802: { name: 'jsonb', type: 'string', coerce: true },
  25: { name: 'text', type: 'string' },
  1043: { name: 'varchar', type: 'string' },
  1042: { name: 'char', type: 'string' },
};

/** The change metadata of format `flat` (change.ts): a column named so would clash with it. */
const METADATA = new Set([
  '__op',
  '__pos',
  '__seq',
  '__lsn',
  '__txid',
  '__commit_ts',
  '__snapshot',
  '__deleted',
]);

/** A type's name for messages. */
export function pgTypeName(typeOid: number): string {
  return TYPES[typeOid]?.name ?? `type oid ${typeOid}`;
}

/** The contract type a column's values arrive as; every type without a JSON form of its own arrives as its text. */
export function contractType(typeOid: number): FieldType {
  return TYPES[typeOid]?.type ?? 'string';
}

/**
 * A table column as an optional contract field, typed by what its values are in a flat
 * change; or why it is not read (a name the contract cannot have, or one the change's
 * metadata or the tag columns use).
 */
export function capturedField(
  column: ChangeColumn,
  reserved: ReadonlySet<string> = new Set(),
): FieldDefinition | { skip: string } {
  const name = column.name;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || (name.startsWith('_') && !name.startsWith('__'))) {
    return {
      skip: 'its name is not one a contract field can have (letters, digits and _, not starting with a single _)',
    };
  }
  if (METADATA.has(name) || name.startsWith('__ts_') || name === '__event_time')
    return { skip: "its name is one of a change's metadata fields or the runtime's" };
  if (reserved.has(name)) return { skip: 'its name is one of the contract status or reason columns' };
  const t = TYPES[column.typeOid];
  return { name, type: t?.type ?? 'string', required: false, ...(t?.coerce && { coerce: true }) };
}

export interface CompletedDefinition {
  definition: PipelineDefinition;
  /** Fields added for columns the contract did not name. */
  added: FieldDefinition[];
  /** Columns not read, with the reason. */
  skipped: Array<{ name: string; reason: string }>;
  problems: Problem[];
}

/** The definition with its contract completed from `columns` (see the header). */
export function withTableColumns(
  def: PipelineDefinition,
  table: PgTableName,
  columns: readonly ChangeColumn[],
): CompletedDefinition {
  const contract = def.contract;
  if (!contract) return { definition: def, added: [], skipped: [], problems: [] };
  const names = new Set(columns.map((c) => c.name));
  const problems: Problem[] = [];
  contract.fields.forEach((f, i) => {
    // An optional field may name a column some tables lack (the seed's has no updated_at).
    if (!names.has(f.name) && !METADATA.has(f.name) && (f.required ?? true)) {
      problems.push({
        path: ['contract', 'fields', i, 'name'],
        message: `'${f.name}' is not a column of the captured table ${displayName(table)} (its columns: ${[...names].join(', ')}): it was dropped or renamed, or is misspelt; remove the field or correct its name`,
      });
    }
  });
  const { added, skipped } = fieldsFor(def, columns);
  return {
    definition: added.length === 0 ? def : withFields(def, added),
    added,
    skipped,
    problems,
  };
}

function reservedNames(def: PipelineDefinition): Set<string> {
  if (def.contract?.on_failure !== 'tag') return new Set();
  const t = tagColumns(def);
  return new Set([t.statusColumn, t.reasonColumn]);
}

/** Fields for the columns the contract does not name. */
function fieldsFor(
  def: PipelineDefinition,
  columns: readonly ChangeColumn[],
): { added: FieldDefinition[]; skipped: Array<{ name: string; reason: string }> } {
  const named = new Set(def.contract?.fields.map((f) => f.name));
  const reserved = reservedNames(def);
  const added: FieldDefinition[] = [];
  const skipped: Array<{ name: string; reason: string }> = [];
  for (const c of columns) {
    if (named.has(c.name)) continue;
    const f = capturedField(c, reserved);
    if ('skip' in f) skipped.push({ name: c.name, reason: f.skip });
    else added.push(f);
  }
  return { added, skipped };
}

function withFields(def: PipelineDefinition, fields: FieldDefinition[]): PipelineDefinition {
  return { ...def, contract: { ...def.contract!, fields: [...def.contract!.fields, ...fields] } };
}

/** The captured table's columns in the catalog (a short connection of its own). */
export async function describeCapturedTable(url: string, table: PgTableName): Promise<ChangeColumn[]> {
  const pool = new PostgresPool(url, { max: 1, applicationName: 'tributary-capture' });
  try {
    const session = await pool.connect();
    try {
      const columns = await describeColumns(session, table, pool.target);
      return columns.map((c) => ({ name: c.name, typeOid: c.typeOid }));
    } finally {
      session.release();
    }
  } catch (err) {
    if (err instanceof TributaryError) throw err;
    throw postgresError(err, pool.target, `describing ${displayName(table)}`);
  } finally {
    await pool.end().catch(() => {});
  }
}

export interface CaptureSchemaOptions {
  /** The definition as written (its capture reads all columns). */
  loaded: LoadedDefinition;
  table: PgTableName;
  /** The table's columns in the catalog now. */
  describe: () => Promise<ChangeColumn[]>;
  /** Compiles and opens a pipeline of a definition (the run's context, sharing one PipelineMetrics). */
  compile: (loaded: LoadedDefinition) => Promise<Pipeline>;
  report?: (line: string) => void;
}

/** Follows the captured table's columns for the pipeline beside the capture (see the header). */
export class CaptureSchema {
  private readonly opts: CaptureSchemaOptions;
  private loaded: LoadedDefinition;
  /** Columns that are fields of the contract (named or added). */
  private readonly fields = new Set<string>();
  /** Columns not read (reported once). */
  private readonly skipped = new Set<string>();
  /** The columns of the last change the capture announced: name → type OID. */
  private last?: Map<string, number>;
  private pipelineSlot?: PipelineSlot;

  constructor(opts: CaptureSchemaOptions) {
    this.opts = opts;
    this.loaded = opts.loaded;
  }

  /** The definition the pipeline runs now (its contract completed). */
  get definition(): PipelineDefinition {
    return this.loaded.definition;
  }

  /** The pipeline's slot (after `start`). */
  get slot(): PipelineSlot {
    if (!this.pipelineSlot) throw new Error('CaptureSchema.start() first');
    return this.pipelineSlot;
  }

  private report(line: string): void {
    (this.opts.report ?? ((l: string) => console.error(l)))(`tributary: ${line}`);
  }

  /** Completes the contract from the catalog and compiles the pipeline; PIPELINE_INVALID for a contract field that is no column. */
  async start(): Promise<PipelineSlot> {
    const def = this.opts.loaded.definition;
    const columns = await this.opts.describe();
    const done = withTableColumns(def, this.opts.table, columns);
    if (done.problems.length > 0) invalid(this.opts.loaded, done.problems);
    this.adopt(done.definition, done.skipped);
    if (done.added.length > 0) {
      this.report(
        `reading the columns of ${displayName(this.opts.table)} the contract does not name, as optional fields: ${done.added.map((f) => `${f.name} (${f.type})`).join(', ')}`,
      );
    }
    this.pipelineSlot = new PipelineSlot(await this.opts.compile(this.loaded));
    return this.pipelineSlot;
  }

  private adopt(definition: PipelineDefinition, skipped: Array<{ name: string; reason: string }>): void {
    this.loaded = { ...this.opts.loaded, definition };
    for (const f of definition.contract?.fields ?? []) this.fields.add(f.name);
    for (const s of skipped) {
      if (this.skipped.has(s.name)) continue;
      this.skipped.add(s.name);
      this.report(`column ${s.name} of ${displayName(this.opts.table)} is not read: ${s.reason}`);
    }
  }

  /** The capture's hook (CaptureOptions.onColumns). */
  readonly onColumns = async (columns: readonly ChangeColumn[]): Promise<void> => {
    const table = displayName(this.opts.table);
    const prev = this.last;
    if (prev) {
      for (const [name, oid] of prev) {
        if (!this.fields.has(name)) continue;
        const now = columns.find((c) => c.name === name);
        if (!now) throw dropped(table, name, this.named(name));
        if (contractType(now.typeOid) !== contractType(oid)) throw retyped(table, name, oid, now.typeOid);
      }
    }
    const fresh = columns.filter((c) => !this.fields.has(c.name) && !this.skipped.has(c.name));
    if (fresh.length > 0) {
      const { added, skipped } = fieldsFor(this.definition, fresh);
      this.adopt(added.length > 0 ? withFields(this.definition, added) : this.definition, skipped);
      if (added.length > 0) {
        this.report(
          `column${added.length > 1 ? 's' : ''} ${added.map((f) => `${f.name} (${f.type})`).join(', ')} added to ${table}: ` +
            'the pipeline reads it from the next change on (stopping after its batch, compiling again, resuming); its tables gain it as a nullable column',
        );
        await this.slot.replace(() => this.opts.compile(this.loaded));
      }
    }
    this.last = new Map(columns.map((c) => [c.name, c.typeOid]));
  };

  /** Whether the definition as written names the field (its rules are the user's). */
  private named(name: string): boolean {
    return this.opts.loaded.definition.contract?.fields.some((f) => f.name === name) ?? false;
  }
}

function dropped(table: string, column: string, named: boolean): TributaryError {
  return new TributaryError(
    'CAPTURE_SCHEMA_CHANGED',
    `column ${column} of ${table} was dropped (or renamed): the capture stopped before publishing a change without it, once the pipeline had landed every change before it. ` +
      `The lake's tables keep the column with the values landed so far. To go on, ${named ? `remove the field '${column}' from contract.fields and ` : ''}run again: ` +
      'later changes hold null in it (rows of a mirror not changed since keep their last value); a renamed column arrives as a new column',
    { table, column },
  );
}

function retyped(table: string, column: string, from: number, to: number): TributaryError {
  return new TributaryError(
    'CAPTURE_SCHEMA_CHANGED',
    `column ${column} of ${table} changed type from ${pgTypeName(from)} to ${pgTypeName(to)}, whose values the pipeline reads as ${contractType(to)} instead of ${contractType(from)}: ` +
      'the capture stopped before publishing a change of the new type, once the pipeline had landed every change before it. ' +
      `To go on, run again: the pipeline then reads the column as ${contractType(to)}, and the Delta sinks convert its values to the type the tables hold, or stop with TABLE_SCHEMA_MISMATCH naming a value that does not convert; ` +
      'to keep both, land into new tables (change the tables\u2019 paths) or convert the column in a transform',
    { table, column, from: pgTypeName(from), to: pgTypeName(to) },
  );
}
