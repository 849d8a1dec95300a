/**
 * A definition resolved into what the runtime needs, without running anything: the
 * contract in the runtime's form, the SQL each sink runs (its transforms composed over
 * the batch's `input`), the tables' layouts and upkeep, durations in milliseconds. Both
 * `tributary pipeline explain` and the compiler (compile.ts) work from this plan.
 */

import type { AvroColumn } from '../connectors/avro/columns.ts';
import { quoteIdent, quoteString } from '../core/sql.ts';
import { contractProblems, type DataContract, type FieldSpec } from '../quality/contract.ts';
import type { DedupSpec } from '../stream/dedup-operator.ts';
import type { MaintenanceOptions } from '../stream/sinks/maintenance.ts';
import { BATCH_RELATION, batchTable, stageTable } from '../stream/stateful.ts';
import { parseAggregate, type WindowSpec } from '../stream/window/index.ts';
import type { WhenMatched } from '../table/index.ts';
import type { StructField } from '../table/schema.ts';
import { avroContract, avroKeyProblems, type LoadedAvro } from './avro.ts';
import { captureProblems, capturesAllColumns } from './capture.ts';
import { parseColumnType } from './column-types.ts';
import type {
  DedupTransformDefinition,
  DeltaAppendSinkDefinition,
  DeltaMergeSinkDefinition,
  FieldDefinition,
  PipelineDefinition,
  SinkDefinition,
  SqlTransformDefinition,
  TableDefinition,
  TransformDefinition,
  WindowTransformDefinition,
} from './definition.ts';
import { parseDuration, parseSize } from './durations.ts';
import { partitionedStateProblems } from './partitioned-state.ts';
import type { Problem } from './shape.ts';

/** The relation every transform and sink can read: the source's rows of the batch. */
export const INPUT = 'input';

const q = quoteIdent;

export interface PlannedTable {
  def: TableDefinition;
  /** Declared columns, or undefined when they come from the sink's rows. */
  columns?: StructField[];
  /** Partition columns, in order, with the SQL computing each (undefined: a column of the rows). */
  partitions: Array<{ name: string; expr?: string }>;
  maintenance: MaintenanceOptions;
  /** Columns the rows have and the table lacks are added (`schema: evolve`), or refused. */
  evolve: boolean;
}

export interface PlannedSink {
  def: SinkDefinition;
  /**
   * The sink's SQL over a relation of input rows (a table or view name, or a
   * parenthesised query); `stages` gives relations of the stateful steps its SQL reads,
   * in place of their tables at run time (the others stay those tables).
   */
  select: (from: string, stages?: ReadonlyMap<string, string>) => string;
  table?: PlannedTable;
  /** It reads a stateful step's rows (directly, or through SQL): its batches are planned. */
  planned: boolean;
}

export interface PlannedWindow {
  def: WindowTransformDefinition;
  /** Undefined when the spec itself is wrong (a problem says why). */
  spec?: WindowSpec;
  /** SQL of the window's input over the batch's valid rows (or over a dedup's rows, in `outputs`). */
  input: (fresh: string, outputs?: ReadonlyMap<string, string>) => string;
  late: 'dlq' | 'drop' | 'table';
  /** With late: { table }, the side table late rows go to (through the sink `<window>_late`). */
  lateTable?: string;
}

/** The relation of a window's late rows, for its side table's sink. */
export const lateRelation = (window: string) => `${window}:late`;

/**
 * SQL of a window's late rows with their input columns (the source position `_p`, `_o`,
 * `_t` included), the window's name and the watermark they were behind.
 */
export function lateRowsSql(window: string, input: string, late: string, watermark: string): string {
  return `SELECT COLUMNS(c -> c <> '${EVENT_TIME_COLUMN}'), ${quoteString(window)} AS late_window, ${watermark} AS late_watermark FROM (${input}) AS __i SEMI JOIN ${late} AS __l ON __l._p = __i._p AND __l._o = __i._o`;
}

