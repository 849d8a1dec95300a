#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server (a cluster of its own, from Debian's packages) on a
# free loopback port for the tests, installing `postgresql` and `postgresql-client` with
# apt-get first when they are absent.
#
# stdout carries exactly three lines, because scripts/test.sh `eval`s it:
#   export TRIBUTARY_TEST_POSTGRES=postgres://postgres@127.0.0.1:<port>/postgres
#   export TRIBUTARY_TEST_POSTGRES_PASSWORD_URL=postgres://tributary:tributary@127.0.0.1:<port>/postgres
#   export TRIBUTARY_TEST_PG_BIN=<directory of initdb, pg_ctl, psql, pg_isready>
# Everything else goes to stderr.
#
# - Authentication (pg_hba.conf): the superuser `postgres` is trusted over the socket
#   and over TCP from 127.0.0.1; every other role, such as `tributary` (password
#   `tributary`, may create databases and replicate), must give its password
#   (scram-sha-256), so tests can check what a wrong password does.
# - Settings: wal_level=logical with 10 replication slots and WAL senders, fsync and
#   full-page writes off (a killed server loses nothing, a killed machine would; this
#   is a test server). synchronous_commit stays on: with fsync off a commit costs a
#   write, not a flush, and a committed row survives SIGKILL and shows in logical
#   decoding at once.
# - Each cluster lives in .cache/postgres/run/<port>/ (data/, postgres.log, the socket,
#   `bin` naming the binaries). When the `postgres` user cannot reach that folder (a
#   checkout under /root) or its socket path would be too long, the folder is a
#   symbolic link to one under /tmp. postgres.stop.sh stops the cluster and deletes both.
# - Options (for test/connectors/postgres/server.ts, which starts private clusters):
#   --owner PID      the cluster belongs to process PID; postgres.stop.sh leaves it
#                    alone while PID lives and stops it once PID is gone
#   --set NAME=VAL   one more server setting (repeatable)
# - Environment: TRIBUTARY_TEST_PG_BIN (use these binaries, never install),
#   POSTGRES_START_TIMEOUT (seconds, default 60).
# - Run as root (CI), the server runs as the `postgres` user through runuser; run as
#   another user, it runs as that user and nothing is installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="$root/.cache/postgres"
timeout_s=${POSTGRES_START_TIMEOUT:-60}
role=tributary
password=tributary

say() { echo "[postgres] $*" >&2; }
fail() {
  say "$*"
  exit 1
}

owner=''
settings=()
while [ "$#" -gt 0 ]; do
  case "$1" in
  --owner)
    owner=${2:?--owner needs a process id}
    shift 2
    ;;
  --set)
    settings+=("${2:?--set needs NAME=VALUE}")
    shift 2
    ;;
  *) fail "unknown argument '$1' (usage: postgres.start.sh [--owner PID] [--set NAME=VALUE]...)" ;;
  esac
done

is_root() { [ "$(id -u)" -eq 0 ]; }

# Runs a server binary as the user that owns the cluster; from / so that runuser does
# not complain about root's working directory.
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

has_tools() {
  local dir=$1
  [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/psql" ] && [ -x "$dir/pg_isready" ]
}

# The directory holding initdb, pg_ctl, psql and pg_isready: TRIBUTARY_TEST_PG_BIN when
# set; else Debian's newest /usr/lib/postgresql/<major>/bin (initdb is not on the PATH
# there); else the directory of an initdb on the PATH. Prints nothing when none is found.
find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if has_tools "$dir"; then
      echo "$dir"
      return 0
    fi
  done
  if command -v initdb >/dev/null; then
    dir=$(dirname "$(command -v initdb)")
    if has_tools "$dir"; then
      echo "$dir"
      return 0
    fi
  fi
  return 0
}

