/**
 * Column types between DuckDB (where a batch's rows are computed) and PostgreSQL (where
 * the sink writes them): the PostgreSQL type a column gets when the sink creates its
 * table, and the SQL that renders a DuckDB value as text PostgreSQL reads back exactly
 * (values travel as text arrays: one `unnest` per column, cast on the server).
 *
 * Timestamps without a zone are UTC, as everywhere in Tributary (Delta's `timestamp` is
 * UTC): both DuckDB timestamp types become `timestamptz`, sent with an explicit `+00`, so
 * neither DuckDB's nor the server's session time zone changes a value.
 */
import { type DuckDBDecimalType, type DuckDBType, DuckDBTypeId } from '@duckdb/node-api';
import { quoteIdent } from '../../core/sql.ts';

/** The PostgreSQL type for a column of DuckDB type `t`. */
export function postgresType(t: DuckDBType): string {
  switch (t.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return 'boolean';
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.UTINYINT:
      return 'smallint';
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.USMALLINT:
      return 'integer';
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER:
      return 'bigint';
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UBIGINT:
      return 'numeric(38,0)';
    case DuckDBTypeId.FLOAT:
      return 'real';
    case DuckDBTypeId.DOUBLE:
      return 'double precision';
    case DuckDBTypeId.DECIMAL: {
      const d = t as DuckDBDecimalType;
      return `numeric(${d.width},${d.scale})`;
    }
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.ENUM:
      return t.alias === 'JSON' ? 'jsonb' : 'text';
    case DuckDBTypeId.UUID:
      return 'uuid';
    case DuckDBTypeId.BLOB:
      return 'bytea';
    case DuckDBTypeId.DATE:
      return 'date';
    case DuckDBTypeId.TIME:
      return 'time';
    case DuckDBTypeId.INTERVAL:
      return 'interval';
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return 'timestamptz';
    default:
      // Lists, structs, maps: a JSON document.
      return 'jsonb';
  }
}

/** SQL (DuckDB) rendering column `name` of type `t` as text PostgreSQL parses back exactly. */
export function textExpr(name: string, t: DuckDBType): string {
  const c = quoteIdent(name);
  switch (t.typeId) {
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return `strftime(${c}::TIMESTAMP, '%Y-%m-%d %H:%M:%S.%f') || '+00'`;
    case DuckDBTypeId.TIMESTAMP_TZ:
      return `strftime(${c} AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f') || '+00'`;
    case DuckDBTypeId.BLOB:
      return `'\\x' || hex(${c})`;
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
    case DuckDBTypeId.STRUCT:
    case DuckDBTypeId.MAP:
      return `to_json(${c})::VARCHAR`;
    default:
      return `${c}::VARCHAR`;
  }
}
