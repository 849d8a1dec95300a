#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the dashboard's browser tests
# (test/ui, driven by playwright-core, which downloads no browser of its own). Idempotent:
# does nothing when the browser is there. Installs it with apt-get when running as root;
# otherwise says how and exits 0, and the browser tests skip with a message (they fail
# under CI). An install that fails stops the test run. Says what it does (or finds) on
# stderr.
set -euo pipefail
browser=/usr/bin/chromium

say() { echo "[chromium] $*" >&2; }

if [ -x "$browser" ]; then
  say "$browser is there: $("$browser" --version 2>/dev/null || echo '(version unknown)')"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  say "$browser is missing and this is not root: the browser tests will be skipped (install it with: sudo apt-get install -y chromium)"
  exit 0
fi
command -v apt-get >/dev/null || {
  say "$browser is missing and there is no apt-get: install Chromium, or the browser tests are skipped"
  exit 0
}
started=$SECONDS
say "installing Debian's chromium with apt-get (~50 s)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
  say "apt-get install failed; refreshing the package lists and trying again"
  if ! { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; }; then
    say "could not install chromium (see apt-get's messages above); check access to the Debian package repositories"
    exit 1
  fi
fi
say "$("$browser" --version 2>/dev/null || echo chromium) installed in $((SECONDS - started)) s"