export interface PlannedDedup {
  def: DedupTransformDefinition;
  spec: DedupSpec;
  /** SQL of the dedup's input over the batch's valid rows (`outputs`: the `batch` relation, if SQL reads it). */
  input: (fresh: string, outputs?: ReadonlyMap<string, string>) => string;
}

/** The `batch` relation among a batch's stateful outputs, for the SQL transforms a window or dedup reads. */
function batchStage(outputs: ReadonlyMap<string, string> | undefined): ReadonlyMap<string, string> {
  const rel = outputs?.get(BATCH_RELATION);
  return rel === undefined ? new Map() : new Map([[BATCH_RELATION, rel]]);
}

/** The name of the sink writing the quality results (`quality.topic`). */
export const QUALITY_SINK = 'quality';

/** The column a window reads its time from when it names none: the pipeline's event time. */
export const EVENT_TIME_COLUMN = '__event_time';

export interface Plan {
  def: PipelineDefinition;
  windows: PlannedWindow[];
  dedups: PlannedDedup[];
  contract?: DataContract;
  /** With `format: avro`: the reader schema, where it came from, and its columns. */
  avro?: LoadedAvro & { columns: AvroColumn[] };
  /** SQL over an input row: its event time as a TIMESTAMPTZ. */
  eventTime?: string;
  watermarkMs: number;
  transforms: TransformDefinition[];
  sinks: PlannedSink[];
  tables: Map<string, PlannedTable>;
  maintenanceEveryMs: number;
  /** Some SQL transform reads the relation `batch` (its sinks' batches are planned). */
  readsBatch: boolean;
  problems: Problem[];
}

export function toFieldSpec(f: FieldDefinition): FieldSpec {
  return {
    name: f.name,
    // A JSON field without a type is a problem of the plan (jsonTypeProblems).
    type: f.type ?? 'string',
    ...(f.required !== undefined && { required: f.required }),
    ...(f.enum !== undefined && { enum: f.enum }),
    ...(f.min !== undefined && { min: f.min }),
    ...(f.max !== undefined && { max: f.max }),
    ...(f.decimals !== undefined && { decimals: f.decimals }),
    ...(f.precision !== undefined && { precision: f.precision }),
    ...(f.pattern !== undefined && { pattern: f.pattern }),
    ...(f.not_empty !== undefined && { notEmpty: f.not_empty }),
    ...(f.items !== undefined && { items: f.items.map(toFieldSpec) }),
    ...(f.min_items !== undefined && { minItems: f.min_items }),
    ...(f.coerce !== undefined && { coerce: f.coerce }),
  };
}

