/**
 * `tributary pipeline explain`: the plan as text — source → decoder and contract →
 * transforms → sinks, the SQL each step runs, the tables written and the state kept.
 */
import { describeType } from '../connectors/avro/columns.ts';
import { compileContract } from '../quality/contract.ts';
import { compileTypedContract } from '../quality/typed-contract.ts';
import { WindowOperator } from '../stream/window/index.ts';
import { capturesAllColumns } from './capture.ts';
import type { CheckResult } from './check.ts';
import type { WindowTransformDefinition } from './definition.ts';
import { INPUT, type Plan, whenMatched } from './plan.ts';

const indent = (text: string, by = '      ') =>
  text
    .trim()
    .split('\n')
    .map((l) => by + l)
    .join('\n');

/** The Avro reader schema, its columns and the rules the definition adds. */
function explainAvro(p: Plan): string[] {
  const a = p.avro!;
  const c = p.contract!;
  const typed = compileTypedContract(
    a.columns.map((col) => ({ spec: c.fields.find((f) => f.name === col.name)!, decoded: col.sqlType })),
  );
  const out = [
    "         Confluent's wire format (byte 0, the writer schema's id, the Avro body); each writer schema",
    '         fetched from the schema registry by id once (chosen at run time), read into the reader schema',
    `         reader schema (${a.source}): ${JSON.stringify(JSON.parse(a.schema))}`,
    '         columns:',
  ];
  for (const col of a.columns) {
    const f = c.fields.find((x) => x.name === col.name)!;
    const rules = [
      f.required === false ? 'optional' : 'required',
      ...(f.enum ? [`enum ${f.enum.join('|')}`] : []),
      ...(f.min !== undefined ? [`min ${f.min}`] : []),
      ...(f.max !== undefined ? [`max ${f.max}`] : []),
      ...(f.pattern !== undefined ? [`pattern ${f.pattern}`] : []),
      ...(f.notEmpty ? ['not_empty'] : []),
      ...(f.decimals !== undefined && col.kind !== 'decimal' ? [`decimals ${f.decimals}`] : []),
    ];
    out.push(
      `           ${col.name} ${col.sqlType} ← ${describeType(col.type)}${col.nullable ? ' or null' : ''}: ${rules.join(', ')}`,
    );
  }
  out.push(`         checked in DuckDB: ${typed.validRow.length} characters of SQL over the decoded columns`);
  return out;
}

