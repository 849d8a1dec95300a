#!/usr/bin/env bash
# Starts a Trino server for the tests (test/interop-trino): one node that is both
# coordinator and worker, with one catalog `delta` (the Delta Lake connector, a file
# metastore, the local file system), on a free loopback port. Trino reads the tables
# Tributary writes, as an independent reader (docs/delta.md#checked-against-trino).
#
# stdout carries exactly one line, `export TRIBUTARY_TEST_TRINO=http://127.0.0.1:<port>`,
# because scripts/test.sh `eval`s it; everything else goes to stderr. When no Java
# 24.0.1 or newer is found (Trino 476 refuses older ones; scripts/provision/trino/find-java.sh
# says where it looked), it says so, prints nothing on stdout and exits 0: the variable
# stays unset and the Trino tests are skipped with that reason.
#
# - The server (io.trino:trino-server:476:tar.gz, 821 MB) is downloaded once from Maven
#   Central into .cache/trino/ (git-ignored) and checked against the .sha1 Maven Central
#   serves beside it, then unpacked once into .cache/trino/trino-server-476/ keeping only
#   the delta-lake plugin (Trino loads every plugin it finds at start; 394 MB of 896).
# - Each server lives in .cache/trino/run/<port>/ (etc/ with its configuration, data/,
#   the file metastore, server.log, pid); trino.stop.sh stops it and removes that folder.
#   A start that fails keeps it for its logs; the next start deletes folders whose server
#   is gone.
# - The catalog's local file system is rooted at `/` (local.location): tables are
#   registered by their absolute path as local:///... locations, wherever the tests made
#   them. (The local file system lists files as local:///...; the file metastore, given a
#   file:/// directory, then finds no schemas, and SHOW SCHEMAS or DESCRIBE fail.)
# - The first server of a Trino and Java pair writes a class-data sharing archive when it
#   stops; later ones map it and start in about half the time (docs/testing.md).
# - Environment: TRINO_START_TIMEOUT (seconds, default 240), TRINO_HEAP (the JVM's -Xmx,
#   default 2G), TRINO_VERSION (default 476), TRINO_JAVA_HOME (the Java to run it).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/scripts/provision/trino"
cache="$root/.cache/trino"
version=${TRINO_VERSION:-476}
timeout_s=${TRINO_START_TIMEOUT:-240}
heap=${TRINO_HEAP:-2G}
server="$cache/trino-server-$version"
tarball="$cache/trino-server-$version.tar.gz"
url="https://repo.maven.apache.org/maven2/io/trino/trino-server/$version/trino-server-$version.tar.gz"

say() { echo "[trino] $*" >&2; }
fail() {
  say "$*"
  exit 1
}
now_ms() { date +%s%3N; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }

mkdir -p "$cache/run"

# 0. A Java new enough. Without one the Trino tests skip; the run goes on.
if ! java_home=$(bash "$here/find-java.sh" 2>"$cache/find-java.txt"); then
  say "$(cat "$cache/find-java.txt")"
  rm -f "$cache/find-java.txt"
  say "not starting Trino: TRIBUTARY_TEST_TRINO stays unset and the tests in test/interop-trino are skipped"
  exit 0
fi
rm -f "$cache/find-java.txt"
java="$java_home/bin/java"
command -v python3 >/dev/null || fail "python3 not found; it picks the free port and checks that the server answers"