/** `hour(col)`, `date(col)`, `bucket(n, col)`, or any SQL expression as it is. */
export function partitionExpr(expr: string): string {
  const unary = /^\s*(hour|date)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/i.exec(expr);
  if (unary) {
    // From epoch microseconds: a plain TIMESTAMP is formatted without time zone lookups (UTC).
    const fmt = unary[1].toLowerCase() === 'hour' ? '%Y-%m-%d-%H' : '%Y-%m-%d';
    return `strftime(make_timestamp(epoch_us(${q(unary[2])})), '${fmt}')`;
  }
  const bucket = /^\s*bucket\s*\(\s*(\d+)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/i.exec(expr);
  if (bucket) return `(hash(${q(bucket[2])}) % ${Number(bucket[1])})::INTEGER`;
  return `(${expr})`;
}

const stripSemicolon = (sql: string) => sql.trim().replace(/;\s*$/, '');

/**
 * The SQL of relation `name` over `from`: `input` and the SQL transforms up to `name`, as
 * CTEs. `input` is not materialized, so a sink reading it twice scans the batch twice as
 * its own SQL would (no copy of the wide rows).
 */
export function relationSql(
  transforms: readonly TransformDefinition[],
  name: string,
  from: string,
  outer = '*',
  /** Stateful steps (windows, dedups) SQL may read, by name: the relation holding their batch rows. */
  stages: ReadonlyMap<string, string> = new Map(),
): string {
  const ctes = [`${INPUT} AS NOT MATERIALIZED (SELECT * FROM ${from})`];
  const upTo = transforms.slice(
    0,
    transforms.findIndex((t) => t.name === name),
  );
  const target = transforms.find((t) => t.name === name);
  // Only the transforms the target reads, directly or through others (by name in their SQL).
  const needed = new Set<string>();
  const visit = (sql: string, before: readonly TransformDefinition[]) => {
    for (const t of before) {
      if (!needed.has(t.name) && 'sql' in t && mentions(sql, t.name)) {
        needed.add(t.name);
        visit(t.sql, before.slice(0, before.indexOf(t)));
      }
    }
  };
  if (target && 'sql' in target) {
    needed.add(target.name);
    visit(target.sql, upTo);
  }
  const chain = [...upTo, ...(target ? [target] : [])].filter((t) => 'sql' in t && needed.has(t.name));
  for (const [stage, rel] of stages) {
    if (chain.some((t) => mentions((t as SqlTransformDefinition).sql, stage))) {
      ctes.push(`${q(stage)} AS (SELECT * FROM ${rel})`);
    }
  }
  for (const t of chain) ctes.push(`${q(t.name)} AS (${stripSemicolon((t as SqlTransformDefinition).sql)})`);
  return `WITH ${ctes.join(', ')} SELECT ${outer} FROM ${name === INPUT ? INPUT : q(name)}`;
}

/**
 * Whether SQL text names a relation (as a word, quoted or not, outside comments and
 * string literals; a cheap over-approximation).
 */
function mentions(sql: string, name: string): boolean {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const code = sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^']|'')*'/g, ' ');
  return new RegExp(`(^|[^A-Za-z0-9_"])"?${esc}"?($|[^A-Za-z0-9_"])`, 'i').test(code);
}

function planTable(def: TableDefinition, problems: Problem[], at: number): PlannedTable {
  let columns: StructField[] | undefined;
  if (def.columns) {
    const notNull = new Set(def.not_null ?? []);
    columns = def.columns.map((c, i) => {
      let type: StructField['type'] = 'string';
      try {
        type = parseColumnType(c.type);
      } catch (err) {
        problems.push({ path: ['tables', at, 'columns', i, 'type'], message: (err as Error).message });
      }
      return { name: c.name, type, nullable: (c.nullable ?? true) && !notNull.has(c.name), metadata: {} };
    });
  }
  const partitions = (def.partition_by ?? []).map((p) => {
    if (typeof p === 'string') return { name: p };
    const [name, expr] = Object.entries(p)[0];
    return { name, expr: partitionExpr(expr) };
  });
  const m = def.maintenance ?? {};
  return {
    def,
    columns,
    partitions,
    evolve: def.schema === 'evolve',
    maintenance: {
      ...(m.file_size !== undefined && { targetFileSize: parseSize(m.file_size) }),
      ...(m.older_than !== undefined && { olderThanMs: parseDuration(m.older_than) }),
      ...(m.order_by !== undefined && { orderBy: m.order_by }),
      ...(m.vacuum_retention !== undefined && { vacuumRetentionMs: parseDuration(m.vacuum_retention) }),
    },
  };
}

/** The matched-row rule of a MERGE sink: `update_when`, or "strictly newer by newest_by". */
export function whenMatched(def: DeltaMergeSinkDefinition): WhenMatched {
  let update = def.update_when;
  if (update === undefined && def.newest_by) {
    const cols = (side: string) => def.newest_by!.map((c) => `${side}.${c}`).join(', ');
    update = `(${cols('source')}) > (${cols('target')})`;
  }
  if (update === undefined && def.delete_when === undefined) return 'update';
  return { update: update ?? 'true', ...(def.delete_when !== undefined && { delete: def.delete_when }) };
}

