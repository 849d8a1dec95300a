#!/usr/bin/env bash
# Creates .venv with the independent Delta readers the interop tests use: the
# `deltalake` package (delta-rs) and pyarrow. Idempotent: reruns only when the
# requirements change.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv"
req="$root/scripts/provision/requirements.txt"
stamp="$venv/.tributary-requirements"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
  exit 0
fi
echo "[provision] creating Python environment in .venv (deltalake, pyarrow, confluent-kafka)"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$stamp"
