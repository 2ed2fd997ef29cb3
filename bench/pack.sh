#!/usr/bin/env bash
# `devenv pack` / `devenv load` next to `docker save` / `docker load` of the same image:
# archive size and wall time, medians over RUNS runs (default 5), alternating.
#   DEVENV=path/to/devenv bash bench/pack.sh
set -euo pipefail
DEVENV=${DEVENV:-$PWD/target/release/devenv}
RUNS=${RUNS:-5}
MB=${MB:-64}
work=$(mktemp -d)
name="bench-pack-$$"
cleanup() {
  docker ps -aq --filter "label=dev.devenv.project=$name" | xargs -r docker rm -f >/dev/null
  for _ in 1 2 3; do
    docker images -q --filter "label=dev.devenv.project=$name" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
bb=$(command -v busybox)
mkdir -p "$work/root/bin" "$work/root/etc" "$work/root/tmp"
cp "$bb" "$work/root/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -sf busybox "$work/root/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$work/root/etc/passwd"
echo "$name" >"$work/root/etc/bench"
tar -C "$work/root" -cf "$work/base.tar" .
cat >"$work/devenv.toml" <<TOML
name = "$name"
[base]
rootfs = "base.tar"
[[step]]
name = "data"
run = "head -c ${MB}000000 /dev/urandom > /data"
[[step]]
name = "tools"
run = "echo tools > /tools"
TOML
cd "$work"
"$DEVENV" -q build
hash=$("$DEVENV" hash)
image="devenv/$name:$hash"
remove_env() {
  for _ in 1 2 3; do
    docker images -q --filter "label=dev.devenv.project=$name" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  done
}
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >pack.t; : >save.t; : >load.t; : >dload.t
for _ in $(seq "$RUNS"); do
  t=$(date +%s%N); "$DEVENV" -q pack -o env.devenv.tar >/dev/null; ms "$t" >>pack.t
  t=$(date +%s%N); docker save -o docker.tar "$image"; ms "$t" >>save.t
done
for _ in $(seq "$RUNS"); do
  remove_env
  t=$(date +%s%N); "$DEVENV" -q load env.devenv.tar >/dev/null; ms "$t" >>load.t
  remove_env
  t=$(date +%s%N); docker load -q -i docker.tar >/dev/null; ms "$t" >>dload.t
done
"$DEVENV" -q load env.devenv.tar >/dev/null
"$DEVENV" -q verify >/dev/null
size() { stat -c %s "$1" | awk '{printf "%.1f MB", $1/1000000}'; }
echo "image: 2 steps on busybox, ${MB} MB of random data; $RUNS runs, medians"
echo "| case | devenv | docker | ratio |"
echo "|---|---:|---:|---:|"
echo "| archive size (\`pack\` vs \`docker save\`) | $(size env.devenv.tar) | $(size docker.tar) | $(awk -v a="$(stat -c %s env.devenv.tar)" -v b="$(stat -c %s docker.tar)" 'BEGIN{printf "%.2fx", a/b}') |"
p=$(median <pack.t); s=$(median <save.t); l=$(median <load.t); d=$(median <dload.t)
echo "| \`devenv pack\` vs \`docker save\` | $p ms | $s ms | $(awk -v a="$p" -v b="$s" 'BEGIN{printf "%.2fx", a/b}') |"
echo "| \`devenv load\` vs \`docker load\` | $l ms | $d ms | $(awk -v a="$l" -v b="$d" 'BEGIN{printf "%.2fx", a/b}') |"