/** Resolves names and references; the problems found (unknown relations, tables, duplicate names) are in `problems`. */
export interface PlanOptions {
  /** The reader schema of a definition with `format: avro` (avro.ts's loadAvroReader). */
  avro?: LoadedAvro;
}

/** Fields of a JSON contract without a type (only format avro takes types from a schema). */
function jsonTypeProblems(fields: readonly FieldDefinition[], at: Array<string | number>): Problem[] {
  return fields.flatMap((f, i) => [
    ...(f.type === undefined
      ? [
          {
            path: [...at, i],
            message: "missing required key 'type' (only format avro takes types from its schema)",
          },
        ]
      : []),
    ...(f.items ? jsonTypeProblems(f.items, [...at, i, 'items']) : []),
  ]);
}

export function plan(def: PipelineDefinition, opts: PlanOptions = {}): Plan {
  const problems: Problem[] = [];
  const tables = new Map<string, PlannedTable>();
  (def.tables ?? []).forEach((t, i) => {
    if (tables.has(t.name))
      problems.push({ path: ['tables', i, 'name'], message: `table '${t.name}' is defined twice` });
    tables.set(t.name, planTable(t, problems, i));
  });
  const transforms = def.transforms ?? [];
  const known = new Set<string>([INPUT]);
  transforms.forEach((t, i) => {
    if (t.name.toLowerCase() === BATCH_RELATION) {
      problems.push({
        path: ['transforms', i, 'name'],
        message: `'${BATCH_RELATION}' is the relation of the batch's metadata (batch_id, batch_time): name the transform otherwise`,
      });
    }
    if (known.has(t.name)) {
      problems.push({
        path: ['transforms', i, 'name'],
        message: `'${t.name}' is already the name of ${t.name === INPUT ? 'the input relation' : 'an earlier transform'}`,
      });
    }
    const w = t as WindowTransformDefinition;
    if (('window' in t || 'dedup' in t) && w.from !== undefined && !known.has(w.from)) {
      problems.push({
        path: ['transforms', i, 'from'],
        message: `unknown relation '${w.from}'; expected ${[...known].join(', ')} (a transform reads only earlier ones)`,
      });
    }
    if ('window' in t && w.window.type === 'hop' && w.window.slide === undefined) {
      problems.push({ path: ['transforms', i, 'window'], message: "a 'hop' window needs 'slide'" });
    }
    if ('window' in t && w.window.time === undefined && def.event_time === undefined) {
      problems.push({
        path: ['transforms', i, 'window'],
        message: "the window needs an event time: set 'window.time' or the pipeline's 'event_time'",
      });
    }
    known.add(t.name);
  });
  const windows: PlannedWindow[] = [];
  const dedups: PlannedDedup[] = [];
  /** Stateful steps so far, by name: their rows come from the batch's run of them, not SQL. */
  const stateful = new Set<string>();
  transforms.forEach((t, i) => {
    if ('dedup' in t) {
      const d = t as DedupTransformDefinition;
      const from = d.from ?? INPUT;
      const time = d.dedup.time ?? def.event_time?.expr;
      if (time === undefined) {
        problems.push({
          path: ['transforms', i, 'dedup'],
          message:
            "dedup keeps keys for a horizon of event time: set 'dedup.time' or the pipeline's 'event_time'",
        });
      }
      if (stateful.has(from)) {
        problems.push({
          path: ['transforms', i, 'from'],
          message: "a dedup reads 'input' or a SQL transform",
        });
      }
      dedups.push({
        def: d,
        spec: { key: d.dedup.key, time: time ?? 'NULL', horizonMs: parseDuration(d.dedup.horizon) },
        input: (fresh, outputs) => relationSql(transforms, from, fresh, '*', batchStage(outputs)),
      });
      stateful.add(d.name);
      return;
    }
    if (!('window' in t)) return;
    const w = t as WindowTransformDefinition;
    const time = w.window.time ?? EVENT_TIME_COLUMN;
    const outer =
      w.window.time === undefined && def.event_time
        ? `*, (${def.event_time.expr}) AS ${EVENT_TIME_COLUMN}`
        : '*';
    let spec: WindowSpec | undefined;
    try {
      const delay = w.watermark ?? def.event_time?.watermark ?? '0s';
      spec = {
        kind: w.window.type,
        timeColumn: time,
        sizeMs: parseDuration(w.window.size),
        ...(w.window.slide !== undefined && { slideMs: parseDuration(w.window.slide) }),
        groupBy: w.group_by ?? [],
        aggregates: Object.entries(w.aggregates).map(([name, sql]) => parseAggregate(name, sql)),
        watermarkDelayMs: parseDuration(delay),
        emit: w.emit ?? 'final',
      };
      if (spec.kind === 'hop' && spec.slideMs !== undefined && spec.sizeMs % spec.slideMs !== 0) {
        problems.push({
          path: ['transforms', i, 'window', 'slide'],
          message: `a hop window's size (${w.window.size}) must be a whole multiple of its slide (${w.window.slide})`,
        });
      }
    } catch (err) {
      problems.push({ path: ['transforms', i, 'aggregates'], message: (err as Error).message });
    }
    const from = w.from ?? INPUT;
    const afterDedup = dedups.some((d) => d.def.name === from);
    if (stateful.has(from) && !afterDedup) {
      problems.push({
        path: ['transforms', i, 'from'],
        message: "a window reads 'input', a SQL transform or a dedup, not another window",
      });
    }
    windows.push({
      def: w,
      spec,
      input: afterDedup
        ? (_fresh, outputs) => `SELECT ${outer} FROM ${outputs!.get(from)}`
        : // A SQL transform may read a dedup (or an earlier window) by name: the stateful
          // steps' relations of the batch are its CTEs.
          (fresh, outputs) => relationSql(transforms, from, fresh, outer, outputs),
      late: typeof w.late === 'object' ? 'table' : w.late === 'drop' ? 'drop' : 'dlq',
      ...(typeof w.late === 'object' && { lateTable: w.late.table }),
    });
    stateful.add(w.name);
  });
  const windowNames = new Set([
    ...windows.map((w) => w.def.name),
    ...windows.filter((w) => w.lateTable).map((w) => lateRelation(w.def.name)),
    ...dedups.map((d) => d.def.name),
  ]);
  if ('table' in def.source && def.contract !== undefined) {
    problems.push({
      path: ['contract'],
      message:
        "a table source's rows are typed already: a contract applies to a topic's records; check rows with a SQL transform's WHERE instead",
    });
  }
  if ('table' in def.source) {
    windows.forEach((w) => {
      if (w.late === 'dlq') {
        problems.push({
          path: ['transforms', transforms.indexOf(w.def), 'late'],
          message:
            'a table source has no record bytes for the dead-letter topic: set late: drop (late rows are counted)',
        });
      }
    });
  }
  let contract: DataContract | undefined;
  let avro: Plan['avro'];
  if (def.format === 'avro') {
    const keys = avroKeyProblems(def);
    problems.push(...keys);
    if (keys.length === 0 && 'topic' in def.source) {
      if (opts.avro) {
        const r = avroContract(def, opts.avro);
        problems.push(...r.problems);
        contract = r.contract;
        avro = { ...opts.avro, columns: r.columns };
      } else {
        problems.push({
          path: ['avro'],
          message: 'the Avro reader schema was not loaded (checkDefinition loads it)',
        });
      }
    }
  } else {
    problems.push(...avroKeyProblems(def));
    if (def.contract !== undefined) {
      problems.push(...jsonTypeProblems(def.contract.fields, ['contract', 'fields']));
      for (const p of contractProblems(def.contract.fields.map(toFieldSpec))) {
        problems.push({ path: ['contract', ...p.path], message: p.message });
      }
      contract = { name: def.contract.name, fields: def.contract.fields.map(toFieldSpec) };
    }
  }
  problems.push(...captureProblems(def));
  problems.push(...partitionedStateProblems(def, mentions));
  if ('topic' in def.source && def.contract === undefined && def.format !== 'avro') {
    problems.push({
      path: ['source'],
      message: "a topic source needs a 'contract' (the fields its records carry)",
    });
  }
  // Stateful steps' rows, by name, for SQL transforms that read them.
  // A sink reading the batch's metadata is planned too: its batch time is the plan's.
  const stageTables = new Map<string, string>([
    ...windows.map((w) => [w.def.name, stageTable('window', def.name, w.def.name)] as const),
    ...dedups.map((d) => [d.def.name, stageTable('dedup', def.name, d.def.name)] as const),
    [BATCH_RELATION, batchTable(def.name)],
  ]);
  const probe = new Map([...stageTables.keys()].map((n) => [n, `__probe_${n}`]));
  const readsStage = (name: string) =>
    name !== INPUT && relationSql(transforms, name, 'x', '*', probe).includes('__probe_');
  const sinkNames = new Set<string>();
  const written = new Map<string, string>();
  const sinks: PlannedSink[] = def.sinks.map((s, i) => {
    if (sinkNames.has(s.name))
      problems.push({ path: ['sinks', i, 'name'], message: `sink '${s.name}' is defined twice` });
    if (def.quality && s.name === QUALITY_SINK)
      problems.push({
        path: ['sinks', i, 'name'],
        message: `'${QUALITY_SINK}' names the sink of the quality results (quality.topic): name this sink otherwise`,
      });
    sinkNames.add(s.name);
    if (!known.has(s.from)) {
      problems.push({
        path: ['sinks', i, 'from'],
        message: `unknown relation '${s.from}'; expected one of ${[...known].join(', ')}`,
      });
    }
    let table: PlannedTable | undefined;
    if (s.type === 'delta_append' || s.type === 'delta_merge') {
      table = tables.get(s.table);
      if (!table) {
        // A table without a definition: defaults (columns from the rows, unpartitioned).
        table = planTable({ name: s.table }, problems, -1);
        tables.set(s.table, table);
      }
      const other = written.get(s.table);
      if (other) {
        problems.push({
          path: ['sinks', i, 'table'],
          message: `table '${s.table}' is already written by sink '${other}'; one sink per table`,
        });
      }
      written.set(s.table, s.name);
    }
    if (s.type === 'postgres') {
      const name = /^(?:([A-Za-z_][A-Za-z0-9_$]*)\.)?([A-Za-z_][A-Za-z0-9_$]*)$/.exec(s.table);
      if (!name) {
        problems.push({
          path: ['sinks', i, 'table'],
          message: `'${s.table}' is not a PostgreSQL table name: expected name or schema.name (letters, digits, _)`,
        });
      } else {
        const full = `postgres:${name[1] ?? 'public'}.${name[2]}`;
        const other = written.get(full);
        if (other) {
          problems.push({
            path: ['sinks', i, 'table'],
            message: `PostgreSQL table '${s.table}' is already written by sink '${other}'; one sink per table`,
          });
        }
        written.set(full, s.name);
      }
    }
    if (s.type === 'delta_append' && s.dedup && def.event_time === undefined) {
      problems.push({
        path: ['sinks', i, 'dedup'],
        message: "dedup keeps keys for a horizon of event time: set the pipeline's 'event_time'",
      });
    }
    const fromWindow = windows.find((w) => w.def.name === s.from);
    if (fromWindow && s.type === 'delta_append' && s.dedup) {
      problems.push({
        path: ['sinks', i, 'dedup'],
        message: "a window's rows are unique by window and group: dedup applies to a sink of input rows",
      });
    }
    if (fromWindow && s.type === 'delta_append' && (fromWindow.def.emit ?? 'final') === 'update') {
      problems.push({
        path: ['sinks', i, 'type'],
        message: `window '${s.from}' emits 'update' (each batch, the new value of every window it touched): write it with a delta_merge sink keyed by window_start and the group columns, or set its emit to 'final' to append each window once`,
      });
    }
    const select = sinkSelect(transforms, s, table, windowNames.has(s.from), stageTables);
    const viaSql = !windowNames.has(s.from) && readsStage(s.from);
    return { def: s, select, table, planned: windowNames.has(s.from) || viaSql };
  });
  // Late rows to a side table: an append sink of its own, `<window>_late`.
  for (const w of windows) {
    if (!w.lateTable) continue;
    const at = ['transforms', transforms.indexOf(w.def), 'late', 'table'];
    const name = `${w.def.name}_late`;
    if (sinkNames.has(name)) {
      problems.push({
        path: at,
        message: `the sink of the late rows is named '${name}', which a sink of the definition already is`,
      });
    }
    let table = tables.get(w.lateTable);
    if (!table) {
      table = planTable({ name: w.lateTable }, problems, -1);
      tables.set(w.lateTable, table);
    }
    const other = written.get(w.lateTable);
    if (other)
      problems.push({
        path: at,
        message: `table '${w.lateTable}' is already written by sink '${other}'; one sink per table`,
      });
    written.set(w.lateTable, name);
    const s: DeltaAppendSinkDefinition = {
      name,
      type: 'delta_append',
      from: lateRelation(w.def.name),
      table: w.lateTable,
    };
    sinks.push({ def: s, select: sinkSelect(transforms, s, table, true, stageTables), table, planned: true });
  }
  // Tables of a pipeline reading every column of a captured table evolve unless told not to.
  if (capturesAllColumns(def)) for (const t of tables.values()) t.evolve = t.def.schema !== 'strict';
  return {
    def,
    ...(contract && { contract }),
    ...(avro && { avro }),
    eventTime: def.event_time?.expr,
    watermarkMs: def.event_time?.watermark ? parseDuration(def.event_time.watermark) : 0,
    transforms,
    windows,
    dedups,
    sinks,
    tables,
    maintenanceEveryMs: parseDuration(def.maintenance?.every ?? '1h'),
    readsBatch: transforms.some((t) => 'sql' in t && mentions(t.sql, BATCH_RELATION)),
    problems,
  };
}

