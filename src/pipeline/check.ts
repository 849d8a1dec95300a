/**
 * The checks of a definition that need the SQL engine, run before anything else: every
 * transform's and sink's SQL binds against the input's columns (an unknown column, a
 * type error or a typo in SQL is found here, with the transform it is in), the columns a
 * sink's table, key, dedup or partitioning name exist in its rows, and a window's time
 * column is a timestamp. The same pass gives each sink's row schema, from which tables
 * without declared columns are created.
 *
 * The input relation is empty but typed: for a topic source, the contract's typed
 * columns as the JSON decoder produces them; for a table source, the table's columns.
 */

import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { quoteIdent } from '../core/sql.ts';
import { compileContract } from '../quality/contract.ts';
import { BATCH_RELATION } from '../stream/stateful.ts';
import { WindowOperator } from '../stream/window/index.ts';
import type { DataType, StructField } from '../table/schema.ts';
import { deltaTypeOf } from '../table/types.ts';
import type { WindowTransformDefinition } from './definition.ts';
import { INPUT, lateRelation, lateRowsSql, type Plan, relationSql, tagColumns } from './plan.ts';
import type { Problem } from './shape.ts';

export interface Columns {
  names: string[];
  types: DuckDBType[];
}

const q = quoteIdent;

/** The runtime columns every input row carries: partition, offset, ingest time (ms). */
export const META_COLUMNS = 'NULL::BIGINT AS _o, NULL::INTEGER AS _p, NULL::BIGINT AS _t';

/** SQL of an empty relation with the input's columns and types. */
export function emptyInputSql(
  plan: Plan,
  tableColumns?: StructField[],
  duckType?: (t: DataType) => string,
): string {
  if (plan.contract) {
    const c = compileContract(plan.contract);
    const tag =
      plan.def.contract?.on_failure === 'tag'
        ? (() => {
            const t = tagColumns(plan.def);
            return `, NULL::VARCHAR AS ${q(t.statusColumn)}, NULL::VARCHAR AS ${q(t.reasonColumn)}`;
          })()
        : '';
    return `SELECT NULL::BIGINT AS _o, NULL::INTEGER AS _p, NULL::BIGINT AS _t, ${c.typedColumns.join(', ')}${tag} FROM ${c.from(`(SELECT NULL::${c.readType} AS v)`)} WHERE false`;
  }
  const cols = (tableColumns ?? []).map((f) => `NULL::${duckType!(f.type)} AS ${q(f.name)}`);
  return `SELECT ${[META_COLUMNS, ...cols].join(', ')} WHERE false`;
}

const firstLine = (err: unknown) => {
  // DuckDB's own message (the error catalog's wrapper adds advice meant for other places).
  const cause = (err as { code?: string; cause?: unknown })?.code?.startsWith('DUCKDB_')
    ? (err as { cause?: unknown }).cause
    : undefined;
  const source = cause instanceof Error ? cause : err;
  const m = (source instanceof Error ? source.message : String(source)).split('\n');
  // DuckDB's binder messages: "Binder Error: Referenced column "x" not found ...", then a hint line.
  return m
    .filter((l) => l.trim() !== '' && !l.startsWith('LINE '))
    .slice(0, 2)
    .join(' ');
};

async function columnsOf(conn: DuckDBConnection, sql: string): Promise<Columns> {
  const r = await conn.runAndReadAll(`SELECT * FROM (${sql}) LIMIT 0`);
  return { names: r.columnNames(), types: r.columnTypes() };
}

const isTimestamp = (t: DuckDBType) => /^TIMESTAMP/.test(t.toString());

export interface CheckResult {
  problems: Problem[];
  /** Per sink name: the columns of the rows it writes. */
  sinkColumns: Map<string, Columns>;
  /** Per relation name (input and transforms): its columns. */
  relations: Map<string, Columns>;
}

