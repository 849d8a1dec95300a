/**
 * How to read records of one writer schema into the reader's columns: Avro schema
 * resolution (the specification's rules, checked first by avsc's resolver) turned into
 * one step per writer field — read into a reader column (with the specification's
 * promotions: int → long → float → double, bytes ↔ string, enum symbols by name), or
 * skip — then the reader's defaults for fields the writer lacks. Built once per writer
 * schema id and kept: ids never change what they name.
 *
 * What the reader cannot take from a record (a null in a field it requires, an enum
 * symbol it lacks, a union branch it cannot read) fails that record only
 * (`avro_resolve`); a writer schema it cannot read at all fails every record written
 * with it.
 */
import avro from 'avsc';
import type {
  AnyColumn,
  ByteColumn,
  DecimalColumn,
  DoubleColumn,
  Int64Column,
  Uint16Column,
  VarcharColumn,
} from './column-batch.ts';
import type { AvroColumn } from './columns.ts';
import { describeType } from './columns.ts';
import { AvroRecordError, type Cursor } from './cursor.ts';
import { LogicalAvroType, resolutionError, underlying } from './parse.ts';

/** Reads (or skips) one value of a record into row `row`. */
export type Step = (c: Cursor, row: number) => void;

export interface WriterPlan {
  steps: Step[];
  /** Per step, the field it reads (for messages). */
  names: string[];
}

const encoder = new TextEncoder();

/** The plan for `writer` into `columns` (of `reader`), or why the reader cannot read it. */
export function planWriter(
  writer: avro.Type,
  reader: avro.Type,
  columns: readonly AvroColumn[],
  out: readonly AnyColumn[],
): WriterPlan | { error: string } {
  const why = resolutionError(reader, writer);
  if (why !== undefined) return { error: `the reader schema cannot read it: ${why}` };
  if (!(writer instanceof avro.types.RecordType)) {
    return { error: `the writer schema is ${describeType(writer)}, not a record` };
  }
  const steps: Step[] = [];
  const names: string[] = [];
  const covered = new Set<number>();
  const skips = new Map<avro.Type, Step>();
  for (const wf of writer.fields) {
    const ci = columns.findIndex((c) => c.name === wf.name || (c.field.aliases ?? []).includes(wf.name));
    names.push(wf.name);
    if (ci < 0 || covered.has(ci)) {
      steps.push(skipper(wf.type, skips));
      continue;
    }
    covered.add(ci);
    const step = fieldReader(wf.type, columns[ci], out[ci]);
    if (typeof step === 'string') return { error: `field '${wf.name}': ${step}` };
    steps.push(step);
  }
  for (let ci = 0; ci < columns.length; ci++) {
    if (covered.has(ci)) continue;
    const step = defaultWriter(columns[ci], out[ci]);
    if (typeof step === 'string') return { error: `field '${columns[ci].name}': ${step}` };
    steps.push(step);
    names.push(columns[ci].name);
  }
  return { steps, names };
}

const resolveError = (message: string) => new AvroRecordError('avro_resolve', message);

/** A writer field's value (a union's branches included) into a reader column. */
function fieldReader(w: avro.Type, col: AvroColumn, out: AnyColumn): Step | string {
  if (!avro.Type.isType(w, 'union')) return valueReader(w, col, out);
  const branches = (w as avro.types.UnwrappedUnionType).types.map((b): Step => {
    if (b.typeName === 'null') {
      if (col.nullable) return (_c, row) => out.setNull(row);
      return () => {
        throw resolveError(
          `field '${col.name}' is null in the record, and the reader schema's field is not optional`,
        );
      };
    }
    const step = valueReader(b, col, out);
    if (typeof step !== 'string') return step;
    return () => {
      throw resolveError(
        `field '${col.name}' holds a ${describeType(b)}, which the reader cannot read: ${step}`,
      );
    };
  });
  const n = branches.length;
  return (c, row) => {
    const i = c.long();
    if (!(i >= 0 && i < n)) {
      throw new AvroRecordError(
        'avro_body',
        `union branch ${i} of field '${col.name}' does not exist (the union has ${n})`,
      );
    }
    branches[i](c, row);
  };
}

const TIMESTAMP_UNITS: Record<string, number> = { 'timestamp-millis': 1000, 'timestamp-micros': 1 };

