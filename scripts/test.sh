#!/usr/bin/env bash
# The whole test suite: checks lint and types, provisions what the tests need (Python
# environments with delta-rs and with Spark + delta-spark, Chromium for the dashboard,
# an Apache Kafka broker, a PostgreSQL server, an S3-compatible server, a Trino server
# when a Java 24.0.1+ is found), runs every test, and stops what it started
# (docs/testing.md). Run through
# `npm test`, so `node` is the project's Node.js 24. `npm test -- test/log/*.test.ts`
# runs only the named test files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cleanup() {
  local rc=$?
  for stop in scripts/provision/*.stop.sh; do
    [ -f "$stop" ] && bash "$stop" || true
  done
  exit $rc
}
trap cleanup EXIT INT TERM

echo "[test] node $(node --version)"
# Cheap checks first, so a lint or type error fails in seconds, before any download.
echo "[test] lint, layers and type check"
npx biome ci --reporter=summary .
node scripts/check-layers.ts
npx tsc -p tsconfig.json

bash scripts/provision/python.sh
export TRIBUTARY_TEST_PYTHON="$root/.venv/bin/python"
bash scripts/provision/spark.sh
export TRIBUTARY_TEST_SPARK_PYTHON="$root/.venv-spark/bin/python"
# Debian's Chromium for the dashboard's browser tests (skipped when it cannot be installed).
bash scripts/provision/chromium.sh
if [ -x /usr/bin/chromium ]; then export TRIBUTARY_TEST_CHROMIUM=/usr/bin/chromium; fi
# Each start script prints `export NAME=value` lines for the services it started; a
# start script that fails stops the run (the assignment carries its exit status).
for start in scripts/provision/*.start.sh; do
  [ -f "$start" ] || continue
  exports=$(bash "$start")
  eval "$exports"
done

echo "[test] tests"
if [ "$#" -gt 0 ]; then files=("$@"); else files=('test/**/*.test.ts'); fi
node --test --test-concurrency=2 "${files[@]}"
