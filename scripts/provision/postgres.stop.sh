#!/usr/bin/env bash
# Stops PostgreSQL test clusters that postgres.start.sh started and deletes their files.
#
# - With TRIBUTARY_TEST_POSTGRES set (as it is in the shell of scripts/test.sh), the
#   cluster on its port is stopped.
# - Every cluster started with --owner PID (the private clusters of
#   test/connectors/postgres/server.ts) whose owner process is gone is stopped too; one
#   whose owner still runs is left to it.
# - With --all, so is every other cluster under .cache/postgres/run (without it, a
#   cluster of a concurrent test run sharing the checkout is left alone).
# Stops with `pg_ctl -m fast`, then `-m immediate`, then SIGKILL. Nothing to stop is fine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs="$root/.cache/postgres/run"

say() { echo "[postgres] $*" >&2; }

all=0
[ "${1:-}" = --all ] && all=1

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# The start time of process $1 (field 22 of /proc/PID/stat), empty when it is gone.
proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# 0 when the cluster in $1 was started for a process that still runs.
owner_alive() {
  local pid start
  [ -f "$1/owner" ] || return 1
  read -r pid start <"$1/owner" || true
  [ -n "$pid" ] && [ -n "$(proc_start "$pid")" ] && [ "$(proc_start "$pid")" = "$start" ]
}

stop_run() {
  local dir=$1 bin='' pid=''
  # The server was given real paths (the folder may be a link to one under /tmp).
  local data
  data="$(readlink -f "$dir")/data"
  [ -f "$dir/bin" ] && bin=$(cat "$dir/bin")
  [ -f "$data/postmaster.pid" ] && pid=$(head -n 1 "$data/postmaster.pid")
  # Only act on the pid if it is still a postgres process (a pid can be reused).
  if [ -n "$pid" ] && grep -qa 'postgres' "/proc/$pid/cmdline" 2>/dev/null; then
    if [ -z "$bin" ] ||
      ! { as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
        as_pg "$bin/pg_ctl" -D "$data" -m immediate -w -t 10 stop >/dev/null 2>&1; }; then
      say "PostgreSQL $pid in $dir did not stop; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
    say "stopped the cluster on port $(basename "$dir")"
  fi
  if [ -L "$dir" ]; then rm -rf "$(readlink -f "$dir")"; fi
  rm -rf "$dir"
}

[ -d "$runs" ] || exit 0
wanted=''
if [ -n "${TRIBUTARY_TEST_POSTGRES:-}" ]; then
  wanted=${TRIBUTARY_TEST_POSTGRES#*://}
  wanted=${wanted#*@}
  wanted=${wanted%%/*}
  wanted=${wanted##*:}
fi
for dir in "$runs"/*; do
  [ -e "$dir" ] || [ -L "$dir" ] || continue
  if [ "$(basename "$dir")" = "$wanted" ]; then
    stop_run "$dir"
  elif [ -f "$dir/owner" ]; then
    owner_alive "$dir" || stop_run "$dir"
  elif [ "$all" -eq 1 ]; then
    stop_run "$dir"
  fi
done
exit 0