/** A single (non-union) writer value into a reader column, or why it cannot be. */
function valueReader(w: avro.Type, col: AvroColumn, out: AnyColumn): Step | string {
  const u = underlying(w).typeName;
  const logical = w instanceof LogicalAvroType ? w.logicalName : undefined;
  switch (col.kind) {
    case 'string': {
      if (u !== 'string' && u !== 'bytes') break;
      const o = out as VarcharColumn;
      return (c, row) => {
        const len = c.length(`field '${col.name}'`);
        if (!o.set(row, c.buf, c.pos, len)) {
          throw new AvroRecordError('avro_body', `field '${col.name}' is not valid UTF-8 text`);
        }
        c.pos += len;
      };
    }
    case 'long': {
      if (u !== 'int' && u !== 'long') break;
      const o = out as Int64Column;
      return (c, row) => {
        const v = c.long();
        if (!Number.isNaN(v)) o.set(row, v);
        else o.setBig(row, c.wide);
      };
    }
    case 'double': {
      const o = (out as DoubleColumn).values;
      if (u === 'double')
        return (c, row) => {
          o[row] = c.double();
        };
      if (u === 'float')
        return (c, row) => {
          o[row] = c.float();
        };
      if (u === 'int' || u === 'long') {
        return (c, row) => {
          const v = c.long();
          o[row] = Number.isNaN(v) ? Number(c.wide) : v;
        };
      }
      break;
    }
    case 'boolean': {
      if (u !== 'boolean') break;
      const o = (out as ByteColumn).values;
      return (c, row) => {
        o[row] = c.boolean() ? 1 : 0;
      };
    }
    case 'enum': {
      if (u !== 'enum') break;
      const ws = (underlying(w) as avro.types.EnumType).symbols;
      const rs = col.symbols!;
      const fallback = (col.type as avro.types.EnumType & { default?: string }).default;
      const map = Int32Array.from(ws, (s) => {
        const i = rs.indexOf(s);
        return i >= 0 ? i : fallback !== undefined ? rs.indexOf(fallback) : -1;
      });
      const o = (out as ByteColumn | Uint16Column).values;
      return (c, row) => {
        const i = c.long();
        if (!(i >= 0 && i < map.length)) {
          throw new AvroRecordError(
            'avro_body',
            `enum index ${i} of field '${col.name}' is out of range (${map.length} symbols)`,
          );
        }
        const r = map[i];
        if (r < 0)
          throw resolveError(
            `field '${col.name}' is '${ws[i]}', a symbol the reader schema's enum does not have (and it has no default)`,
          );
        o[row] = r;
      };
    }
    case 'timestamp': {
      if (u !== 'long') break;
      if (logical !== undefined && !(logical in TIMESTAMP_UNITS)) {
        return `a ${logical} cannot be read as a timestamp-millis or timestamp-micros`;
      }
      // The writer's unit when it states one, else the reader's.
      const factor = TIMESTAMP_UNITS[logical ?? `timestamp-${col.unit}`];
      const o = out as Int64Column;
      return (c, row) => {
        const v = c.long();
        const micros = v * factor;
        if (Number.isSafeInteger(micros)) o.set(row, micros);
        else o.setBig(row, BigInt.asIntN(64, (Number.isNaN(v) ? c.wide : BigInt(v)) * BigInt(factor)));
      };
    }
    case 'decimal': {
      if (logical !== 'decimal' || !(w instanceof LogicalAvroType)) {
        return 'only a decimal can be read as a decimal (its scale gives the value)';
      }
      const scale = w.attrs.scale === undefined ? 0 : Number(w.attrs.scale);
      if (scale !== col.scale) {
        return `its scale is ${scale}, the reader's ${col.scale}: a decimal is read with the scale it was written with`;
      }
      const fixed = u === 'fixed' ? (w.underlyingType as avro.types.FixedType).size : -1;
      return decimalReader(col, out as DecimalColumn, fixed);
    }
  }
  return `a ${describeType(w)} cannot be read as ${describeType(col.type)}`;
}

/** A decimal's unscaled value: big-endian two's complement in `bytes` (or a fixed of `size`). */
function decimalReader(col: AvroColumn, o: DecimalColumn, size: number): Step {
  const limit = 10 ** col.precision!;
  const bigLimit = 10n ** BigInt(col.precision!);
  return (c, row) => {
    const len = size >= 0 ? size : c.length(`field '${col.name}'`);
    if (c.pos + len > c.end) throw c.truncated(`field '${col.name}'`);
    if (len === 0) throw new AvroRecordError('avro_body', `decimal field '${col.name}' has no bytes`);
    const buf = c.buf;
    const start = c.pos;
    c.pos += len;
    if (len <= 6) {
      let v = 0;
      for (let k = start; k < start + len; k++) v = v * 256 + buf[k];
      if (buf[start] & 0x80) v -= 256 ** len;
      if (Math.abs(v) >= limit) throw tooWide(col);
      o.set(row, v);
      return;
    }
    let v = 0n;
    for (let k = start; k < start + len; k++) v = (v << 8n) | BigInt(buf[k]);
    v = BigInt.asIntN(len * 8, v);
    if ((v < 0n ? -v : v) >= bigLimit) throw tooWide(col);
    o.setBig(row, v);
  };
}

