#!/usr/bin/env bash
# The whole test suite: provisions what the tests need (a Python environment with
# delta-rs, an Apache Kafka broker), runs lint, type check and every test, and stops
# what it started. Run through `npm test`, so `node` is the project's Node.js 24.
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
bash scripts/provision/python.sh
export TRIBUTARY_TEST_PYTHON="$root/.venv/bin/python"
bash scripts/provision/spark.sh
export TRIBUTARY_TEST_SPARK_PYTHON="$root/.venv-spark/bin/python"
# Each start script prints `export NAME=value` lines for the services it started.
for start in scripts/provision/*.start.sh; do
  [ -f "$start" ] || continue
  exports=$(bash "$start")
  eval "$exports"
done

echo "[test] lint and type check"
npx biome ci --reporter=summary .
npx tsc -p tsconfig.json

echo "[test] tests"
if [ "$#" -gt 0 ]; then files=("$@"); else files=('test/**/*.test.ts'); fi
node --test --test-concurrency=2 "${files[@]}"
