/**
 * Rows → Avro records in Confluent's wire format, for our own producers (a topic sink
 * with `format: avro`). The schema is made from the rows' DuckDB column types — a record
 * named after the sink, every field nullable (`["null", T]`, default null), timestamps as
 * `timestamp-micros`, DECIMAL(p, s) as `decimal` bytes — or given (an `.avsc`), and is
 * registered once under the topic's subject (`<topic>-value`, Confluent's
 * TopicNameStrategy); its id frames every record, so Confluent's deserializers read them.
 *
 * Values are read from DuckDB in plain forms (text, integers, epoch microseconds) chosen
 * per column (`select`), then written by a small Avro binary writer: exact for every
 * 64-bit long and every decimal digit.
 */

import type avro from 'avsc';
import { TributaryError } from '../../core/errors.ts';
import { quoteIdent } from '../../core/sql.ts';
import { describeType } from './columns.ts';
import { LogicalAvroType, parseAvroSchema } from './parse.ts';
import type { SchemaRegistryClient } from './registry-client.ts';
import { HEADER_SIZE } from './wire.ts';
import { AvroWriter, decimalBytes, unscaled } from './writer.ts';

/** A column of the rows: its name and DuckDB type (as DuckDB prints it). */
export interface RowColumn {
  name: string;
  type: string;
}

type Write = (out: AvroWriter, v: unknown) => void;

interface FieldPlan {
  /** SQL over the row `r` giving the value in the form `write` takes. */
  select: (r: string) => string;
  write: Write;
}

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const asNumber = (v: unknown) => (typeof v === 'bigint' ? Number(v) : (v as number));

/** How a DuckDB column is written as an Avro type of its own choosing. */
function fromColumn(c: RowColumn, at: string): { schema: unknown; plan: FieldPlan } {
  const t = c.type.toUpperCase();
  const col = (r: string) => `${r}.${quoteIdent(c.name)}`;
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) {
    const [precision, scale] = [Number(decimal[1]), Number(decimal[2])];
    return {
      schema: { type: 'bytes', logicalType: 'decimal', precision, scale },
      plan: {
        select: (r) => `${col(r)}::VARCHAR`,
        write: (o, v) => o.bytes(decimalBytes(unscaled(String(v), scale))),
      },
    };
  }
  switch (t) {
    case 'VARCHAR':
      return { schema: 'string', plan: { select: col, write: (o, v) => o.string(String(v)) } };
    case 'UUID':
      return {
        schema: { type: 'string', logicalType: 'uuid' },
        plan: { select: (r) => `${col(r)}::VARCHAR`, write: (o, v) => o.string(String(v)) },
      };
    case 'BOOLEAN':
      return { schema: 'boolean', plan: { select: col, write: (o, v) => o.boolean(Boolean(v)) } };
    case 'TINYINT':
    case 'SMALLINT':
    case 'INTEGER':
    case 'UTINYINT':
    case 'USMALLINT':
      return {
        schema: 'int',
        plan: { select: (r) => `${col(r)}::INTEGER`, write: (o, v) => o.long(asNumber(v)) },
      };
    case 'BIGINT':
    case 'UINTEGER':
    case 'UBIGINT':
    case 'HUGEINT':
    case 'UHUGEINT':
      // Wider integers (a sum of BIGINTs is a HUGEINT) must fit a long: DuckDB's cast says if not.
      return {
        schema: 'long',
        plan: { select: (r) => `${col(r)}::BIGINT`, write: (o, v) => o.long(v as bigint) },
      };
    case 'FLOAT':
      return { schema: 'float', plan: { select: col, write: (o, v) => o.float(v as number) } };
    case 'DOUBLE':
      return { schema: 'double', plan: { select: col, write: (o, v) => o.double(v as number) } };
    case 'TIMESTAMP WITH TIME ZONE':
    case 'TIMESTAMP':
    case 'TIMESTAMPTZ':
      return {
        schema: { type: 'long', logicalType: 'timestamp-micros' },
        plan: { select: (r) => `epoch_us(${col(r)})`, write: (o, v) => o.long(v as bigint) },
      };
    case 'DATE':
      return {
        schema: { type: 'int', logicalType: 'date' },
        plan: {
          select: (r) => `datediff('day', DATE '1970-01-01', ${col(r)})::INTEGER`,
          write: (o, v) => o.long(asNumber(v)),
        },
      };
    case 'BLOB':
      return { schema: 'bytes', plan: { select: col, write: (o, v) => o.bytes(blobBytes(v)) } };
  }
  throw new TributaryError(
    'CONFIG_INVALID',
    `${at}: column '${c.name}' is ${c.type}, which has no Avro form here (supported: text, integers, floating point, DECIMAL, BOOLEAN, TIMESTAMP, DATE, UUID, BLOB); cast or flatten it in the sink's SQL`,
  );
}

function blobBytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? v : (v as { bytes: Uint8Array }).bytes;
}

/** How a column is written as the given Avro type `t` (not null), or why it cannot be. */
function toGiven(c: RowColumn, t: avro.Type, at: string): FieldPlan {
  const dt = c.type.toUpperCase();
  const col = (r: string) => `${r}.${quoteIdent(c.name)}`;
  const refuse = (): never => {
    throw new TributaryError(
      'CONFIG_INVALID',
      `${at}: column '${c.name}' (${c.type}) cannot be written as the schema's ${describeType(t)}`,
    );
  };
  const isInt = /INT/.test(dt) && !/INTERVAL/.test(dt);
  const isNum = isInt || /DECIMAL|DOUBLE|FLOAT|REAL/.test(dt);
  const isTime = dt.startsWith('TIMESTAMP');
  if (t instanceof LogicalAvroType) {
    if (t.logicalName === 'decimal' && isNum) {
      const scale = t.attrs.scale === undefined ? 0 : Number(t.attrs.scale);
      const precision = Number(t.attrs.precision);
      const size =
        t.underlyingType.typeName === 'fixed' ? (t.underlyingType as avro.types.FixedType).size : -1;
      return {
        select: (r) => `${col(r)}::DECIMAL(${precision}, ${scale})::VARCHAR`,
        write: (o, v) => {
          const b = decimalBytes(unscaled(String(v), scale));
          if (size < 0) return o.bytes(b);
          // A fixed holds the value sign-extended to its size.
          o.ensure(size);
          o.buf.fill(b[0] & 0x80 ? 0xff : 0, o.pos, o.pos + size - b.length);
          o.buf.set(b, o.pos + size - b.length);
          o.pos += size;
        },
      };
    }
    if ((t.logicalName === 'timestamp-millis' || t.logicalName === 'timestamp-micros') && isTime) {
      const fn = t.logicalName === 'timestamp-millis' ? 'epoch_ms' : 'epoch_us';
      return { select: (r) => `${fn}(${col(r)})`, write: (o, v) => o.long(v as bigint) };
    }
    if (t.logicalName === 'date' && dt === 'DATE') {
      return {
        select: (r) => `datediff('day', DATE '1970-01-01', ${col(r)})::INTEGER`,
        write: (o, v) => o.long(asNumber(v)),
      };
    }
    if (t.logicalName === 'uuid' && (dt === 'UUID' || dt === 'VARCHAR')) {
      return { select: (r) => `${col(r)}::VARCHAR`, write: (o, v) => o.string(String(v)) };
    }
    return refuse();
  }
  switch (t.typeName) {
    case 'string':
      if (dt !== 'VARCHAR' && dt !== 'UUID') refuse();
      return { select: (r) => `${col(r)}::VARCHAR`, write: (o, v) => o.string(String(v)) };
    case 'enum': {
      if (dt !== 'VARCHAR') refuse();
      const symbols = (t as avro.types.EnumType).symbols;
      return {
        select: col,
        write: (o, v) => {
          const i = symbols.indexOf(String(v));
          if (i < 0) {
            throw new TributaryError(
              'TABLE_SCHEMA_MISMATCH',
              `${at}: column '${c.name}' is '${v}', not a symbol of the schema's enum (${symbols.join(', ')})`,
            );
          }
          o.long(i);
        },
      };
    }
    case 'int':
    case 'long':
      if (!isInt) refuse();
      return { select: (r) => `${col(r)}::BIGINT`, write: (o, v) => o.long(v as bigint) };
    case 'float':
    case 'double':
      if (!isNum) refuse();
      return {
        select: (r) => `${col(r)}::DOUBLE`,
        write: t.typeName === 'float' ? (o, v) => o.float(v as number) : (o, v) => o.double(v as number),
      };
    case 'boolean':
      if (dt !== 'BOOLEAN') refuse();
      return { select: col, write: (o, v) => o.boolean(Boolean(v)) };
    case 'bytes':
      if (dt !== 'BLOB') refuse();
      return { select: col, write: (o, v) => o.bytes(blobBytes(v)) };
  }
  return refuse();
}

/** A field writer with its null branch (a union `["null", T]` or `[T, "null"]`), or none. */
function withNull(plan: FieldPlan, nullIndex: number | undefined, name: string, at: string): FieldPlan {
  if (nullIndex === undefined) {
    return {
      select: plan.select,
      write: (o, v) => {
        if (v === null || v === undefined) {
          throw new TributaryError(
            'TABLE_SCHEMA_MISMATCH',
            `${at}: column '${name}' is null, and the Avro schema's field is not nullable`,
          );
        }
        plan.write(o, v);
      },
    };
  }
  const valueIndex = nullIndex === 0 ? 1 : 0;
  return {
    select: plan.select,
    write: (o, v) => {
      if (v === null || v === undefined) return o.long(nullIndex);
      o.long(valueIndex);
      plan.write(o, v);
    },
  };
}

