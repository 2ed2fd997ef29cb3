#!/usr/bin/env bash
# Install devenv from this checkout and bring up the example environment.
# Uses the registry image busybox:1.36 when it can be pulled; otherwise (no registry, as on
# air-gapped CI) a root filesystem made from the host's static busybox.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo install --locked --path . --root "${DEVENV_INSTALL_ROOT:-$HOME/.cargo}" >&2
devenv=$(command -v devenv || echo "${DEVENV_INSTALL_ROOT:-$HOME/.cargo}/bin/devenv")
cd example
manifest=devenv.toml
if ! docker image inspect busybox:1.36 >/dev/null 2>&1 && ! docker pull busybox:1.36 >/dev/null 2>&1; then
  echo "example: cannot pull busybox:1.36; using a local root filesystem instead" >&2
  ../scripts/make-rootfs.sh rootfs.tar
  manifest=devenv.offline.toml
fi
"$devenv" -f "$manifest" up
"$devenv" -f "$manifest" run -- greet
echo "example is up: cd example && devenv -f $manifest shell   (devenv -f $manifest down to remove it)" >&2