export function explainPlan(p: Plan, checked?: CheckResult): string {
  const def = p.def;
  const out: string[] = [];
  const cols = (name: string) => {
    const c = checked?.relations.get(name) ?? checked?.sinkColumns.get(name);
    return c ? c.names.map((n, i) => `${n} ${c.types[i]}`).join(', ') : undefined;
  };
  out.push(`pipeline ${def.name}${def.description ? ` — ${def.description}` : ''}`);
  out.push('');
  if ('topic' in def.source) {
    out.push(
      `source   topic '${def.source.topic}' (${def.source.partitions ?? 4} partitions${def.source.retention ? `, ${def.source.retention} retention` : ''} if created; the embedded log or Kafka, chosen at run time)`,
    );
    const cap = def.source.capture;
    if (cap) {
      const mode = cap.mode ?? 'polling';
      const how =
        mode === 'polling'
          ? `polling by ${cap.cursor ?? 'created_at'} every ${cap.poll_interval ?? '5s'}, at most ${cap.batch_limit ?? 1000} rows a poll, rows older than ${cap.delay ?? '1s'}`
          : 'logical replication';
      out.push(
        `capture  PostgreSQL table ${cap.table} (${how}; key ${cap.key?.join(', ') ?? 'the primary key'}, format ${cap.format ?? 'flat'}) into the topic, beside the pipeline (docs/cdc.md)`,
      );
      if (capturesAllColumns(def)) {
        out.push(
          "         every column of the table is read: the contract's fields with their rules, the others as optional fields; a column added while running is added too (docs/cdc.md, Schema changes)",
        );
      }
    }
    const c = p.contract!;
    const failing =
      def.contract?.on_failure === 'tag'
        ? 'kept, tagged'
        : `to topic '${def.dlq?.topic ?? `${def.source.topic}.dlq`}' with their bytes and reason`;
    out.push(
      `decode   ${def.format ?? 'json'}, contract '${c.name}' (${c.fields.length} fields; failing records ${failing})`,
    );
    if (p.avro) {
      out.push(...explainAvro(p));
    } else {
      out.push(
        `         checked in DuckDB: ${compileContract(c).validRow.length} characters of SQL over read_json's typed columns, after a strict check of each record's bytes`,
      );
    }
  } else {
    out.push(`source   Delta table '${def.source.table}' read as a stream (each new version's added rows)`);
  }
  const inputCols = cols(INPUT);
  if (inputCols) out.push(`input    ${inputCols}`);
  if (p.eventTime) {
    out.push(`time     event time = ${p.eventTime}; watermark = max event time − ${p.watermarkMs} ms`);
  }
  for (const t of p.transforms) {
    out.push('');
    if ('sql' in t) {
      out.push(`transform ${t.name} (SQL over the batch, no state)`);
      out.push(indent(t.sql));
    } else if ('dedup' in t) {
      const d = p.dedups.find((x) => x.def.name === t.name)!;
      out.push(
        `transform ${t.name}: dedup of ${d.def.from ?? INPUT} by ${d.spec.key}, keys held for ${d.def.dedup.horizon} of event time (${d.spec.time})`,
      );
      out.push(
        `      state: each key seen with its newest event time, while within the horizon of the newest; saved with each batch's plan under DATA_DIR/state/${def.name}/`,
      );
    } else {
      const w = t as WindowTransformDefinition;
      out.push(
        `transform ${w.name}: ${w.window.type} window of ${w.window.size}${w.window.slide ? ` every ${w.window.slide}` : ''} over ${w.from ?? INPUT}.${w.window.time ?? '(event time)'}, emit ${w.emit ?? 'final'}`,
      );
      out.push(
        `      group by ${(w.group_by ?? []).join(', ') || '(nothing)'}; ${Object.entries(w.aggregates)
          .map(([k, v]) => `${k} = ${v}`)
          .join(', ')}`,
      );
      const planned = p.windows.find((x) => x.def.name === w.name);
      if (planned?.spec) {
        for (const line of new WindowOperator(planned.spec, w.name).describeState().slice(1))
          out.push(`    ${line}`);
      }
      out.push(
        `      state saved with each batch's plan under DATA_DIR/state/${def.name}/ before any sink commits the batch; restored on start, the batches after it replayed exactly`,
      );
      out.push(
        `      late records (event time behind the watermark): ${typeof w.late === 'object' ? `to table '${w.late.table}' (sink ${w.name}_late)` : w.late === 'drop' ? 'counted and dropped' : "to the DLQ with reason 'late'"}`,
      );
    }
    const c = cols(t.name);
    if (c) out.push(`      → ${c}`);
  }
  for (const s of p.sinks) {
    const d = s.def;
    out.push('');
    const table = s.table ? ` → table '${s.table.def.name}'` : '';
    out.push(`sink ${d.name}: ${d.type} of ${d.from}${table}`);
    if (d.type === 'delta_append') {
      out.push('      each batch in one commit with its progress (txn per source partition): exactly once');
      if (d.dedup)
        out.push(
          `      state: ids of '${d.dedup.key}' within ${d.dedup.horizon} of the newest '${d.dedup.time}' (rebuilt from the table on start; older ones looked up in the table)`,
        );
    } else if (d.type === 'delta_merge') {
      const w = whenMatched(d);
      out.push(
        `      MERGE on (${d.key.join(', ')}); matched: ${typeof w === 'string' ? w : `update when ${w.update}${w.delete ? `, delete when ${w.delete}` : ''}`}`,
      );
      out.push(`      at most every ${d.commit_interval ?? '0s'}, progress in the same commit: exactly once`);
    } else if (d.type === 'postgres') {
      out.push(
        `      upsert into PostgreSQL table ${d.table} on (${d.key.join(', ')})${d.updated_at ? `, ${d.updated_at} = commit time` : ''}; progress in the same transaction: exactly once`,
      );
    } else {
      out.push(`      to topic '${d.topic}'${d.key ? ` keyed by ${d.key}` : ''}`);
      if (d.format === 'avro') {
        out.push(
          `      as Avro in Confluent's wire format, schema ${d.avro?.schema !== undefined ? 'given' : "from the rows' columns (every field nullable, timestamps timestamp-micros, DECIMAL as decimal bytes)"}, registered under '${d.topic}-value'`,
        );
      }
    }
    if (s.table) {
      const t = s.table;
      const parts = t.partitions.map((x) => (x.expr ? `${x.name} = ${x.expr}` : x.name));
      out.push(
        `      table at tables/${t.def.path ?? t.def.name}${parts.length ? `, partitioned by ${parts.join(', ')}` : ', unpartitioned'}${t.columns ? `, ${t.columns.length} declared columns` : ', columns from the rows'}${t.evolve ? ', new columns added (schema: evolve)' : ''}`,
      );
      const m = t.maintenance;
      out.push(
        `      upkeep every ${p.maintenanceEveryMs / 1000} s: OPTIMIZE${m.targetFileSize ? ` to ${m.targetFileSize} bytes` : ''}${m.olderThanMs ? ` (files older than ${m.olderThanMs / 1000} s)` : ''}, checkpoint, VACUUM${m.vacuumRetentionMs !== undefined ? ` after ${m.vacuumRetentionMs / 1000} s` : ''}`,
      );
    }
    const c = cols(d.name);
    if (c) out.push(`      rows: ${c}`);
    const ofWindow = p.windows.some((w) => w.def.name === d.from);
    out.push(
      ofWindow
        ? '      SQL (<batch> = the rows the window emitted for the batch):'
        : s.planned
          ? "      SQL (<batch> = the batch's rows; windows and dedups by name = their rows for the batch):"
          : "      SQL (<batch> = the batch's rows past this sink's progress):",
    );
    out.push(indent(s.select('<batch>'), '        '));
  }
  const q = def.quality;
  if (q) {
    out.push('');
    out.push(
      `quality  results to topic '${q.topic}': each batch, one record per rule (the contract's, each dedup's unique, each window's on_time) with records, passed, failed and up to ${q.samples ?? 5} sample ids (${q.sample_id ?? 'partition/offset'}); batches planned, exactly once`,
    );
  }
  if (p.readsBatch) {
    out.push(
      "batch    SQL reads the relation 'batch' (batch_id, batch_time): the batch's plan number and time, the same on a replay",
    );
  }
  return out.join('\n');
}
