/**
 * The Avro decoder: a topic's records in Confluent's wire format (byte 0, the writer
 * schema's id, the Avro body), each read with its writer schema — fetched from the
 * registry by id once, and kept — into the reader schema's columns, so records of every
 * writer version land in one table schema. Then the contract's rules, in DuckDB over the
 * typed columns.
 *
 * A record that cannot be read goes to the dead-letter queue with its bytes unchanged and
 * the reason: `avro_magic` (no wire-format header), `avro_schema_id` (the registry has no
 * such schema, or it is not Avro), `avro_resolve` (the reader cannot read what the writer
 * wrote), `avro_body` (truncated, corrupt, trailing bytes), or the contract rule it
 * breaks. The batch goes on. A registry that cannot be reached is not the record's fault:
 * the batch fails (REGISTRY_UNAVAILABLE, retried by the runtime), nothing goes to the DLQ.
 *
 * Decoding writes DuckDB's own column layout from the bytes, no object per record
 * (read-plan.ts, column-batch.ts); measured in bench/avro-decode.ts.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type avro from 'avsc';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { quoteIdent, quoteString } from '../../core/sql.ts';
import { recordAt, type ValueBatch } from '../../log/log.ts';
import type { DataContract } from '../../quality/contract.ts';
import { compileTypedContract, type TypedContract } from '../../quality/typed-contract.ts';
import type { Decoder, DeferredDecodedBatch, RejectedRecord, RuleRef } from '../../stream/types.ts';
import {
  CHUNK_ROWS,
  ColumnBatch,
  type Int32Column,
  type Int64Column,
  type Storage,
  sqlType,
} from './column-batch.ts';
import { type AvroColumn, readerColumns } from './columns.ts';
import { AvroRecordError, Cursor } from './cursor.ts';
import { parseAvroSchema } from './parse.ts';
import { planWriter, type WriterPlan } from './read-plan.ts';
import type { SchemaRegistryClient } from './registry-client.ts';
import { framingError, HEADER_SIZE, schemaIdAt } from './wire.ts';

export interface AvroDecoderOptions {
  /** The reader schema: Avro JSON text (a record). */
  readerSchema: string;
  /** Where writer schemas are looked up by id. */
  registry: SchemaRegistryClient;
  /**
   * The contract: its fields are the reader schema's columns (src/pipeline/avro.ts merges
   * a definition's rules with the schema's types), by name.
   */
  contract: DataContract;
}

/** A writer schema id that cannot be decoded: every record written with it is rejected so. */
interface Unreadable {
  rule: string;
  message: string;
}

const VALID_TABLE = '__stream_valid';
const STAGE = '__avro_stage';
/** The decoder's own rules, in the order it applies them (docs/avro.md). */
const AVRO_RULES = ['avro_magic', 'avro_schema_id', 'avro_resolve', 'avro_body'] as const;
const META: Storage[] = [{ t: 'int64' }, { t: 'int32' }, { t: 'int64' }];

function storageOf(c: AvroColumn): Storage {
  switch (c.kind) {
    case 'string':
      return { t: 'varchar' };
    case 'long':
      return { t: 'int64' };
    case 'double':
      return { t: 'double' };
    case 'boolean':
      return { t: 'bool' };
    case 'enum':
      return { t: 'index', symbols: c.symbols!.length };
    case 'timestamp':
      return { t: 'timestamptz' };
    case 'decimal':
      return { t: 'decimal', precision: c.precision!, scale: c.scale! };
  }
}