export interface AvroEncoderOptions {
  /** Where the schema is registered (once), under `subject`. */
  registry: SchemaRegistryClient;
  subject: string;
  /** The rows' columns, in order. */
  columns: readonly RowColumn[];
  /** The record's name when the schema is made from the columns (an Avro name: the sink's). */
  name: string;
  /** The schema to write with (Avro JSON text); default: made from the columns. */
  schema?: string;
  /** Names the encoder in messages (`sink 'x'`). */
  where?: string;
}

/** Writes rows as framed Avro records with one registered schema. */
export class AvroRowEncoder {
  /** The schema records are written with (JSON text). */
  readonly schema: string;
  private readonly fields: FieldPlan[];
  private readonly opts: AvroEncoderOptions;
  private id: number | undefined;
  private readonly out = new AvroWriter();

  constructor(opts: AvroEncoderOptions) {
    this.opts = opts;
    const at = opts.where ?? `the Avro encoder of ${opts.subject}`;
    if (opts.schema === undefined) {
      const name = opts.name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^([0-9])/, '_$1');
      const fields: unknown[] = [];
      this.fields = opts.columns.map((c) => {
        if (!AVRO_NAME.test(c.name)) {
          throw new TributaryError(
            'CONFIG_INVALID',
            `${at}: column '${c.name}' is not an Avro field name (letters, digits and _, not starting with a digit); rename it in the sink's SQL`,
          );
        }
        const { schema, plan } = fromColumn(c, at);
        fields.push({ name: c.name, type: ['null', schema], default: null });
        return withNull(plan, 0, c.name, at);
      });
      this.schema = JSON.stringify({ type: 'record', name, namespace: 'tributary', fields });
    } else {
      this.schema = opts.schema;
      const type = parseAvroSchema(opts.schema, `${at}: the Avro schema`) as avro.types.RecordType;
      if (type.typeName !== 'record') {
        throw new TributaryError(
          'CONFIG_INVALID',
          `${at}: the Avro schema must be a record, got ${describeType(type)}`,
        );
      }
      const byName = new Map(opts.columns.map((c) => [c.name, c]));
      const extra = opts.columns.filter((c) => !type.fields.some((f) => f.name === c.name));
      if (extra.length > 0) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `${at}: the rows have columns the Avro schema lacks (${extra.map((c) => c.name).join(', ')}); select only the schema's fields in the sink's SQL`,
        );
      }
      this.fields = type.fields.map((f) => {
        const c = byName.get(f.name);
        let ft = f.type;
        let nullIndex: number | undefined;
        if (ft.typeName.startsWith('union')) {
          const branches = (ft as avro.types.UnwrappedUnionType).types;
          const others = branches.filter((b) => b.typeName !== 'null');
          if (others.length !== 1 || branches.length > 2) {
            throw new TributaryError(
              'CONFIG_INVALID',
              `${at}: field '${f.name}' is ${describeType(ft)}: only T or ["null", T] can be written`,
            );
          }
          nullIndex = branches.length === 2 ? branches.findIndex((b) => b.typeName === 'null') : undefined;
          ft = others[0];
        }
        if (!c) {
          if (nullIndex === undefined) {
            throw new TributaryError(
              'CONFIG_INVALID',
              `${at}: the rows have no column '${f.name}', which the Avro schema requires`,
            );
          }
          // Not in the rows: null (its default).
          return { select: () => 'NULL', write: (o: AvroWriter) => o.long(nullIndex!) };
        }
        return withNull(toGiven(c, ft, at), nullIndex, c.name, at);
      });
    }
  }

  /** The select-list (over the row `r`) whose values `encode` takes, in order. */
  select(r: string): string[] {
    return this.fields.map((f, i) => `${f.select(r)} AS __v${i}`);
  }

  /** Registers the schema under the subject, once (the registry answers the same id again). */
  async open(): Promise<number> {
    this.id ??= await this.opts.registry.register(this.opts.subject, this.schema);
    return this.id;
  }

  /** One framed record from the row's values (as `select` gives them). */
  encode(values: readonly unknown[]): Uint8Array {
    if (this.id === undefined) throw new Error('AvroRowEncoder.open() first');
    const o = this.out;
    o.pos = 0;
    o.ensure(HEADER_SIZE);
    o.buf[0] = 0;
    o.view.setUint32(1, this.id, false);
    o.pos = HEADER_SIZE;
    for (let i = 0; i < this.fields.length; i++) this.fields[i].write(o, values[i]);
    return o.buf.slice(0, o.pos);
  }
}
