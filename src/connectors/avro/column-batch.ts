/**
 * Decoded values straight into DuckDB: each column of a chunk of 2,048 rows (DuckDB's
 * vector size) is filled in a typed array of DuckDB's own layout, then copied into a data
 * chunk's vector in one call and the chunk appended to a table. No JavaScript object or
 * string per record: numbers are written as numbers, and a string of up to 12 bytes is
 * copied into its 16-byte `string_t` (length + the bytes inline, as DuckDB stores short
 * strings); a longer one is handed over as a view of the record's bytes (one call each).
 *
 * Measured against decoding with avsc and setting values through @duckdb/node-api's
 * vectors (bench/avro-decode.ts, docs/avro.md): this is what makes Avro decoding cheap.
 *
 * The raw vector calls are @duckdb/node-bindings' (the binding @duckdb/node-api is built
 * on, at the version it pins): node-api's vectors set strings one call each, even short
 * ones.
 */
import { isUtf8 } from 'node:buffer';
import {
  BIGINT,
  BOOLEAN,
  DECIMAL,
  DOUBLE,
  type DuckDBAppender,
  DuckDBDataChunk,
  type DuckDBType,
  INTEGER,
  TIMESTAMPTZ,
  USMALLINT,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';

export const CHUNK_ROWS = 2048;
const TWO_32 = 4294967296;

/** What a column holds, as DuckDB stores it. */
export type Storage =
  | { t: 'varchar' }
  | { t: 'int64' }
  | { t: 'int32' }
  | { t: 'double' }
  | { t: 'bool' }
  | { t: 'timestamptz' }
  /** An index into a list of symbols (an enum), mapped to text in SQL. */
  | { t: 'index'; symbols: number }
  | { t: 'decimal'; precision: number; scale: number };

abstract class Column {
  /** One bit per row (1: valid), 64 words of 32 bits. */
  readonly validity = new Uint32Array(CHUNK_ROWS / 32).fill(0xffffffff);
  hasNull = false;

  setNull(row: number): void {
    this.validity[row >> 5] &= ~(1 << (row & 31));
    this.hasNull = true;
  }

  /** Undoes what a record rejected half-way wrote in `row`. */
  undo(row: number): void {
    this.validity[row >> 5] |= 1 << (row & 31);
  }

  abstract data(rows: number): Uint8Array;

  /** Writes the chunk's rows into `vector`. */
  fill(vector: duckdb.Vector, rows: number): void {
    const d = this.data(rows);
    duckdb.copy_data_to_vector(vector, 0, d.buffer as ArrayBuffer, d.byteOffset, d.byteLength);
    if (this.hasNull) {
      duckdb.vector_ensure_validity_writable(vector);
      const words = Math.ceil(rows / 64) * 2;
      duckdb.copy_data_to_vector_validity(vector, 0, this.validity.buffer as ArrayBuffer, 0, words * 4);
    }
  }

  reset(): void {
    if (this.hasNull) this.validity.fill(0xffffffff);
    this.hasNull = false;
  }
}

export class VarcharColumn extends Column {
  /** DuckDB's string_t per row: 4 bytes of length, then 12 bytes (inline) or prefix + pointer. */
  readonly entries = new Uint8Array(CHUNK_ROWS * 16);
  private readonly lengths = new Uint32Array(this.entries.buffer);
  private refRows = new Int32Array(64);
  private refStarts = new Int32Array(64);
  private refLens = new Int32Array(64);
  private refBufs: Uint8Array[] = [];
  private refs = 0;

  /** Sets `buf[start, start + len)` as the value; false when it is not UTF-8. */
  set(row: number, buf: Uint8Array, start: number, len: number): boolean {
    const e = this.entries;
    const o = row * 16;
    const end = start + len;
    let k = start;
    if (len <= 12) {
      this.lengths[row * 4] = len;
      let p = o + 4;
      for (; k < end; k++) {
        const b = buf[k];
        if (b >= 0x80) break;
        e[p++] = b;
      }
      if (k < end) {
        if (!isUtf8(buf.subarray(start, end))) return false;
        for (; k < end; k++) e[p++] = buf[k];
      }
      for (; p < o + 16; p++) e[p] = 0;
      return true;
    }
    for (; k < end; k++) if (buf[k] >= 0x80) break;
    if (k < end && !isUtf8(buf.subarray(start, end))) return false;
    this.lengths[row * 4] = 0;
    const i = this.refs++;
    if (i === this.refRows.length) this.grow();
    this.refRows[i] = row;
    this.refStarts[i] = start;
    this.refLens[i] = len;
    this.refBufs[i] = buf;
    return true;
  }

  private grow(): void {
    const more = (a: Int32Array) => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.refRows = more(this.refRows);
    this.refStarts = more(this.refStarts);
    this.refLens = more(this.refLens);
  }

  override undo(row: number): void {
    super.undo(row);
    if (this.refs > 0 && this.refRows[this.refs - 1] === row) this.refs--;
  }

  data(rows: number): Uint8Array {
    return this.entries.subarray(0, rows * 16);
  }

  override fill(vector: duckdb.Vector, rows: number): void {
    super.fill(vector, rows);
    for (let i = 0; i < this.refs; i++) {
      const s = this.refStarts[i];
      duckdb.vector_assign_string_element_len(
        vector,
        this.refRows[i],
        this.refBufs[i].subarray(s, s + this.refLens[i]),
      );
    }
  }

  override reset(): void {
    super.reset();
    this.refs = 0;
    this.refBufs.length = 0;
  }
}

/** BIGINT and TIMESTAMPTZ (microseconds): 64-bit integers, written as two 32-bit halves. */
export class Int64Column extends Column {
  private readonly words = new Int32Array(CHUNK_ROWS * 2);
  private readonly big = new BigInt64Array(this.words.buffer);

  /** `v` a whole number within ±2^53. */
  set(row: number, v: number): void {
    const hi = Math.floor(v / TWO_32);
    this.words[row * 2] = v - hi * TWO_32;
    this.words[row * 2 + 1] = hi;
  }

  setBig(row: number, v: bigint): void {
    this.big[row] = v;
  }

  data(rows: number): Uint8Array {
    return new Uint8Array(this.words.buffer, 0, rows * 8);
  }
}

export class Int32Column extends Column {
  readonly values = new Int32Array(CHUNK_ROWS);
  data(rows: number): Uint8Array {
    return new Uint8Array(this.values.buffer, 0, rows * 4);
  }
}

export class DoubleColumn extends Column {
  readonly values = new Float64Array(CHUNK_ROWS);
  data(rows: number): Uint8Array {
    return new Uint8Array(this.values.buffer, 0, rows * 8);
  }
}

/** BOOLEAN (one byte, 0 or 1) and enum indexes of up to 256 symbols. */
export class ByteColumn extends Column {
  readonly values = new Uint8Array(CHUNK_ROWS);
  data(rows: number): Uint8Array {
    return this.values.subarray(0, rows);
  }
}

export class Uint16Column extends Column {
  readonly values = new Uint16Array(CHUNK_ROWS);
  data(rows: number): Uint8Array {
    return new Uint8Array(this.values.buffer, 0, rows * 2);
  }
}

/**
 * DECIMAL(p, s): the unscaled value as DuckDB stores it for the precision: 16, 32, 64 or
 * 128 bits.
 */
export class DecimalColumn extends Column {
  readonly bytes: number;
  private readonly words: Int32Array;
  private readonly halves: Int16Array;
  private readonly big: BigInt64Array;

  constructor(precision: number) {
    super();
    this.bytes = precision <= 4 ? 2 : precision <= 9 ? 4 : precision <= 18 ? 8 : 16;
    this.words = new Int32Array(Math.max(2, (CHUNK_ROWS * this.bytes) / 4));
    this.halves = new Int16Array(this.words.buffer);
    this.big = new BigInt64Array(this.words.buffer);
  }

  /** `v`: the unscaled value, a whole number within ±2^53. */
  set(row: number, v: number): void {
    if (this.bytes === 2) this.halves[row] = v;
    else if (this.bytes === 4) this.words[row] = v;
    else {
      const hi = Math.floor(v / TWO_32);
      const w = (row * this.bytes) / 4;
      this.words[w] = v - hi * TWO_32;
      this.words[w + 1] = hi;
      if (this.bytes === 16) {
        this.words[w + 2] = hi < 0 ? -1 : 0;
        this.words[w + 3] = hi < 0 ? -1 : 0;
      }
    }
  }

  setBig(row: number, v: bigint): void {
    if (this.bytes <= 4) this.set(row, Number(v));
    else if (this.bytes === 8) this.big[row] = v;
    else {
      this.big[row * 2] = BigInt.asIntN(64, v);
      this.big[row * 2 + 1] = BigInt.asIntN(64, v >> 64n);
    }
  }

  data(rows: number): Uint8Array {
    return new Uint8Array(this.words.buffer, 0, rows * this.bytes);
  }
}

export type AnyColumn =
  | VarcharColumn
  | Int64Column
  | Int32Column
  | DoubleColumn
  | ByteColumn
  | Uint16Column
  | DecimalColumn;

export function makeColumn(s: Storage): AnyColumn {
  switch (s.t) {
    case 'varchar':
      return new VarcharColumn();
    case 'int64':
    case 'timestamptz':
      return new Int64Column();
    case 'int32':
      return new Int32Column();
    case 'double':
      return new DoubleColumn();
    case 'bool':
      return new ByteColumn();
    case 'index':
      return s.symbols <= 256 ? new ByteColumn() : new Uint16Column();
    case 'decimal':
      return new DecimalColumn(s.precision);
  }
}

export function duckType(s: Storage): DuckDBType {
  switch (s.t) {
    case 'varchar':
      return VARCHAR;
    case 'int64':
      return BIGINT;
    case 'timestamptz':
      return TIMESTAMPTZ;
    case 'int32':
      return INTEGER;
    case 'double':
      return DOUBLE;
    case 'bool':
      return BOOLEAN;
    case 'index':
      return s.symbols <= 256 ? UTINYINT : USMALLINT;
    case 'decimal':
      return DECIMAL(s.precision, s.scale);
  }
}

/** The SQL type of a stage column. */
export function sqlType(s: Storage): string {
  return duckType(s).toString();
}

/** Rows of columns, appended to a table a chunk at a time. */
export class ColumnBatch {
  readonly columns: AnyColumn[];
  private readonly chunk: DuckDBDataChunk;
  /** Rows filled in the current chunk. */
  rows = 0;
  /** Rows appended in all. */
  appended = 0;

  constructor(storage: readonly Storage[]) {
    this.columns = storage.map(makeColumn);
    this.chunk = DuckDBDataChunk.create(storage.map(duckType));
  }

  /** Undoes the current row (a record rejected half-way). */
  undoRow(): void {
    for (const c of this.columns) c.undo(this.rows);
  }

  /** Appends the chunk's rows (if any) and starts a new chunk. */
  flush(appender: DuckDBAppender): void {
    const rows = this.rows;
    if (rows === 0) return;
    const raw = this.chunk.chunk;
    duckdb.data_chunk_reset(raw);
    for (let i = 0; i < this.columns.length; i++) {
      this.columns[i].fill(duckdb.data_chunk_get_vector(raw, i), rows);
    }
    duckdb.data_chunk_set_size(raw, rows);
    appender.appendDataChunk(this.chunk);
    for (const c of this.columns) c.reset();
    this.appended += rows;
    this.rows = 0;
  }
}