export class AvroDecoder implements Decoder {
  readonly contractName: string;
  readonly reader: avro.Type;
  readonly columns: readonly AvroColumn[];
  private readonly registry: SchemaRegistryClient;
  /** The contract's rules over the decoded columns. */
  readonly typed: TypedContract;
  /**
   * What it checks, as rejected records name them: the wire format and the Avro body
   * (field ''), then the contract's rules; the data-quality results report each every
   * batch, failed or not.
   */
  readonly rules: readonly RuleRef[];
  private readonly storage: Storage[];
  private readonly batch: ColumnBatch;
  private readonly cursor = new Cursor();
  /** Per writer schema id: its plan, or why its records cannot be read. */
  private readonly writers = new Map<number, WriterPlan | Unreadable>();
  /** The stage's columns as the reader's fields (enum indexes as their symbols). */
  private readonly innerSql: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: AvroDecoderOptions) {
    this.contractName = opts.contract.name;
    this.registry = opts.registry;
    this.reader = parseAvroSchema(opts.readerSchema, 'the reader schema');
    const { columns, problems } = readerColumns(this.reader);
    if (problems.length > 0) {
      throw new TributaryError(
        'SCHEMA_INVALID',
        `the reader schema: ${problems.map((p) => p.message).join('; ')}`,
      );
    }
    this.columns = columns;
    const specs = new Map(opts.contract.fields.map((f) => [f.name, f]));
    for (const f of opts.contract.fields) {
      if (!columns.some((c) => c.name === f.name)) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `contract field '${f.name}' is not a field of the reader schema`,
        );
      }
    }
    this.typed = compileTypedContract(
      columns.map((c) => ({
        spec: specs.get(c.name) ?? { name: c.name, type: c.contractType, required: !c.nullable },
        decoded: c.sqlType,
      })),
    );
    this.rules = [...AVRO_RULES.map((rule) => ({ field: '', rule })), ...this.typed.rules];
    this.storage = [...META, ...columns.map(storageOf)];
    this.batch = new ColumnBatch(this.storage);
    const fields = columns.map((c, i) => {
      const ref = `c${i}`;
      const value =
        c.kind === 'enum' ? `(${`[${c.symbols!.map(quoteString).join(', ')}]`})[${ref}::INTEGER + 1]` : ref;
      return `${value} AS ${quoteIdent(c.name)}`;
    });
    this.innerSql = `SELECT _o, _p, _t, ${fields.join(', ')} FROM ${STAGE}`;
  }

  /** SQL creating the stage table the columns are appended to. */
  private stageDdl(): string {
    const cols = this.storage.map((s, i) => `${i < 3 ? ['_o', '_p', '_t'][i] : `c${i - 3}`} ${sqlType(s)}`);
    return `CREATE OR REPLACE TEMP TABLE ${STAGE} (${cols.join(', ')})`;
  }

  decode(
    conn: DuckDBConnection,
    batches: readonly ValueBatch[],
    _explainConn: DuckDBConnection,
    raw: { table: string; shared: boolean } = { table: '__stream_raw', shared: false },
  ): Promise<DeferredDecodedBatch> {
    // One batch at a time: the column buffers and the stage table are the decoder's.
    const run = this.queue.then(() => this.decodeNow(conn, batches, raw));
    this.queue = run.catch(() => {});
    return run;
  }

  private async decodeNow(
    conn: DuckDBConnection,
    batches: readonly ValueBatch[],
    raw: { table: string; shared: boolean },
  ): Promise<DeferredDecodedBatch> {
    const unreadable = await this.loadWriters(batches);
    await conn.run(this.stageDdl());
    const appender = await conn.createAppender(STAGE, 'main', 'temp');
    let rejected: RejectedRecord[];
    try {
      rejected = this.fill(batches, unreadable, appender);
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const rawTable = raw.table;
    await conn.run(
      `CREATE OR REPLACE ${raw.shared ? '' : 'TEMP '}TABLE ${rawTable} AS SELECT _o, _p, _t, (${this.typed.validRow}) AS _ok, ${this.typed.outputs.join(', ')} FROM (${this.innerSql})`,
    );
    if (!raw.shared) {
      await conn.run(
        `CREATE OR REPLACE TEMP VIEW ${VALID_TABLE} AS SELECT * EXCLUDE (_ok) FROM ${rawTable} WHERE _ok`,
      );
    }
    const counts = (
      await conn.runAndReadAll(`SELECT count(*) FILTER (WHERE _ok) AS valid, count(*) AS n FROM ${rawTable}`)
    ).getRowObjects()[0];
    const valid = Number(counts.valid);
    const bad = Number(counts.n) - valid;
    if (bad > 0) rejected.push(...(await this.contractRejects(conn, batches)));
    rejected.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    return {
      validTable: VALID_TABLE,
      rawTable,
      valid,
      rejectedCount: rejected.length,
      rejected: Promise.resolve(rejected),
    };
  }

  /**
   * Looks up the writer schemas of the batch's records not seen before. A registry that
   * cannot be reached fails the batch; an id it does not have is the records' fault (for
   * this batch only: a later one asks again).
   */
  private async loadWriters(batches: readonly ValueBatch[]): Promise<Map<number, Unreadable>> {
    const wanted = new Set<number>();
    for (const b of batches) {
      const v = b.values;
      for (let i = 0; i < b.count; i++) {
        const start = i === 0 ? 0 : b.ends[i - 1] + 1;
        if (b.ends[i] - start >= HEADER_SIZE && v[start] === 0) {
          const id = schemaIdAt(v, start);
          if (!this.writers.has(id)) wanted.add(id);
        }
      }
    }
    const missing = new Map<number, Unreadable>();
    await Promise.all(
      [...wanted].map(async (id) => {
        let text: string;
        try {
          text = await this.registry.schemaById(id);
        } catch (err) {
          if (isTributaryError(err, 'SCHEMA_NOT_FOUND')) {
            missing.set(id, {
              rule: 'avro_schema_id',
              message: `schema id ${id} is not in the schema registry (written with a schema registered elsewhere, or not framed by a Confluent serializer)`,
            });
            return;
          }
          if (isTributaryError(err, 'SCHEMA_INVALID')) {
            this.writers.set(id, { rule: 'avro_schema_id', message: err.message });
            return;
          }
          throw err;
        }
        this.writers.set(id, this.plan(id, text));
      }),
    );
    return missing;
  }

  private plan(id: number, text: string): WriterPlan | Unreadable {
    let writer: avro.Type;
    try {
      writer = parseAvroSchema(text, `writer schema id ${id}`);
    } catch (err) {
      return { rule: 'avro_schema_id', message: (err as Error).message };
    }
    const plan = planWriter(writer, this.reader, this.columns, this.batch.columns.slice(3));
    if ('error' in plan) {
      return { rule: 'avro_resolve', message: `written with schema id ${id}: ${plan.error}` };
    }
    return plan;
  }

  /** Decodes every record into the column batch (appended a chunk at a time); returns the rejected ones. */
  private fill(
    batches: readonly ValueBatch[],
    unreadable: ReadonlyMap<number, Unreadable>,
    appender: Parameters<ColumnBatch['flush']>[0],
  ): RejectedRecord[] {
    const rejected: RejectedRecord[] = [];
    const batch = this.batch;
    const cols = batch.columns;
    const offsets = cols[0] as Int64Column;
    const partitions = (cols[1] as Int32Column).values;
    const times = cols[2] as Int64Column;
    const c = this.cursor;
    for (const b of batches) {
      // A plain view: a Buffer's subarray (one per long string) costs several times more.
      const v = new Uint8Array(b.values.buffer, b.values.byteOffset, b.values.byteLength);
      const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
      const reject = (i: number, start: number, rule: string, message: string) =>
        rejected.push({
          partition: b.partition,
          offset: b.offsets[i],
          timestamp: b.timestamps[i],
          value: b.ends[i] === start ? null : v.subarray(start, b.ends[i]),
          field: '',
          rule,
          message,
        });
      for (let i = 0; i < b.count; i++) {
        const start = i === 0 ? 0 : b.ends[i - 1] + 1;
        const end = b.ends[i];
        const framing = framingError(v, start, end);
        if (framing !== undefined) {
          reject(i, start, 'avro_magic', framing);
          continue;
        }
        const id = schemaIdAt(v, start);
        const w = this.writers.get(id) ?? unreadable.get(id)!;
        if ('rule' in w) {
          reject(i, start, w.rule, w.message);
          continue;
        }
        const row = batch.rows;
        c.reset(v, view, start + HEADER_SIZE, end);
        const steps = w.steps;
        let s = 0;
        try {
          for (; s < steps.length; s++) steps[s](c, row);
          if (c.pos !== end) {
            s = -1;
            throw new AvroRecordError(
              'avro_body',
              `${end - c.pos} byte${end - c.pos === 1 ? '' : 's'} left after the last field (not written with schema id ${id}, or corrupt)`,
            );
          }
        } catch (err) {
          if (!(err instanceof AvroRecordError)) throw err;
          batch.undoRow();
          const name = s >= 0 && s < w.names.length ? w.names[s] : undefined;
          const field = name === undefined || err.message.includes(`'${name}'`) ? '' : `field '${name}': `;
          reject(i, start, err.rule, `written with schema id ${id}: ${field}${err.message}`);
          continue;
        }
        offsets.set(row, b.offsets[i]);
        partitions[row] = b.partition;
        times.set(row, Math.trunc(b.timestamps[i]));
        batch.rows = row + 1;
        if (batch.rows === CHUNK_ROWS) batch.flush(appender);
      }
    }
    batch.flush(appender);
    return rejected;
  }

  /** The records that break a rule of the contract, with the rule (the first one, in field order). */
  private async contractRejects(
    conn: DuckDBConnection,
    batches: readonly ValueBatch[],
  ): Promise<RejectedRecord[]> {
    const rows = (
      await conn.runAndReadAll(
        `SELECT _p, _o, (${this.typed.violation}) AS why FROM (${this.innerSql}) WHERE NOT (${this.typed.validRow})`,
      )
    ).getRowObjects();
    return rows.map((r) => {
      const partition = Number(r._p);
      const offset = Number(r._o);
      const why = (r.why as { entries?: Record<string, unknown> } | null)?.entries ?? {};
      return {
        partition,
        offset,
        ...recordAt(batches, partition, offset),
        field: String(why.field ?? ''),
        rule: String(why.rule ?? 'contract'),
        message: String(why.message ?? 'rejected by the contract check'),
      };
    });
  }
}
