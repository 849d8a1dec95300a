#!/usr/bin/env bash
# Stops the test broker that kafka.start.sh started and deletes its data.
# With TRIBUTARY_TEST_KAFKA set (as it is in the shell of scripts/test.sh), only that
# broker is stopped; without it, every broker recorded under .cache/kafka/run is.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs="$root/.cache/kafka/run"

stop_run() {
  local dir=$1 pid=''
  [ -f "$dir/pid" ] && pid=$(cat "$dir/pid")
  # Only signal the pid if it is still our broker (a pid can be reused after a crash).
  if [ -n "$pid" ] && grep -qa 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    # A controlled shutdown takes a few seconds; do not wait forever.
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "[kafka] broker $pid did not stop in 20 s; killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir"
}

if [ -n "${TRIBUTARY_TEST_KAFKA:-}" ]; then
  port=${TRIBUTARY_TEST_KAFKA##*:}
  [ -d "$runs/$port" ] && stop_run "$runs/$port"
else
  for dir in "$runs"/*/; do
    [ -d "$dir" ] && stop_run "${dir%/}"
  done
fi
exit 0
