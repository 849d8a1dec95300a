#!/usr/bin/env bash
# Stops the S3 test server that s3.start.sh started for this test run: the one whose
# address is in TRIBUTARY_TEST_S3 (scripts/test.sh evals the start script's output, so
# this script inherits it). Servers of other, concurrent test runs are left alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

say() { echo "[s3] $*" >&2; }

if [ -z "${TRIBUTARY_TEST_S3:-}" ]; then
  exit 0 # nothing was started (or the start failed and cleaned up after itself)
fi
port=${TRIBUTARY_TEST_S3##*:}
port=${port%%/*}
run="$root/.cache/s3/run/$port"
if [ ! -f "$run/pid" ]; then
  say "no server recorded for $TRIBUTARY_TEST_S3 in .cache/s3/run; nothing to stop"
  exit 0
fi
pid=$(cat "$run/pid")
if kill "$pid" 2>/dev/null; then
  # It stops within a moment of SIGTERM; give up waiting after ~5 s and force it.
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
fi
rm -rf "$run"
say "stopped the S3 server at $TRIBUTARY_TEST_S3"
