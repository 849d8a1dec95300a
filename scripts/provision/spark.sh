#!/usr/bin/env bash
# Creates .venv-spark with PySpark and delta-spark (scripts/provision/spark-requirements.txt)
# for the Spark interop tests (test/interop-spark), apart from .venv so the delta-rs
# environment stays small, and fills Spark's Ivy cache (.cache/spark-ivy) with the Delta
# jars from Maven Central by starting Spark once, so test runs need no network.
# Idempotent: reruns only when the requirements or the Ivy settings change, or the
# warm-up never finished. Progress goes to stderr. Needs python3 (with venv) and Java 17+.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv-spark"
req="$root/scripts/provision/spark-requirements.txt"
ivy_settings="$root/scripts/provision/spark/ivysettings.xml"
stamp="$venv/.tributary-provisioned"

say() { echo "[spark] $*" >&2; }
fail() {
  say "$*"
  exit 1
}

wanted=$(cat "$req" "$ivy_settings")
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi
command -v java >/dev/null || fail "java not found; install a Java 17+ runtime (Debian: openjdk-17-jre-headless)"

started=$SECONDS
if [ ! -x "$venv/bin/python" ]; then
  say "creating Python environment in .venv-spark (pyspark, delta-spark; ~450 MB)"
  python3 -m venv "$venv" || fail "python3 -m venv failed; install Python's venv module (Debian: python3-venv)"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2 ||
  fail "pip could not install $req (see above); check access to PyPI"
say "installed in $((SECONDS - started)) s; starting Spark once to fetch the Delta jars into .cache/spark-ivy"

warm=$SECONDS
log="$root/.cache/spark-warm-up.log"
mkdir -p "$root/.cache"
if ! "$venv/bin/python" "$root/test/interop-spark/py/spark_worker.py" --warm-up >/dev/null 2>"$log"; then
  tail -40 "$log" >&2
  fail "Spark could not start with Delta (log: $log); the jars come from Maven Central through Ivy"
fi
echo "$wanted" >"$stamp"
say "Spark with Delta ready in $((SECONDS - warm)) s (total $((SECONDS - started)) s)"
