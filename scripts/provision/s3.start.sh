#!/usr/bin/env bash
# Starts an S3-compatible server for the tests: S3Proxy (Apache-2.0; Maven Central
# org.gaul:s3proxy, its jar-with-dependencies) with its in-memory `transient-nio2`
# backend, on a free loopback port. Why S3Proxy: docs/testing.md#the-s3-server.
#
# stdout carries exactly one line, `export TRIBUTARY_TEST_S3=http://127.0.0.1:<port>`,
# because scripts/test.sh `eval`s it; everything else goes to stderr. The server
# accepts any credentials (authorization=none) and creates no bucket: each test creates
# its own.
#
# - The jar is fetched once with Maven into .cache/s3/ (about 55 MB); Java 17 or newer
#   runs it. When `java` or `mvn` is missing and this runs as root, Debian's
#   openjdk-17-jre-headless / maven are installed (output in .cache/s3/apt.log).
# - Each server lives in .cache/s3/run/<port>/ (pid, config, log); s3.stop.sh removes it.
# - Environment: S3_START_TIMEOUT (seconds, default 60), S3PROXY_VERSION (default
#   4.1.0), S3_HEAP (the JVM's -Xmx, default 2g: the objects are kept in memory).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="$root/.cache/s3"
version=${S3PROXY_VERSION:-4.1.0}
jar="$cache/s3proxy-$version-jar-with-dependencies.jar"
timeout_s=${S3_START_TIMEOUT:-60}
heap=${S3_HEAP:-2g}

say() { echo "[s3] $*" >&2; }
fail() {
  say "$*"
  exit 1
}

mkdir -p "$cache/run"

apt_install() {
  [ "$(id -u)" = 0 ] || fail "$1 is missing; install it (Debian: apt-get install $2) or run as root"
  say "installing Debian's $2 (log: .cache/s3/apt.log)"
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2"; } \
    >"$cache/apt.log" 2>&1; then
    tail -n 30 "$cache/apt.log" >&2
    fail "could not install $2 (log tail above)"
  fi
}

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}
if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
  apt_install java openjdk-17-jre-headless
fi

if [ ! -s "$jar" ]; then
  command -v mvn >/dev/null || apt_install mvn maven
  started=$SECONDS
  say "fetching org.gaul:s3proxy:$version (jar-with-dependencies) from Maven Central"
  if ! mvn -q -B dependency:copy "-Dartifact=org.gaul:s3proxy:$version:jar:jar-with-dependencies" \
    "-DoutputDirectory=$cache" >"$cache/mvn.log" 2>&1; then
    tail -n 30 "$cache/mvn.log" >&2
    fail "could not fetch S3Proxy $version with Maven (log tail above)"
  fi
  [ -s "$jar" ] || fail "Maven finished but $jar is missing (see .cache/s3/mvn.log)"
  say "fetched S3Proxy $version in $((SECONDS - started)) s"
fi

run=$(mktemp -d "$cache/run/starting.XXXXXX")
# Port 0: the kernel picks a free port, read back from the log (no race with another
# run for a "free" port).
cat >"$run/s3proxy.conf" <<'EOF'
s3proxy.endpoint=http://127.0.0.1:0
s3proxy.authorization=none
jclouds.provider=transient-nio2
jclouds.identity=unused
jclouds.credential=unused
EOF

# Its own session, so a Ctrl-C in the test run reaches the tests, and s3.stop.sh (run
# by test.sh on exit) stops the server.
setsid java "-Xmx$heap" -jar "$jar" --properties "$run/s3proxy.conf" \
  </dev/null >"$run/server.log" 2>&1 &
pid=$!

started=$SECONDS
port=
while true; do
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 40 "$run/server.log" >&2 || true
    rm -rf "$run"
    fail "the S3 server exited while starting (log tail above)"
  fi
  # Jetty logs `Started ...ServerConnector@...{HTTP/1.1, (http/1.1)}{127.0.0.1:<port>}`.
  if [ -z "$port" ]; then
    port=$(sed -n 's/.*ServerConnector.*{127\.0\.0\.1:\([0-9][0-9]*\)}.*/\1/p' "$run/server.log" | head -n 1)
  fi
  # Ready once it answers an S3 request (ListBuckets) over HTTP.
  if [ -n "$port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port" &&
    printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && head -c 12 <&3 | grep -q 'HTTP/1.1 200') 2>/dev/null; then
    break
  fi
  if ((SECONDS - started >= timeout_s)); then
    tail -n 40 "$run/server.log" >&2 || true
    kill "$pid" 2>/dev/null || true
    rm -rf "$run"
    fail "the S3 server was not ready within ${timeout_s} s (log tail above)"
  fi
  sleep 0.2
done

final="$cache/run/$port"
rm -rf "$final"
mv "$run" "$final"
echo "$pid" >"$final/pid"
say "S3 server (S3Proxy $version) ready at http://127.0.0.1:$port in $((SECONDS - started)) s (pid $pid, log $final/server.log)"
echo "export TRIBUTARY_TEST_S3=http://127.0.0.1:$port"
