"""Reads a Delta table with delta-rs and prints it as normalised JSON (see normalize.py).

usage: read_delta.py <table path or URI> [--version N | --timestamp ISO-8601]
Exit code 3 with {"error": ...} on stdout when delta-rs refuses the table.
"""

import argparse
import datetime
import json
import os
import sys

from deltalake import DeltaTable

from storage import storage_options

from normalize import describe


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("table")
    parser.add_argument("--version", type=int)
    parser.add_argument("--timestamp")
    args = parser.parse_args()
    try:
        dt = DeltaTable(args.table, storage_options=storage_options(args.table))
        if args.version is not None:
            dt.load_as_version(args.version)
        elif args.timestamp is not None:
            dt.load_as_version(datetime.datetime.fromisoformat(args.timestamp.replace("Z", "+00:00")))
        out = describe(dt)
    except Exception as err:  # the caller asserts on the refusal, so report it as data
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}))
        return 3
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    code = main()
    # Skip interpreter teardown, where delta-rs's runtime can abort (see write_delta.py).
    sys.stdout.flush()
    os._exit(code)
