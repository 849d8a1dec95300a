#!/usr/bin/env bash
# Starts an S3-compatible server for the tests (moto's S3 emulation, see
# scripts/provision/s3/server.py) on a free loopback port, from the Python environment
# that scripts/provision/python.sh creates (.venv, with moto from requirements.txt).
#
# stdout carries exactly one line, `export TRIBUTARY_TEST_S3=http://127.0.0.1:<port>`,
# because scripts/test.sh `eval`s it; everything else goes to stderr. The server
# accepts any credentials and creates no bucket: each test creates its own.
#
# - Each server lives in .cache/s3/run/<port>/ (pid, log); s3.stop.sh removes it.
# - Environment: S3_START_TIMEOUT (seconds, default 30).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
python="$root/.venv/bin/python"
cache="$root/.cache/s3"
timeout_s=${S3_START_TIMEOUT:-30}

say() { echo "[s3] $*" >&2; }
fail() {
  say "$*"
  exit 1
}

[ -x "$python" ] || fail "no Python environment at .venv; run scripts/provision/python.sh first"
"$python" -c 'import moto, flask' 2>/dev/null ||
  fail "moto is not installed in .venv; run scripts/provision/python.sh (it installs scripts/provision/requirements.txt)"

mkdir -p "$cache/run"
run=$(mktemp -d "$cache/run/starting.XXXXXX")

# Its own session, so a Ctrl-C in the test run reaches the tests, and s3.stop.sh (run
# by test.sh on exit) stops the server.
setsid "$python" "$root/scripts/provision/s3/server.py" --port-file "$run/port" \
  </dev/null >"$run/server.log" 2>&1 &
pid=$!

started=$SECONDS
port=
while true; do
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 40 "$run/server.log" >&2 || true
    rm -rf "$run"
    fail "the S3 server exited while starting (log tail above)"
  fi
  if [ -z "$port" ] && [ -s "$run/port" ]; then
    port=$(cat "$run/port")
  fi
  # Ready once it answers an S3 request (ListBuckets) over HTTP.
  if [ -n "$port" ] && "$python" - "$port" 2>/dev/null <<'PY'; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2).read()
PY
    break
  fi
  if ((SECONDS - started >= timeout_s)); then
    tail -n 40 "$run/server.log" >&2 || true
    kill "$pid" 2>/dev/null || true
    rm -rf "$run"
    fail "the S3 server was not ready within ${timeout_s} s (log tail above)"
  fi
  sleep 0.2
done

final="$cache/run/$port"
rm -rf "$final"
mv "$run" "$final"
echo "$pid" >"$final/pid"
say "S3 server (moto) ready at http://127.0.0.1:$port in $((SECONDS - started)) s (pid $pid, log $final/server.log)"
echo "export TRIBUTARY_TEST_S3=http://127.0.0.1:$port"