const tooWide = (col: AvroColumn) =>
  new AvroRecordError(
    'avro_body',
    `decimal field '${col.name}' has more than ${col.precision} digits (the precision of its schema)`,
  );

/** A reader field the writer lacks: its default, in every record. */
function defaultWriter(col: AvroColumn, out: AnyColumn): Step | string {
  const d = (col.field as avro.types.Field & { defaultValue(): unknown }).defaultValue();
  if (d === undefined) return 'the writer schema lacks it and the reader schema gives no default';
  if (d === null) return (_c, row) => out.setNull(row);
  switch (col.kind) {
    case 'string': {
      const bytes = encoder.encode(String(d));
      const o = out as VarcharColumn;
      return (_c, row) => void o.set(row, bytes, 0, bytes.length);
    }
    case 'long':
    case 'timestamp': {
      const v = Number(d) * (col.kind === 'timestamp' && col.unit === 'millis' ? 1000 : 1);
      return (_c, row) => (out as Int64Column).set(row, v);
    }
    case 'double':
      return (_c, row) => {
        (out as DoubleColumn).values[row] = Number(d);
      };
    case 'boolean':
      return (_c, row) => {
        (out as ByteColumn).values[row] = d ? 1 : 0;
      };
    case 'enum': {
      const i = col.symbols!.indexOf(String(d));
      return (_c, row) => {
        (out as ByteColumn | Uint16Column).values[row] = i;
      };
    }
    case 'decimal': {
      const b = d as Uint8Array;
      let v = 0n;
      for (const x of b) v = (v << 8n) | BigInt(x);
      if (b.length > 0) v = BigInt.asIntN(b.length * 8, v);
      return (_c, row) => (out as DecimalColumn).setBig(row, v);
    }
  }
}

/** Skips a value of `t` (a writer field the reader does not read). */
function skipper(t: avro.Type, cache: Map<avro.Type, Step>): Step {
  const known = cache.get(t);
  if (known) return known;
  let impl: Step = () => {};
  const step: Step = (c, row) => impl(c, row);
  cache.set(t, step);
  impl = buildSkipper(t, cache);
  return step;
}

function buildSkipper(t: avro.Type, cache: Map<avro.Type, Step>): Step {
  const u = underlying(t);
  switch (u.typeName) {
    case 'null':
      return () => {};
    case 'boolean':
      return (c) => c.skip(1, 'a boolean');
    case 'int':
    case 'long':
    case 'enum':
      return (c) => void c.long();
    case 'float':
      return (c) => c.skip(4, 'a float');
    case 'double':
      return (c) => c.skip(8, 'a double');
    case 'string':
    case 'bytes':
      return (c) => c.skip(c.length('a string or bytes'), 'a string or bytes');
    case 'fixed': {
      const size = (u as avro.types.FixedType).size;
      return (c) => c.skip(size, 'a fixed');
    }
    case 'record': {
      const fields = (u as avro.types.RecordType).fields.map((f) => skipper(f.type, cache));
      return (c, row) => {
        for (const f of fields) f(c, row);
      };
    }
    case 'array':
    case 'map': {
      const item = skipper(
        u.typeName === 'array' ? (u as avro.types.ArrayType).itemsType : (u as avro.types.MapType).valuesType,
        cache,
      );
      const isMap = u.typeName === 'map';
      return (c, row) => {
        for (;;) {
          let n = c.long();
          if (n === 0) return;
          if (n < 0) {
            // A block with its size in bytes: skipped whole.
            c.skip(c.length('an array or map block'), 'an array or map block');
            continue;
          }
          if (!(n <= c.end - c.pos)) throw c.truncated('an array or map');
          for (; n > 0; n--) {
            if (isMap) c.skip(c.length('a map key'), 'a map key');
            item(c, row);
          }
        }
      };
    }
    default: {
      const branches = (u as avro.types.UnwrappedUnionType).types.map((b) => skipper(b, cache));
      return (c, row) => {
        const i = c.long();
        if (!(i >= 0 && i < branches.length)) {
          throw new AvroRecordError(
            'avro_body',
            `union branch ${i} does not exist (the union has ${branches.length})`,
          );
        }
        branches[i](c, row);
      };
    }
  }
}
