"""Writes a datum with one Avro schema and reads it back with another, using fastavro:
an independent check of schema resolution for test/connectors/avro/compat.test.ts.

Input (stdin): a JSON array of {"id", "writer", "reader", "datum"}; bytes and fixed
values are JSON strings of code points 0-255, decimals are decimal strings ("12.34").
Output (stdout): a JSON array of {"id", "ok": true, "value"} or {"id", "ok": false,
"error"}; bytes come back as such strings, decimals as strings.
"""
import datetime
import decimal
import io
import json
import sys
import uuid

from fastavro import parse_schema, schemaless_reader, schemaless_writer

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def full_name(name, namespace):
    if "." in name or not namespace:
        return name
    return namespace + "." + name


def prepare(schema, datum, named, namespace=""):
    """The datum as fastavro wants it for `schema`: bytes for bytes and fixed, Decimal for decimals."""
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            schema = {"type": schema}
        else:
            schema = named[full_name(schema, namespace)]
    if isinstance(schema, list):
        for branch in schema:
            if fits(branch, datum, named, namespace):
                return prepare(branch, datum, named, namespace)
        return datum
    kind = schema["type"]
    if kind in ("record", "error", "enum", "fixed"):
        namespace = schema.get("namespace", namespace)
        name = full_name(schema["name"], namespace)
        named.setdefault(name, schema)
        namespace = name.rpartition(".")[0]
    if schema.get("logicalType") == "decimal" and isinstance(datum, str):
        return decimal.Decimal(datum)
    if kind in ("bytes", "fixed") and isinstance(datum, str):
        return datum.encode("latin-1")
    if kind in ("record", "error"):
        return {f["name"]: prepare(f["type"], datum[f["name"]], named, namespace)
                for f in schema["fields"] if f["name"] in datum}
    if kind == "array":
        return [prepare(schema["items"], item, named, namespace) for item in datum]
    if kind == "map":
        return {k: prepare(schema["values"], v, named, namespace) for k, v in datum.items()}
    return datum


def fits(branch, datum, named, namespace):
    kind = branch if isinstance(branch, str) else branch.get("type")
    if isinstance(branch, str) and branch not in PRIMITIVES:
        kind = named[full_name(branch, namespace)]["type"]
    if datum is None:
        return kind == "null"
    if isinstance(datum, bool):
        return kind == "boolean"
    if isinstance(datum, int):
        return kind in ("int", "long", "float", "double")
    if isinstance(datum, float):
        return kind in ("float", "double")
    if isinstance(datum, str):
        return kind in ("string", "bytes", "enum", "fixed")
    if isinstance(datum, list):
        return kind == "array"
    return kind in ("record", "error", "map")


def plain(value):
    """A value read back, as JSON."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def run(case):
    try:
        writer = parse_schema(case["writer"])
        reader = parse_schema(case["reader"])
        buf = io.BytesIO()
        schemaless_writer(buf, writer, prepare(case["writer"], case["datum"], {}))
        buf.seek(0)
        value = schemaless_reader(buf, writer, reader)
        return {"id": case["id"], "ok": True, "value": plain(value)}
    except Exception as err:  # any refusal is an answer here
        return {"id": case["id"], "ok": False, "error": f"{type(err).__name__}: {err}"}


def main():
    cases = json.load(sys.stdin)
    json.dump([run(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
