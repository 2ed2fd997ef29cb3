#!/usr/bin/env bash
# Install devenv from this checkout and bring up the example environment.
# Uses the registry image busybox:1.36 when it can be pulled; otherwise (no registry, as on
# air-gapped CI) a root filesystem made from the host's static busybox.
set -euo pipefail
cd "$(dirname "$0")/.."
root="${DEVENV_INSTALL_ROOT:-$HOME/.cargo}"
cargo install --locked --path . --root "$root" >&2
# The binary just installed, not another devenv found first on PATH.
devenv="$root/bin/devenv"
cd example
manifest=devenv.toml
if ! docker image inspect busybox:1.36 >/dev/null 2>&1 && ! docker pull busybox:1.36 >/dev/null 2>&1; then
  echo "example: cannot pull busybox:1.36; using a local root filesystem instead" >&2
  ../scripts/make-rootfs.sh rootfs.tar
  manifest=devenv.offline.toml
fi
"$devenv" -f "$manifest" up
"$devenv" -f "$manifest" run -- greet
# Name devenv so that the hint works in this shell: by name only when PATH finds this one.
if [ "$(command -v devenv 2>/dev/null)" = "$devenv" ]; then
  cmd=devenv
else
  cmd="$devenv"
  echo "example: $root/bin is not on your PATH; add it (export PATH=\"$root/bin:\$PATH\") to type \`devenv\`" >&2
fi
echo "example is up: cd example && $cmd -f $manifest shell   ($cmd -f $manifest down to remove it)" >&2
