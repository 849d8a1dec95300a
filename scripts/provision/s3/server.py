"""An S3-compatible server for the tests: moto's S3 emulation, served on loopback.

Why not `moto_server` itself:
- moto checks `If-None-Match: *` and then stores the object as two steps, and its
  server handles requests on parallel threads, so two concurrent conditional PUTs
  can both pass the check. The storage contract needs exactly one winner, so this
  server runs one request at a time (a lock around the WSGI application).
- It binds port 0 and writes the port the kernel chose to --port-file, so two test
  runs never race for the same "free" port.

Usage: python server.py --port-file FILE
"""

import argparse
import logging
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


class OneAtATime:
    """Runs the wrapped WSGI application for one request at a time."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # The response body is produced inside the lock too: moto builds it from
            # the same in-memory state a concurrent PUT would change.
            return [b"".join(self.app(environ, start_response))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    # One line per request would make the log as large as the test run is long.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    app = OneAtATime(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, 0, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_port
    # moto builds some URLs (e.g. in XML answers) from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)

    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, args.port_file)  # readers see the whole port number or nothing

    def stop(_signum, _frame):
        # shutdown() waits for serve_forever() to return, so it must run elsewhere.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"moto S3 server listening on http://{args.host}:{port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