# 1. The server, fetched and unpacked once. A lock keeps concurrent starts apart.
fetch_server() {
  [ -f "$server/.complete" ] && return 0
  if [ ! -f "$tarball" ]; then
    command -v curl >/dev/null || fail "curl not found; install it (Debian: curl) to fetch Trino from Maven Central"
    say "downloading trino-server $version from Maven Central (821 MB, first run only)"
    local t0 expected actual
    t0=$(now_ms)
    rm -f "$tarball.partial"
    if ! curl -fsSL --retry 3 -o "$tarball.partial" "$url"; then
      rm -f "$tarball.partial"
      fail "could not download $url (see curl's message above); check access to https://repo.maven.apache.org"
    fi
    expected=$(curl -fsSL --retry 3 "$url.sha1" | cut -c1-40) || fail "could not download $url.sha1"
    actual=$(sha1sum "$tarball.partial" | cut -c1-40)
    if [ "$expected" != "$actual" ]; then
      rm -f "$tarball.partial"
      fail "the download's sha1 is $actual, Maven Central says $expected; deleted it, run again"
    fi
    mv "$tarball.partial" "$tarball"
    say "downloaded $(stat -c %s "$tarball") bytes in $(secs $(($(now_ms) - t0))) s (sha1 $actual checked)"
  fi
  local t0
  t0=$(now_ms)
  rm -rf "$server.partial"
  mkdir -p "$server.partial"
  # The plugins share jars through hard links inside the archive, so it is unpacked whole
  # and the plugins not needed are deleted afterwards.
  tar -xzf "$tarball" -C "$server.partial" --strip-components=1 ||
    fail "could not unpack $tarball; delete it to download it again"
  [ -d "$server.partial/plugin/delta-lake" ] || fail "$tarball holds no plugin/delta-lake"
  find "$server.partial/plugin" -mindepth 1 -maxdepth 1 ! -name delta-lake -exec rm -rf {} +
  rm -rf "$server.partial/secrets-plugin"
  touch "$server.partial/.complete"
  rm -rf "$server"
  mv "$server.partial" "$server"
  say "unpacked into .cache/trino/trino-server-$version in $(secs $(($(now_ms) - t0))) s ($(du -sh "$server" | cut -f1), plugin delta-lake only)"
}
exec 9>"$cache/.fetch.lock"
flock 9
fetch_server
flock -u 9
exec 9>&-

