#!/usr/bin/env bash
# The README's test command: install what the suite needs (.ci/install-deps: a static
# busybox, setpriv, docker-registry; needs root or sudo for apt-get when something is
# missing), then run the whole suite against the real Docker engine.
# usage: scripts/test.sh [cargo test arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  bash .ci/install-deps
else
  sudo bash .ci/install-deps
fi
exec cargo test --locked "$@"
