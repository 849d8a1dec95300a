"""Reads some columns of a Delta table with delta-rs, as exact JSON: the dashboard tests'
independent truth.

usage: read_columns_exact.py <table path> <column>[,<column>...] [version]
Prints {"version": N, "columns": {name: [values...]}}: timestamps as integer microseconds
since the epoch, decimals as their text ("12.30"), other values as JSON has them.
"""

import json
import os
import sys

import pyarrow as pa
from deltalake import DeltaTable


def plain(column):
    typ = column.type
    if pa.types.is_timestamp(typ):
        micros = column.cast(pa.timestamp("us", tz=typ.tz)).cast(pa.int64())
        return micros.to_pylist()
    if pa.types.is_decimal(typ):
        return [None if v is None else format(v, "f") for v in column.to_pylist()]
    return column.to_pylist()


def main():
    path, columns = sys.argv[1], sys.argv[2].split(",")
    version = int(sys.argv[3]) if len(sys.argv) > 3 else None
    dt = DeltaTable(path, version=version)
    table = dt.to_pyarrow_dataset().to_table(columns=columns)
    out = {"version": dt.version(), "columns": {c: plain(table.column(c)) for c in columns}}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    code = main()
    # Skip interpreter teardown, where delta-rs's runtime can abort (see test/interop/py/write_delta.py).
    sys.stdout.flush()
    os._exit(code)