# Installs the server and the client with apt-get. Debian's server package creates a
# cluster `main` on port 5432 and starts it; a drop-in file in createcluster.d turns
# that off while we install (the tests never use such a cluster), and a cluster that
# appears anyway is stopped.
install_postgres() {
  is_root || fail "PostgreSQL is not installed (no initdb/pg_ctl/psql found) and installing it needs root; install the Debian packages postgresql and postgresql-client, or set TRIBUTARY_TEST_PG_BIN to a directory holding initdb, pg_ctl, psql and pg_isready"
  command -v apt-get >/dev/null || fail "PostgreSQL is not installed and apt-get is not available; install PostgreSQL (server and client) and set TRIBUTARY_TEST_PG_BIN to the directory of its initdb, pg_ctl, psql and pg_isready"
  say "installing postgresql and postgresql-client with apt-get (first run only)"
  local started=$SECONDS
  local dropin_dir=/etc/postgresql-common/createcluster.d
  local dropin=$dropin_dir/zz-tributary-tests.conf
  local before=''
  command -v pg_lsclusters >/dev/null && before=$(pg_lsclusters -h 2>/dev/null | awk '{print $1 "/" $2}')
  mkdir -p "$dropin_dir"
  # shellcheck disable=SC2064 # the path now: $dropin is local
  trap "rm -f '$dropin'" EXIT # also when apt-get is interrupted
  echo "# Written by tributary's scripts/provision/postgres.start.sh while it installs PostgreSQL" >"$dropin"
  echo "create_main_cluster = false" >>"$dropin"
  export DEBIAN_FRONTEND=noninteractive
  local ok=1 log="$cache/apt.log"
  # apt-get and dpkg talk on stdout, which test.sh evals: their output goes to a log,
  # shown when they fail.
  if ! apt-get update -qq >"$log" 2>&1; then
    ok=0
    tail -n 30 "$log" >&2
    say "apt-get update failed (output above); check access to the Debian package repositories"
  elif ! apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
    postgresql postgresql-client >>"$log" 2>&1; then
    ok=0
    tail -n 30 "$log" >&2
    say "apt-get install postgresql postgresql-client failed (output above; all of it in $log); check access to the Debian package repositories"
  fi
  rm -f "$dropin"
  trap - EXIT
  [ "$ok" -eq 1 ] || fail "could not install PostgreSQL; install the packages postgresql and postgresql-client by hand, or set TRIBUTARY_TEST_PG_BIN"
  if command -v pg_lsclusters >/dev/null; then
    local ver name status
    while read -r ver name _ status _; do
      if [ "$status" = online ] && ! grep -qx "$ver/$name" <<<"$before"; then
        say "stopping the cluster $ver/$name that the package started (the tests do not use it)"
        pg_ctlcluster "$ver" "$name" stop >&2 || true
      fi
    done < <(pg_lsclusters -h 2>/dev/null)
  fi
  say "installed in $((SECONDS - started)) s"
}

# 1. The binaries. A lock keeps two concurrent starts from both running apt-get.
mkdir -p "$cache/run"
if [ -n "${TRIBUTARY_TEST_PG_BIN:-}" ]; then
  bin=$TRIBUTARY_TEST_PG_BIN
  has_tools "$bin" || fail "TRIBUTARY_TEST_PG_BIN=$bin does not hold initdb, pg_ctl, psql and pg_isready"
else
  exec 9>"$cache/.install.lock"
  flock 9
  bin=$(find_bin)
  if [ -z "$bin" ]; then
    install_postgres
    bin=$(find_bin)
    [ -n "$bin" ] || fail "apt-get installed PostgreSQL but no directory under /usr/lib/postgresql/*/bin holds initdb, pg_ctl, psql and pg_isready"
  fi
  flock -u 9
  exec 9>&-
fi
if is_root; then
  id postgres >/dev/null 2>&1 || fail "there is no 'postgres' user to run the server as (PostgreSQL refuses to run as root); Debian's postgresql-common package creates it"
fi

