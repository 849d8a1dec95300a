#!/usr/bin/env bash
# Finds a Java that can run the test Trino server (Trino 476 refuses anything older
# than Java 24.0.1; the machine's default Java may be 17). Prints its JAVA_HOME on
# stdout and exits 0, or says what it looked at on stderr and exits 1.
#
# Looked at, in order: $TRINO_JAVA_HOME, $JAVA_HOME, every /usr/lib/jvm/* (newest
# first), and the `java` on the PATH. A JDK's version is read from its `release` file
# (no JVM is started), else from `bin/java -version`.
# Used by trino.start.sh and by test/interop-trino/trino.ts (to tell "no Java" from "not
# started"). TRINO_MIN_JAVA changes the minimum (to try the "no Java" path, say 99).
set -euo pipefail
min=${TRINO_MIN_JAVA:-24.0.1}

version_of() {
  local home=$1 v=''
  [ -x "$home/bin/java" ] || return 1
  if [ -f "$home/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$home/release" | head -n 1)
  fi
  if [ -z "$v" ]; then
    v=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)
  fi
  [ -n "$v" ] && echo "$v"
}

# True when version $1 >= $min (sort -V orders 24 < 24.0.1 < 24.0.2 < 25).
new_enough() {
  [ "$(printf '%s\n%s\n' "$min" "$1" | sort -V | head -n 1)" = "$min" ]
}

candidates=()
[ -n "${TRINO_JAVA_HOME:-}" ] && candidates+=("$TRINO_JAVA_HOME")
[ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
if [ -d /usr/lib/jvm ]; then
  while IFS= read -r d; do candidates+=("$d"); done < <(ls -d /usr/lib/jvm/*/ 2>/dev/null | sed 's:/$::' | sort -V -r)
fi
if command -v java >/dev/null; then
  candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
fi

seen=()
declare -A tried=()
for home in "${candidates[@]}"; do
  real=$(readlink -f "$home" 2>/dev/null || echo "$home")
  [ -z "${tried[$real]:-}" ] || continue
  tried[$real]=1
  v=$(version_of "$home") || continue
  seen+=("$home ($v)")
  if new_enough "$v"; then
    echo "$home"
    exit 0
  fi
done
if [ "${#seen[@]}" -eq 0 ]; then
  echo "no Java found (looked at \$TRINO_JAVA_HOME, \$JAVA_HOME, /usr/lib/jvm/*, java on the PATH); Trino needs Java $min or newer (e.g. Temurin 25; set TRINO_JAVA_HOME to its home)" >&2
else
  echo "no Java $min or newer, which Trino needs: found ${seen[*]}; install one (e.g. Temurin 25) and set TRINO_JAVA_HOME to its home" >&2
fi
exit 1