/** The sink's SQL: its relation, with computed partition columns, in the table's column order. */
function sinkSelect(
  transforms: readonly TransformDefinition[],
  s: SinkDefinition,
  table: PlannedTable | undefined,
  fromWindow: boolean,
  runtimeStages: ReadonlyMap<string, string>,
): PlannedSink['select'] {
  const computed = (table?.partitions ?? []).filter((p) => p.expr !== undefined);
  const extra = computed.map((p) => `${p.expr} AS ${q(p.name)}`);
  const columns = table?.columns;
  const outer = columns
    ? columns.map((c) => {
        const part = computed.find((p) => p.name === c.name);
        return part ? `${part.expr} AS ${q(c.name)}` : q(c.name);
      })
    : ['*', ...extra];
  // A window's rows are the relation given (its output table); SQL transforms read the batch's rows.
  if (fromWindow) return (from: string) => `SELECT ${outer.join(', ')} FROM ${from}`;
  return (from, stages) =>
    relationSql(
      transforms,
      s.from,
      from,
      outer.join(', '),
      stages === undefined ? runtimeStages : new Map([...runtimeStages, ...stages]),
    );
}

export function isDeltaSink(s: SinkDefinition): s is DeltaAppendSinkDefinition | DeltaMergeSinkDefinition {
  return s.type === 'delta_append' || s.type === 'delta_merge';
}

/** The status and reason columns of a contract that tags failures (`on_failure: tag`). */
export function tagColumns(def: PipelineDefinition): { statusColumn: string; reasonColumn: string } {
  return {
    statusColumn: def.contract?.status_column ?? 'validation_status',
    reasonColumn: def.contract?.reason_column ?? 'validation_reason',
  };
}
