"""Normalised JSON form of rows Spark reads, and Python values Spark writes.

The normal form is test/interop/py/normalize.py's (so rows compare equal with delta-rs,
with our readRows and with the fixtures): int64 and decimals as strings, timestamps as
ISO-8601 UTC with microseconds, dates yyyy-mm-dd, binary lowercase hex, NaN/infinities
as strings, maps as objects keyed by the key (string keys) or the JSON text of the
normalised key. Here it is driven by Spark's DataTypes instead of Arrow's.
"""

import datetime
import decimal
import json
import math

from pyspark.sql import types as T

# decimal(38, s) needs more digits than Python's default context (28) to quantize.
_CONTEXT = decimal.Context(prec=80)


def norm_value(value, typ):
    if value is None:
        return None
    if isinstance(typ, T.LongType):
        return str(value)
    if isinstance(typ, (T.IntegerType, T.ShortType, T.ByteType)):
        return int(value)
    if isinstance(typ, (T.DoubleType, T.FloatType)):
        f = float(value)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    if isinstance(typ, T.DecimalType):
        exp = decimal.Decimal(1).scaleb(-typ.scale)
        return format(decimal.Decimal(value).quantize(exp, context=_CONTEXT), "f")
    if isinstance(typ, T.BooleanType):
        return bool(value)
    if isinstance(typ, T.TimestampType):
        # Naive means local, and spark_session.py made local UTC.
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(typ, T.DateType):
        return value.isoformat()
    if isinstance(typ, T.BinaryType):
        return bytes(value).hex()
    if isinstance(typ, T.StringType):
        return str(value)
    if isinstance(typ, T.StructType):
        return {f.name: norm_value(value[f.name], f.dataType) for f in typ.fields}
    if isinstance(typ, T.MapType):
        text_keys = isinstance(typ.keyType, T.StringType)
        return {k if text_keys else json.dumps(norm_value(k, typ.keyType)):
                norm_value(v, typ.valueType) for k, v in value.items()}
    if isinstance(typ, T.ArrayType):
        return [norm_value(v, typ.elementType) for v in value]
    raise ValueError(f"cannot normalise Spark type {typ.simpleString()}")


def norm_rows(df):
    """Sorted normalised row objects of a DataFrame (collected: tables here are small)."""
    fields = df.schema.fields
    rows = [{f.name: norm_value(r[i], f.dataType) for i, f in enumerate(fields)} for r in df.collect()]
    rows.sort(key=lambda row: json.dumps(row, sort_keys=True))
    return rows


def spark_value(value, typ):
    """A JSON value in the normal form (or close to it) as what Spark's createDataFrame takes."""
    if value is None:
        return None
    if isinstance(typ, (T.LongType, T.IntegerType, T.ShortType, T.ByteType)):
        return int(value)
    if isinstance(typ, (T.DoubleType, T.FloatType)):
        return float(value)
    if isinstance(typ, T.DecimalType):
        return decimal.Decimal(str(value))
    if isinstance(typ, T.TimestampType):
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if isinstance(typ, T.DateType):
        return datetime.date.fromisoformat(value)
    if isinstance(typ, T.BinaryType):
        return bytearray(bytes.fromhex(value))
    if isinstance(typ, T.StructType):
        return tuple(spark_value(value.get(f.name), f.dataType) for f in typ.fields)
    if isinstance(typ, T.MapType):
        return {spark_value(k, typ.keyType): spark_value(v, typ.valueType) for k, v in value.items()}
    if isinstance(typ, T.ArrayType):
        return [spark_value(v, typ.elementType) for v in value]
    return value


def spark_rows(schema, rows):
    """Tuples in the column order of `schema`, for spark.createDataFrame(rows, schema)."""
    return [tuple(spark_value(r.get(f.name), f.dataType) for f in schema.fields) for r in rows]