# Run folders of servers that are gone (a start that failed keeps its folder for its logs;
# a run killed before trino.stop.sh): deleted. Those of running servers are left alone.
for dir in "$cache"/run/*/; do
  [ -d "$dir" ] || continue
  dir=${dir%/}
  if [ -f "$dir/pid" ]; then
    grep -qa 'io.trino.server.TrinoServer' "/proc/$(cat "$dir/pid")/cmdline" 2>/dev/null || rm -rf "$dir"
  elif [ -n "$(find "$dir" -maxdepth 0 -mmin +10)" ]; then
    rm -rf "$dir"
  fi
done

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_config() {
  mkdir -p "$run/etc/catalog" "$run/data" "$run/metastore"
  cat >"$run/etc/config.properties" <<EOF
# Written by scripts/provision/trino.start.sh: a throwaway one-node Trino for the tests.
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$port
discovery.uri=http://127.0.0.1:$port
node.environment=tributary_test
node.id=tributary-test-$port
node.internal-address=127.0.0.1
node.bind-ip=127.0.0.1
log.path=$run/server.log
plugin.dir=$server/plugin
catalog.config-dir=$run/etc/catalog
web-ui.enabled=false
http-server.log.enabled=false
EOF
  cat >"$run/etc/catalog/delta.properties" <<EOF
connector.name=delta_lake
hive.metastore=file
hive.metastore.catalog.dir=local://$run/metastore
fs.native-local.enabled=true
local.location=/
delta.register-table-procedure.enabled=true
EOF
  cat >"$run/etc/log.properties" <<EOF
io.trino=WARN
io.trino.server.Server=INFO
EOF
}

show_logs() {
  tail -n 40 "$run/console.log" >&2 2>/dev/null || true
  tail -n 40 "$run/server.log" >&2 2>/dev/null || true
}

# The JIT's first tier only (C1): the tests run small queries, and C2 compiling Trino's
# start-up code costs more CPU than it saves. Measured on the 2-core machine: C1 halves
# the start's CPU time (docs/testing.md#the-trino-server).
jvm_opts=("-Xmx$heap" -XX:+UseG1GC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError
  -XX:-OmitStackTraceInFastThrow -XX:+EnableDynamicAgentLoading -Djdk.attach.allowAttachSelf=true
  -Dfile.encoding=UTF-8)

# A class-data sharing archive of the classes Trino loads (the JVM maps it instead of
# loading and verifying them again: a third of the start's time). The first server of a
# Trino and Java pair writes it when it stops (into its run folder; trino.stop.sh moves it
# into place, atomically, so concurrent runs never see a partial one); later servers map
# it. It lives in the unpacked server, so unpacking again drops it with the jars it
# describes.
java_version=$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)
archive="$server/.cds/java-$java_version.jsa"

# One attempt: port, config, start, wait until `SELECT 1` answers. Returns 0 when ready
# and 2 when the port was taken before Trino bound it (worth another attempt).
start_once() {
  port=$(free_port)
  [ -n "$port" ] || fail "could not find a free loopback port"
  run="$cache/run/$port"
  rm -rf "$run"
  write_config
  local cds
  if [ -s "$archive" ]; then
    cds=("-XX:SharedArchiveFile=$archive")
  else
    cds=("-XX:ArchiveClassesAtExit=$run/classes.jsa")
    echo "$archive" >"$run/cds-target"
  fi
  t0=$(now_ms)
  # Its own session: a Ctrl-C in the test run goes to the tests, and trino.stop.sh (run
  # by test.sh on exit) stops the server.
  # Its working directory is data/ (where Trino's launcher would put it). Until its
  # logging is set up it writes to console.log, then to server.log.
  (cd "$run/data" && exec setsid "$java" "${jvm_opts[@]}" "${cds[@]}" "-Dconfig=$run/etc/config.properties" \
    "-Dlog.levels-file=$run/etc/log.properties" -cp "$server/lib/*" io.trino.server.TrinoServer \
    </dev/null >"$run/console.log" 2>&1) &
  pid=$!
  echo "$pid" >"$run/pid"
  while true; do
    if ! kill -0 "$pid" 2>/dev/null; then
      if cat "$run/console.log" "$run/server.log" 2>/dev/null | grep -q 'Address already in use'; then
        say "port $port was taken before Trino bound it; trying another"
        rm -rf "$run"
        return 2
      fi
      show_logs
      fail "Trino exited while starting (logs above; in full: $run/console.log, $run/server.log)"
    fi
    if python3 "$here/query.py" "http://127.0.0.1:$port" 'SELECT 1' >/dev/null 2>"$run/probe.txt"; then
      return 0
    elif [ $? -eq 1 ]; then
      show_logs
      kill "$pid" 2>/dev/null || true
      fail "Trino refused SELECT 1: $(cat "$run/probe.txt") (logs above; in full: $run/console.log, $run/server.log)"
    fi
    if (($(now_ms) - t0 >= timeout_s * 1000)); then
      show_logs
      kill "$pid" 2>/dev/null || true
      fail "Trino did not answer SELECT 1 within ${timeout_s} s (logs above; in full: $run/console.log, $run/server.log)"
    fi
    sleep 0.5
  done
}

for attempt in 1 2 3; do
  rc=0
  start_once || rc=$?
  [ "$rc" -eq 0 ] && break
  [ "$attempt" -lt 3 ] || fail "no free loopback port after 3 attempts"
done

# What the start cost: wall time, CPU time of the JVM (user + system), resident memory.
ticks=$(getconf CLK_TCK)
cpu_ms=$(awk -v t="$ticks" '{ print int(($14 + $15) * 1000 / t) }' "/proc/$pid/stat")
rss=$(awk '/^VmRSS/ { printf "%d MB", $2 / 1024 }' "/proc/$pid/status")
say "Trino $version ready at http://127.0.0.1:$port in $(secs $(($(now_ms) - t0))) s, $(secs "$cpu_ms") s of CPU, $rss resident (pid $pid, Java $java_version, log $run/server.log)"
if [ -f "$run/cds-target" ]; then
  say "no class-data archive yet for Java $java_version: this server writes one when it stops, later ones start faster"
elif grep -q '\[cds\]' "$run/console.log"; then
  # The JVM could not map it (another JDK build, changed jars) and ran without it.
  rm -f "$archive"
  say "the class-data archive did not fit this JVM (see $run/console.log); deleted it, the next server writes a new one"
fi
echo "export TRIBUTARY_TEST_TRINO=http://127.0.0.1:$port"
