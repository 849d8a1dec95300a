"""Runs one SQL statement on a Trino server through its HTTP client protocol and prints
the result: one JSON array per row on stdout (the values as Trino's protocol sends them).

    python3 scripts/provision/trino/query.py http://127.0.0.1:<port> "SELECT 1"

Exit status: 0 done, 1 Trino answered with an error (its message on stderr), 2 the server
did not answer or is still starting (trino.start.sh polls until 0). Standard library only.
"""

import json
import sys
import time
import urllib.error
import urllib.request

HEADERS = {"X-Trino-User": "tributary", "X-Trino-Time-Zone": "UTC"}


def call(url, data=None):
    req = urllib.request.Request(url, data=data, headers=HEADERS, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)


def main():
    server, sql = sys.argv[1].rstrip("/"), sys.argv[2]
    try:
        answer = call(f"{server}/v1/statement", sql.encode())
        while True:
            for row in answer.get("data") or []:
                print(json.dumps(row))
            error = answer.get("error")
            if error is not None:
                name = error.get("errorName", "")
                print(f"{name}: {error.get('message', '')}", file=sys.stderr)
                # A server still loading its catalogs refuses queries this way.
                return 2 if name == "SERVER_STARTING_UP" else 1
            next_uri = answer.get("nextUri")
            if next_uri is None:
                return 0
            if not answer.get("data"):
                time.sleep(0.05)
            answer = call(next_uri)
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError) as e:
        print(f"no answer from {server}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
