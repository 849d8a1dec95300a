"""Normalised JSON form of Delta table rows, shared by the interop scripts.

Rows must compare equal across two implementations whose native value types differ,
so every value is reduced to plain JSON by its Arrow type:
- int64 as a decimal string (JSON numbers lose precision above 2^53),
- decimals as strings with their scale ("12.30"),
- timestamps as ISO-8601 UTC with microseconds ("2026-01-01T00:00:00.000000Z"),
- dates as yyyy-mm-dd, binary as lowercase hex,
- NaN and infinities as the strings "NaN", "Infinity", "-Infinity",
- maps as objects keyed by the key (string keys) or the JSON text of its normalised value.
Rows are sorted by their canonical JSON text so order does not matter.
"""

import datetime
import json
import math

import pyarrow as pa


def norm_value(value, typ):
    if value is None:
        return None
    if pa.types.is_int64(typ) or pa.types.is_uint64(typ):
        return str(value)
    if pa.types.is_integer(typ):
        return int(value)
    if pa.types.is_floating(typ):
        f = float(value)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    if pa.types.is_decimal(typ):
        return format(value, "f")
    if pa.types.is_boolean(typ):
        return bool(value)
    if pa.types.is_timestamp(typ):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        value = value.astimezone(datetime.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if pa.types.is_date(typ):
        return value.isoformat()
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or pa.types.is_binary_view(typ):
        return bytes(value).hex()
    if pa.types.is_struct(typ):
        return {typ.field(i).name: norm_value(value.get(typ.field(i).name), typ.field(i).type)
                for i in range(typ.num_fields)}
    if pa.types.is_map(typ):
        text_keys = pa.types.is_string(typ.key_type) or pa.types.is_large_string(typ.key_type)
        return {k if text_keys else json.dumps(norm_value(k, typ.key_type)):
                norm_value(v, typ.item_type) for k, v in value}
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_list_view(typ):
        return [norm_value(v, typ.value_type) for v in value]
    if pa.types.is_dictionary(typ):
        return norm_value(value, typ.value_type)
    return value


def norm_table(table):
    """Sorted list of normalised row objects of a pyarrow Table."""
    columns = []
    for i, field in enumerate(table.schema):
        columns.append((field.name, field.type, table.column(i).to_pylist()))
    rows = []
    for r in range(table.num_rows):
        rows.append({name: norm_value(values[r], typ) for name, typ, values in columns})
    rows.sort(key=lambda row: json.dumps(row, sort_keys=True))
    return rows


def describe(dt):
    """Version, schema, partition columns, files and normalised rows of a DeltaTable."""
    meta = dt.metadata()
    protocol = dt.protocol()
    return {
        "version": dt.version(),
        "schema": json.loads(dt.schema().to_json()),
        "partitionColumns": list(meta.partition_columns),
        "configuration": dict(meta.configuration),
        "protocol": {"minReaderVersion": protocol.min_reader_version,
                     "minWriterVersion": protocol.min_writer_version},
        "files": sorted(dt.file_uris()),
        "rows": norm_table(dt.to_pyarrow_table()),
    }
