#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker (KRaft, combined broker + controller) on
# loopback for the tests, from the Apache Kafka jars on Maven Central.
#
# stdout carries exactly one line, `export TRIBUTARY_TEST_KAFKA=127.0.0.1:<port>`,
# because scripts/test.sh `eval`s it; everything else goes to stderr.
#
# - The jars are fetched once with Maven into .cache/kafka/libs (git-ignored) and are
#   fetched again only when scripts/provision/kafka/pom.xml changes.
# - Each broker lives in .cache/kafka/run/<port>/ (config, data, log, pid), so brokers
#   started by several test runs never share files; kafka.stop.sh removes it.
# - Environment: KAFKA_START_TIMEOUT (seconds, default 90), KAFKA_HEAP_OPTS.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/scripts/provision/kafka"
cache="$root/.cache/kafka"
libs="$cache/libs"
timeout_s=${KAFKA_START_TIMEOUT:-90}

say() { echo "[kafka] $*" >&2; }
fail() {
  say "$*"
  exit 1
}

command -v java >/dev/null || fail "java not found; install a Java 17+ runtime (Debian: openjdk-17-jre-headless)"
command -v python3 >/dev/null || fail "python3 not found; it picks the free ports"
mkdir -p "$cache/run"

# 1. The jars. A lock keeps two concurrent starts from fetching into the same folder.
fetch_jars() {
  if [ -f "$libs/.pom.xml" ] && cmp -s "$here/pom.xml" "$libs/.pom.xml"; then
    return 0
  fi
  command -v mvn >/dev/null || fail "mvn not found; install Maven (Debian: maven) to fetch the Kafka jars"
  say "fetching the Apache Kafka jars from Maven Central into .cache/kafka/libs (first run only)"
  local started=$SECONDS
  rm -rf "$libs.partial"
  # dependency:copy-dependencies resolves the broker's whole runtime class path; the
  # pom has no sources, so nothing is built and nothing is written next to it.
  if ! mvn -B -q -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs.partial" >&2; then
    rm -rf "$libs.partial"
    fail "Maven could not fetch the Kafka jars (see its output above); check access to https://repo.maven.apache.org"
  fi
  cp "$here/pom.xml" "$libs.partial/.pom.xml"
  rm -rf "$libs"
  mv "$libs.partial" "$libs"
  say "fetched $(ls "$libs" | wc -l) jars in $((SECONDS - started)) s"
}
exec 9>"$cache/.fetch.lock"
flock 9
fetch_jars
flock -u 9
exec 9>&-

jvm_opts=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -Djava.awt.headless=true "-Dlog4j2.configurationFile=$here/log4j2.properties")

# A random 16-byte UUID, base64url without padding: how Kafka writes Uuid values.
cluster_id() {
  head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='
}

# Two free loopback ports (client listener, controller listener).
free_ports() {
  python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
'
}

write_config() {
  cat >"$run/server.properties" <<EOF
# Written by scripts/provision/kafka.start.sh: a throwaway single-node test broker.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run/data
# Topics are created explicitly by Tributary; a typo must fail, not create a topic.
auto.create.topics.enable=false
num.partitions=1
# One node: every internal topic has one replica. One offsets partition is enough for
# tests and makes the first group commit quick (the default is 50).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Consumer groups (KIP-848 "consumer" protocol): the defaults stay (45 s sessions, 5 s
# heartbeats), but a group may be given shorter ones (its consumer.session.timeout.ms /
# consumer.heartbeat.interval.ms configs), so the scale-out tests see a dead worker's
# partitions taken over in seconds.
group.consumer.min.session.timeout.ms=1000
group.consumer.min.heartbeat.interval.ms=200
# Deleting topics between tests should not leave files behind for a minute.
log.segment.delete.delay.ms=1000
file.delete.delay.ms=1000
EOF
}

# One attempt: ports, config, storage format, start, wait. Returns 0 when the broker is
# ready and 2 when one of its ports was taken by another process between our check and
# the broker's bind (worth another attempt); any other failure ends the script.
start_once() {
  read -r port cport < <(free_ports)
  [ -n "$port" ] && [ -n "$cport" ] || fail "could not find free loopback ports"
  run="$cache/run/$port"
  rm -rf "$run"
  mkdir -p "$run/data"
  write_config

  if ! java "${jvm_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format \
    -t "$(cluster_id)" -c "$run/server.properties" >"$run/format.log" 2>&1; then
    cat "$run/format.log" >&2
    fail "formatting the broker storage in $run/data failed (output above)"
  fi

  # Its own session: a Ctrl-C in the test run goes to the tests, and kafka.stop.sh (run
  # by test.sh on exit) shuts the broker down in order.
  setsid java "${jvm_opts[@]}" -cp "$libs/*" kafka.Kafka "$run/server.properties" \
    </dev/null >"$run/broker.log" 2>&1 &
  pid=$!
  echo "$pid" >"$run/pid"

  started=$SECONDS
  while true; do
    if ! kill -0 "$pid" 2>/dev/null; then
      if grep -q 'Address already in use' "$run/broker.log" 2>/dev/null; then
        say "port $port or $cport was taken before the broker bound it; trying other ports"
        rm -rf "$run"
        return 2
      fi
      tail -n 60 "$run/broker.log" >&2 || true
      fail "the broker exited while starting (log tail above; full log in $run/broker.log)"
    fi
    # Ready: the broker finished startup (it logs this once it is unfenced and serving)
    # and its client port accepts connections.
    if grep -q 'Kafka Server started' "$run/broker.log" 2>/dev/null &&
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if ((SECONDS - started >= timeout_s)); then
      tail -n 60 "$run/broker.log" >&2 || true
      kill "$pid" 2>/dev/null || true
      fail "the broker was not ready within ${timeout_s} s (log tail above; full log in $run/broker.log)"
    fi
    sleep 0.3
  done
}

for attempt in 1 2 3; do
  rc=0
  start_once || rc=$?
  [ "$rc" -eq 0 ] && break
  [ "$attempt" -lt 3 ] || fail "no free pair of loopback ports after 3 attempts"
done

say "broker ready at 127.0.0.1:$port in $((SECONDS - started)) s (pid $pid, log $run/broker.log)"
echo "export TRIBUTARY_TEST_KAFKA=127.0.0.1:$port"
