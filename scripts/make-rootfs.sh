#!/usr/bin/env bash
# Make a minimal root filesystem tarball from the host's static busybox (Debian package
# busybox-static): a base for devenv that needs no registry.
# usage: scripts/make-rootfs.sh OUT.tar
set -euo pipefail
out=${1:?usage: make-rootfs.sh OUT.tar}
bb=$(command -v busybox || true)
if [ -z "$bb" ] || ! "$bb" --list >/dev/null 2>&1; then
  echo "make-rootfs: a static busybox is needed (apt-get install busybox-static)" >&2
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Every mode is set, none left to mktemp (0700) or the umask: the tarball's `./` is the
# container's `/`, which every user must be able to enter.
chmod 0755 "$dir"
install -d -m 0755 "$dir"/{bin,etc,home,usr,usr/bin,usr/local,usr/local/bin}
install -d -m 0700 "$dir/root"
install -d -m 1777 "$dir/tmp"
install -m 0755 "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/etc/passwd"
echo 'root:x:0:' > "$dir/etc/group"
chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
# Fixed owner, order and times: the same busybox gives the same tarball, hence the same hash.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$dir" -cf "$out" .
echo "wrote $out" >&2