# 2. The cluster folder: .cache/postgres/run/<port>, or a link to one under /tmp.
make_run_dir() {
  local port=$1 dir="$cache/run/$1" target
  mkdir "$dir" 2>/dev/null || return 1 # another run has this port
  if is_root; then chown postgres:postgres "$dir"; fi
  # The socket's path (dir/.s.PGSQL.<port>) must fit in 107 bytes.
  if [ "${#dir}" -gt 80 ] || ! as_pg test -w "$dir" 2>/dev/null; then
    rmdir "$dir"
    target=$(mktemp -d "/tmp/tributary-pg-$port.XXXXXX")
    chmod 700 "$target"
    if is_root; then chown postgres:postgres "$target"; fi
    ln -s "$target" "$dir" || {
      rm -rf "$target"
      return 1
    }
  fi
  echo "$bin" >"$dir/bin"
  # The owner's pid and start time (field 22 of /proc/PID/stat), so a reused pid is
  # not taken for the owner.
  if [ -n "$owner" ]; then
    local stat
    stat=$(cat "/proc/$owner/stat") || fail "--owner $owner: no such process"
    stat=${stat##*) }
    echo "$owner $(echo "$stat" | awk '{print $20}')" >"$dir/owner"
  fi
}

remove_run_dir() {
  local dir=$1
  if [ -L "$dir" ]; then rm -rf "$(readlink -f "$dir")"; fi
  rm -rf "$dir"
}

# A port in 20000-32767 (below Linux's ephemeral range, so outgoing connections do not
# take it) that nothing accepts connections on; the server's bind is the real check.
pick_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 12768))
    if [ ! -e "$cache/run/$port" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

write_config() {
  cat >>"$run/data/postgresql.conf" <<EOF

# Written by scripts/provision/postgres.start.sh: a throwaway test server.
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$home'
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
fsync = off
full_page_writes = off
password_encryption = 'scram-sha-256'
max_connections = 200
EOF
  local setting
  for setting in "${settings[@]}"; do
    echo "${setting%%=*} = '${setting#*=}'" >>"$run/data/postgresql.conf"
  done
  cat >"$run/data/pg_hba.conf" <<EOF
# Written by scripts/provision/postgres.start.sh. The superuser is trusted; every other
# role gives its password.
# TYPE  DATABASE     USER      ADDRESS        METHOD
local   all          postgres                 trust
local   replication  postgres                 trust
host    all          postgres  127.0.0.1/32   trust
host    replication  postgres  127.0.0.1/32   trust
local   all          all                      scram-sha-256
local   replication  all                      scram-sha-256
host    all          all       127.0.0.1/32   scram-sha-256
host    replication  all       127.0.0.1/32   scram-sha-256
EOF
}

# One attempt: port, initdb, configuration, start. Returns 0 when the server accepts
# connections and 2 when its port was taken in the meantime (worth another attempt).
start_once() {
  port=$(pick_port) || fail "found no free loopback port in 20000-32767"
  run="$cache/run/$port"
  make_run_dir "$port" || return 2
  # The server gets real paths: it may not be able to follow the link's path.
  home=$(readlink -f "$run")
  if ! as_pg "$bin/initdb" -D "$home/data" -U postgres --auth=trust --no-locale -E UTF8 \
    --no-sync >"$run/initdb.log" 2>&1; then
    cat "$run/initdb.log" >&2
    remove_run_dir "$run"
    fail "initdb failed (output above)"
  fi
  write_config
  if ! as_pg "$bin/pg_ctl" -D "$home/data" -l "$home/postgres.log" -w -t "$timeout_s" start >/dev/null 2>"$run/pg_ctl.log"; then
    if grep -qi 'could not bind\|address already in use' "$run/postgres.log" 2>/dev/null; then
      say "port $port was taken before the server bound it; trying another"
      as_pg "$bin/pg_ctl" -D "$home/data" -m immediate -w stop >/dev/null 2>&1 || true
      remove_run_dir "$run"
      return 2
    fi
    cat "$run/pg_ctl.log" >&2 || true
    tail -n 40 "$run/postgres.log" >&2 || true
    as_pg "$bin/pg_ctl" -D "$home/data" -m immediate -w stop >/dev/null 2>&1 || true
    remove_run_dir "$run"
    fail "the server did not start within ${timeout_s} s (output above)"
  fi
  return 0
}

started=$SECONDS
for attempt in 1 2 3; do
  rc=0
  start_once || rc=$?
  [ "$rc" -eq 0 ] && break
  [ "$attempt" -lt 3 ] || fail "no free loopback port after 3 attempts"
done

# 3. The password role, over TCP as the tests will connect.
if ! "$bin/psql" "postgres://postgres@127.0.0.1:$port/postgres" -X -q -v ON_ERROR_STOP=1 >/dev/null 2>"$run/psql.log" <<SQL; then
CREATE ROLE $role LOGIN CREATEDB REPLICATION PASSWORD '$password';
GRANT CREATE ON DATABASE postgres TO $role;
GRANT ALL ON SCHEMA public TO $role;
SQL
  cat "$run/psql.log" >&2
  as_pg "$bin/pg_ctl" -D "$home/data" -m immediate -w stop >/dev/null 2>&1 || true
  remove_run_dir "$run"
  fail "creating the role $role failed (output above)"
fi

pid=$(head -n 1 "$run/data/postmaster.pid")
say "PostgreSQL $("$bin/pg_ctl" -V | awk '{print $3}') ready at 127.0.0.1:$port in $((SECONDS - started)) s (pid $pid, log $run/postgres.log)"
echo "export TRIBUTARY_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres"
echo "export TRIBUTARY_TEST_POSTGRES_PASSWORD_URL=postgres://$role:$password@127.0.0.1:$port/postgres"
echo "export TRIBUTARY_TEST_PG_BIN=$bin"
