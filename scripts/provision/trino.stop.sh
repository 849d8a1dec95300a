#!/usr/bin/env bash
# Stops the Trino server that trino.start.sh started for this test run, the one whose
# address is in TRIBUTARY_TEST_TRINO (scripts/test.sh evals the start script's output,
# so this script inherits it), and deletes its folder .cache/trino/run/<port>/ (its
# configuration, file metastore and logs; the tables it read are the tests' own).
# Servers of other, concurrent test runs are left alone. Nothing to stop is fine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

say() { echo "[trino] $*" >&2; }

if [ -z "${TRIBUTARY_TEST_TRINO:-}" ]; then
  exit 0 # nothing was started (no Java for it, or the start failed and said why)
fi
port=${TRIBUTARY_TEST_TRINO##*:}
port=${port%%/*}
run="$root/.cache/trino/run/$port"
if [ ! -d "$run" ]; then
  say "no server recorded for $TRIBUTARY_TEST_TRINO in .cache/trino/run; nothing to stop"
  exit 0
fi
pid=''
[ -f "$run/pid" ] && pid=$(cat "$run/pid")
# Only signal the pid if it is still our server (a pid can be reused after a crash).
if [ -n "$pid" ] && grep -qa 'io.trino.server.TrinoServer' "/proc/$pid/cmdline" 2>/dev/null; then
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "Trino $pid did not stop in 20 s; killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
fi
# The class-data archive the JVM wrote on exit (the first server of a Trino and Java
# pair; trino.start.sh): moved into place by a rename, so a concurrent start never maps
# a partial file.
if [ -s "$run/classes.jsa" ] && [ -f "$run/cds-target" ]; then
  target=$(cat "$run/cds-target")
  mkdir -p "$(dirname "$target")"
  mv -f "$run/classes.jsa" "$target"
  say "kept the class-data archive for later starts: $target"
fi
rm -rf "$run"
say "stopped the Trino server at $TRIBUTARY_TEST_TRINO"