/** Binds every relation and sink of the plan on `conn` over an empty input named `inputRelation`. */
export async function checkPlan(conn: DuckDBConnection, plan: Plan, inputSql: string): Promise<CheckResult> {
  const problems: Problem[] = [];
  const relations = new Map<string, Columns>();
  const sinkColumns = new Map<string, Columns>();
  const from = `(${inputSql})`;
  try {
    relations.set(INPUT, await columnsOf(conn, relationSql([], INPUT, from)));
  } catch (err) {
    problems.push({ path: ['contract'], message: `the input relation cannot be built: ${firstLine(err)}` });
    return { problems, sinkColumns, relations };
  }
  if (plan.eventTime) {
    try {
      const c = await columnsOf(conn, relationSql([], INPUT, from, `(${plan.eventTime}) AS t`));
      if (!isTimestamp(c.types[0])) {
        problems.push({
          path: ['event_time', 'expr'],
          message: `the event time must be a timestamp, got ${c.types[0]}; e.g. to_timestamp(epoch_seconds) or epoch_ms(millis)`,
        });
      }
    } catch (err) {
      problems.push({ path: ['event_time', 'expr'], message: firstLine(err) });
    }
  }
  const names = (c: Columns) => c.names.join(', ');
  const sampleId = plan.def.quality?.sample_id;
  if (sampleId !== undefined && !relations.get(INPUT)!.names.includes(sampleId)) {
    problems.push({
      path: ['quality', 'sample_id'],
      message: `'${sampleId}' is not a column of 'input' (its columns: ${names(relations.get(INPUT)!)})`,
    });
  }
  /** Per window: an empty relation with its output columns (and the batch's metadata, for SQL that reads it). */
  const windowEmpty = new Map<string, string>([
    [BATCH_RELATION, '(SELECT NULL::BIGINT AS batch_id, NULL::TIMESTAMPTZ AS batch_time WHERE false)'],
  ]);
  for (let i = 0; i < plan.transforms.length; i++) {
    const t = plan.transforms[i];
    if ('sql' in t) {
      try {
        relations.set(
          t.name,
          await columnsOf(conn, relationSql(plan.transforms, t.name, from, '*', windowEmpty)),
        );
      } catch (err) {
        problems.push({ path: ['transforms', i, 'sql'], message: firstLine(err) });
      }
      continue;
    }
    if ('dedup' in t) {
      const d = plan.dedups.find((x) => x.def.name === t.name)!;
      const source = relations.get(d.def.from ?? INPUT);
      if (!source) continue;
      if (!source.names.includes(d.spec.key)) {
        problems.push({
          path: ['transforms', i, 'dedup', 'key'],
          message: `the dedup key '${d.spec.key}' is not a column of '${d.def.from ?? INPUT}' (its columns: ${names(source)})`,
        });
        continue;
      }
      try {
        const c = await columnsOf(conn, `SELECT (${d.spec.time}) AS t FROM (${d.input(from, windowEmpty)})`);
        if (!isTimestamp(c.types[0])) {
          problems.push({
            path: ['transforms', i, 'dedup', 'time'],
            message: `the dedup's event time must be a timestamp, got ${c.types[0]}`,
          });
        }
      } catch (err) {
        problems.push({ path: ['transforms', i, 'dedup', 'time'], message: firstLine(err) });
      }
      // Its rows are its input's, fewer.
      windowEmpty.set(t.name, `(SELECT * FROM (${d.input(from, windowEmpty)}) WHERE false)`);
      relations.set(t.name, source);
      continue;
    }
    const w = t as WindowTransformDefinition;
    const source = relations.get(w.from ?? INPUT);
    if (!source || plan.windows.some((x) => x.def.name === (w.from ?? INPUT))) {
      if (windowEmpty.has(w.from ?? INPUT)) {
        problems.push({
          path: ['transforms', i, 'from'],
          message: "a window reads 'input' or a SQL transform, not another window",
        });
      }
      continue;
    }
    const planned = plan.windows.find((x) => x.def.name === w.name);
    if (planned?.spec) {
      try {
        const op = new WindowOperator(planned.spec, w.name);
        const out = await op.check(conn, `(${planned.input(from, windowEmpty)})`);
        const empty = `(SELECT ${out.map((c) => `NULL::${c.type} AS ${q(c.name)}`).join(', ')} WHERE false)`;
        windowEmpty.set(w.name, empty);
        relations.set(w.name, await columnsOf(conn, `SELECT * FROM ${empty}`));
        if (planned.lateTable) {
          const late = `(${lateRowsSql(w.name, planned.input(from, windowEmpty), '(SELECT NULL::INTEGER AS _p, NULL::BIGINT AS _o WHERE false)', 'NULL::TIMESTAMPTZ')})`;
          windowEmpty.set(lateRelation(w.name), late);
          relations.set(lateRelation(w.name), await columnsOf(conn, `SELECT * FROM ${late}`));
        }
      } catch (err) {
        problems.push({ path: ['transforms', i], message: firstLine(err) });
      }
    }
    const time = w.window.time;
    if (time !== undefined) {
      const at = source.names.indexOf(time);
      if (at < 0) {
        problems.push({
          path: ['transforms', i, 'window', 'time'],
          message: `no column '${time}' in '${w.from ?? INPUT}' (its columns: ${names(source)})`,
        });
      } else if (!isTimestamp(source.types[at])) {
        problems.push({
          path: ['transforms', i, 'window', 'time'],
          message: `a window's time column must be a timestamp; '${time}' is ${source.types[at]}`,
        });
      }
    }
    for (const [j, g] of (w.group_by ?? []).entries()) {
      if (!source.names.includes(g)) {
        problems.push({
          path: ['transforms', i, 'group_by', j],
          message: `no column '${g}' in '${w.from ?? INPUT}' (its columns: ${names(source)})`,
        });
      }
    }
  }
  for (const [i, s] of plan.sinks.entries()) {
    const rel = relations.get(s.def.from);
    if (!rel) continue;
    const need = (path: Problem['path'], col: string, what: string) => {
      if (!rel.names.includes(col)) {
        problems.push({
          path,
          message: `${what} '${col}' is not a column of '${s.def.from}' (its columns: ${names(rel)})`,
        });
      }
    };
    if (s.def.type === 'delta_merge') {
      for (const [j, k] of s.def.key.entries()) need(['sinks', i, 'key', j], k, 'the key column');
    }
    if (s.def.type === 'delta_append' && s.def.dedup) {
      need(['sinks', i, 'dedup', 'key'], s.def.dedup.key, 'the dedup key');
    }
    if (s.def.type === 'topic' && s.def.key) need(['sinks', i, 'key'], s.def.key, 'the record key');
    if (s.def.type === 'postgres') {
      for (const [j, k] of s.def.key.entries()) need(['sinks', i, 'key', j], k, 'the key column');
      for (const c of Object.keys(s.def.column_types ?? {}))
        need(['sinks', i, 'column_types', c], c, 'the column');
      if (s.def.updated_at !== undefined && rel.names.includes(s.def.updated_at) && s.def.from === INPUT) {
        problems.push({
          path: ['sinks', i, 'updated_at'],
          message: `'${s.def.updated_at}' is a column of the rows; updated_at names a column the sink sets itself`,
        });
      }
    }
    try {
      const cols = await columnsOf(conn, s.select(windowEmpty.get(s.def.from) ?? from, windowEmpty));
      sinkColumns.set(s.def.name, cols);
      if (s.def.type === 'delta_append' && s.def.dedup) {
        const at = cols.names.indexOf(s.def.dedup.time);
        if (at < 0 || !isTimestamp(cols.types[at])) {
          problems.push({
            path: ['sinks', i, 'dedup', 'time'],
            message: `'${s.def.dedup.time}' must be a timestamp column of the rows the sink writes (its columns: ${names(cols)})`,
          });
        }
      }
      for (const p of s.table?.partitions ?? []) {
        if (!cols.names.includes(p.name)) {
          problems.push({
            path: ['tables'],
            message: `partition column '${p.name}' of table '${s.table!.def.name}' is not in the rows of sink '${s.def.name}'`,
          });
        }
      }
      if (s.def.type === 'delta_merge') {
        for (const [j, c] of (s.def.newest_by ?? []).entries()) {
          if (!cols.names.includes(c)) {
            problems.push({
              path: ['sinks', i, 'newest_by', j],
              message: `'${c}' is not a column of the rows the sink writes (${names(cols)})`,
            });
          }
        }
      }
    } catch (err) {
      const declared = s.table?.columns !== undefined;
      problems.push({
        path: declared ? ['tables'] : ['sinks', i, 'from'],
        message: `sink '${s.def.name}': ${firstLine(err)}${declared ? ` (the columns declared for table '${s.table!.def.name}' must all be in '${s.def.from}': ${names(rel)})` : ''}`,
      });
    }
  }
  return { problems, sinkColumns, relations };
}

/** A table's schema: its declared columns, or the sink's row columns (nullable unless `not_null`). */
export function tableSchema(
  declared: StructField[] | undefined,
  rows: Columns | undefined,
  notNull: readonly string[] = [],
): StructField[] {
  if (declared) return declared;
  if (!rows) return [];
  const required = new Set(notNull);
  return rows.names.map((name, i) => ({
    name,
    type: deltaTypeOf(rows.types[i], name),
    nullable: !required.has(name),
    metadata: {},
  }));
}
