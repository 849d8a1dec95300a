"""Reads some columns of a Delta table's latest version with delta-rs, as JSON.

usage: read_columns.py <table path or URI (s3:// with the AWS environment, see storage.py)> <column>[,<column>...]
Prints {"version": N, "columns": {name: [values...]}}; exit code 3 with {"error": ...}
when delta-rs refuses the table. Cheaper than read_delta.py for large tables: no
normalisation, only the columns asked for; values JSON has no type for (decimals,
timestamps) are printed as Python's str() of them (a decimal's exact text).
"""

import json
import os
import sys

from deltalake import DeltaTable

from storage import storage_options


def main():
    path, columns = sys.argv[1], sys.argv[2].split(",")
    try:
        dt = DeltaTable(path, storage_options=storage_options(path))
        table = dt.to_pyarrow_dataset().to_table(columns=columns)
    except Exception as err:  # the caller asserts on the refusal, so report it as data
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}))
        return 3
    out = {"version": dt.version(), "columns": {c: table.column(c).to_pylist() for c in columns}}
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    code = main()
    # Skip interpreter teardown, where delta-rs's runtime can abort (see write_delta.py).
    sys.stdout.flush()
    os._exit(code)
