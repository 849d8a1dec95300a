"""Writes a Delta table with delta-rs by running a JSON program read from stdin, and
prints what delta-rs reports after each step as normalised JSON (see normalize.py).

usage: write_delta.py <table path>   (program on stdin)

Program: {"schema": <Delta StructType JSON>, "steps": [step, ...]} where a step is one of
  {"op": "write", "mode": "append"|"overwrite", "rows": [...], "partitionBy": [...],
   "configuration": {...}}
  {"op": "merge", "rows": [...], "on": ["id"], "whenMatched": "update"|"delete",
   "whenNotMatched": "insert"|"ignore"}
  {"op": "update", "predicate": "...", "set": {"col": "<SQL expression>"}}
  {"op": "delete", "predicate": "..."}
  {"op": "checkpoint"}
  {"op": "optimize", "targetSize": bytes}
  {"op": "vacuum"}   (retention 0, so every unreferenced file goes)
Row values in JSON: long as number or string, decimal as string, timestamp as ISO-8601,
date as yyyy-mm-dd, binary as hex.

Output: {"steps": [{"op", "version", "rows"}], "final": describe(table)}
"""

import datetime
import decimal
import json
import os
import re
import sys

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from normalize import describe, norm_table

PRIMITIVES = {
    "string": pa.string(),
    "long": pa.int64(),
    "integer": pa.int32(),
    "short": pa.int16(),
    "byte": pa.int8(),
    "double": pa.float64(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def arrow_type(t):
    if isinstance(t, str):
        m = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", t)
        if m:
            return pa.decimal128(int(m.group(1)), int(m.group(2)))
        return PRIMITIVES[t]
    if t["type"] == "struct":
        return pa.struct([arrow_field(f) for f in t["fields"]])
    if t["type"] == "array":
        return pa.list_(arrow_type(t["elementType"]))
    if t["type"] == "map":
        return pa.map_(arrow_type(t["keyType"]), arrow_type(t["valueType"]))
    raise ValueError(f"unsupported type {t!r}")


def arrow_field(f):
    return pa.field(f["name"], arrow_type(f["type"]), nullable=f.get("nullable", True))


def py_value(value, typ):
    """Converts a JSON value to what pyarrow expects for `typ`."""
    if value is None:
        return None
    if pa.types.is_integer(typ):
        return int(value)
    if pa.types.is_decimal(typ):
        return decimal.Decimal(str(value))
    if pa.types.is_timestamp(typ):
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if pa.types.is_date(typ):
        return datetime.date.fromisoformat(value)
    if pa.types.is_binary(typ):
        return bytes.fromhex(value)
    if pa.types.is_struct(typ):
        return {typ.field(i).name: py_value(value.get(typ.field(i).name), typ.field(i).type)
                for i in range(typ.num_fields)}
    if pa.types.is_map(typ):
        return [(py_value(k, typ.key_type), py_value(v, typ.item_type)) for k, v in value.items()]
    if pa.types.is_list(typ):
        return [py_value(v, typ.value_type) for v in value]
    return value


def arrow_table(schema, rows):
    columns = {f.name: [py_value(r.get(f.name), f.type) for r in rows] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


def run_step(path, schema, step):
    op = step["op"]
    if op == "write":
        write_deltalake(path, arrow_table(schema, step["rows"]), mode=step.get("mode", "append"),
                        partition_by=step.get("partitionBy"),
                        configuration=step.get("configuration"))
        return
    dt = DeltaTable(path)
    if op == "merge":
        predicate = " AND ".join(f"t.{c} = s.{c}" for c in step["on"])
        merger = dt.merge(arrow_table(schema, step["rows"]), predicate=predicate,
                          source_alias="s", target_alias="t")
        if step.get("whenMatched", "update") == "update":
            merger = merger.when_matched_update_all()
        else:
            merger = merger.when_matched_delete()
        if step.get("whenNotMatched", "insert") == "insert":
            merger = merger.when_not_matched_insert_all()
        merger.execute()
    elif op == "update":
        dt.update(updates=step["set"], predicate=step.get("predicate"))
    elif op == "delete":
        dt.delete(step.get("predicate"))
    elif op == "checkpoint":
        dt.create_checkpoint()
    elif op == "optimize":
        dt.optimize.compact(target_size=step.get("targetSize"))
    elif op == "vacuum":
        dt.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
    else:
        raise ValueError(f"unknown step {op!r}")


def main():
    path = sys.argv[1]
    program = json.load(sys.stdin)
    schema = pa.schema([arrow_field(f) for f in program["schema"]["fields"]])
    steps = []
    for step in program["steps"]:
        run_step(path, schema, step)
        dt = DeltaTable(path)
        steps.append({"op": step["op"], "version": dt.version(),
                      "rows": norm_table(dt.to_pyarrow_table())})
    print(json.dumps({"steps": steps, "final": describe(DeltaTable(path))}, sort_keys=True))


if __name__ == "__main__":
    main()
    # delta-rs's runtime can abort during interpreter teardown after a merge
    # ("terminate called without an active exception"); the work is done by now.
    sys.stdout.flush()
    os._exit(0)
