#!/usr/bin/env bash
# Remote-engine benchmark, in one run, against a second engine in its own network and mount
# namespaces (tests/it/remote/engine.sh) reached over tcp on loopback:
#   warm `devenv run -- true` (nothing changed)      vs `docker exec C true`
#   one edited file in a 10,000-file project, synced and run  vs the warm row
#   the initial upload of 10,000 files / 200 MB (`devenv up`, image built)  vs `tar c | docker cp -`
# usage: bench/remote.sh [N]   (N runs per row, median; default 10). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
devenv=${DEVENV:-$PWD/target/release/devenv}
[ -x "$devenv" ] || cargo build --release --locked >&2
dir=/var/tmp/devenv-remote-bench-$$
proj=$(mktemp -d /tmp/devenv-bench-remote-XXXX)
home=$(mktemp -d /tmp/devenv-bench-home-XXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tcp=$(port) tls=$(port) ssh=$(port)
cleanup() {
  [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true
  rm -rf "$proj" "$home"
}
trap cleanup EXIT
tests/it/remote/engine.sh start "$dir" $$ "$tcp" "$tls" "$ssh"
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$tcp) 2>/dev/null && break; sleep 0.1; done
export DOCKER_HOST=tcp://127.0.0.1:$tcp HOME=$home NO_COLOR=1
unset DOCKER_TLS_VERIFY DOCKER_CERT_PATH

scripts/make-rootfs.sh "$proj/base.tar"
printf 'name = "bench-remote"\n[base]\nrootfs = "base.tar"\n' >"$proj/devenv.toml"
python3 - "$proj" <<'PY'
import os, sys
root = sys.argv[1]
chunk = os.urandom(20 * 1024)
for i in range(10000):
    d = os.path.join(root, "src", f"d{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.txt"), "wb") as f:
        f.write(chunk[: 20 * 1024 - 8] + f"{i:08d}".encode())
PY
cd "$proj"
"$devenv" -q build >/dev/null

ms() { python3 -c 'import time; print(int(time.time()*1e9))'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { local s e; s=$(ms); "$@" >/dev/null 2>&1; e=$(ms); echo $(((e - s) / 1000000)); }

# The initial upload: `devenv up` from nothing (container created and started, project
# uploaded into its workspace volume), against the same by hand: `docker run -d` of the
# image with a fresh volume plus `tar c | docker cp -` into it, and the copy alone into a
# fresh volume of a running container. Rounds alternate which goes first; medians.
rounds=${ROUNDS:-5}
ups=() cps=() runcps=()
img=
byhand() { # byhand run|cp: the copy by hand into a fresh volume (with `docker run -d` or not)
  local c
  docker volume rm -f devenv-bench-w >/dev/null 2>&1 || true
  if [ "$1" = cp ]; then
    c=$(docker run -d --label devenv-bench=1 -v devenv-bench-w:/w "$img" sleep 600)
    echo "$c" >"$home/byhand"
    time_ms sh -c "tar c --exclude=./.devenv -C '$proj' . | docker cp - $c:/w"
  else
    time_ms sh -c "c=\$(docker run -d --label devenv-bench=1 -v devenv-bench-w:/w '$img' sleep 600) &&
      echo \$c > '$home/byhand' && tar c --exclude=./.devenv -C '$proj' . | docker cp - \$c:/w"
  fi
  docker rm -f "$(cat "$home/byhand")" >/dev/null
  docker volume rm -f devenv-bench-w >/dev/null
}
for r in $(seq "$rounds"); do
  "$devenv" -q down --volumes >/dev/null 2>&1 || true
  if [ -n "$img" ] && [ $((r % 2)) = 0 ]; then
    runcps+=("$(byhand run)") cps+=("$(byhand cp)")
  fi
  ups+=("$(time_ms "$devenv" up)")
  cid=$(docker ps -q --filter label=dev.devenv.project=bench-remote --filter label=dev.devenv.role=env | head -1)
  img=$(docker inspect -f '{{.Config.Image}}' "$cid")
  if [ $((r % 2)) = 1 ]; then
    runcps+=("$(byhand run)") cps+=("$(byhand cp)")
  fi
done
up=$(printf '%s\n' "${ups[@]}" | median)
cpt=$(printf '%s\n' "${cps[@]}" | median)
runcp=$(printf '%s\n' "${runcps[@]}" | median)
# Interleaved, one of each per round: `docker exec`, a warm `devenv run`, an edit + run.
execs=() warms=() edits=()
for i in $(seq "$n"); do
  execs+=("$(time_ms docker exec "$cid" true)")
  warms+=("$(time_ms "$devenv" run -- true)")
  echo "edit $i" >>"$proj/src/d042/f04242.txt"
  edits+=("$(time_ms "$devenv" run -- true)")
done
exec=$(printf '%s\n' "${execs[@]}" | median)
warm=$(printf '%s\n' "${warms[@]}" | median)
edit=$(printf '%s\n' "${edits[@]}" | median)
# The edits really arrived.
[ "$("$devenv" run -- grep -c edit src/d042/f04242.txt)" = "$n" ]

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
cat <<OUT
remote engine over tcp (loopback forwarder), 10,000 files / 200 MB, medians of $n
  warm run -- true        ${warm} ms   docker exec true ${exec} ms   ratio $(ratio "$warm" "$exec") (target <= 1.3)
  one file edited + run   ${edit} ms   docker exec true ${exec} ms   ratio $(ratio "$edit" "$exec") (target <= 1.5)
  one file edited + run   ${edit} ms   warm run ${warm} ms          ratio $(ratio "$edit" "$warm")
  initial up (upload)     ${up} ms   docker run -d + tar c | docker cp -  ${runcp} ms   ratio $(ratio "$up" "$runcp") (target <= 1.2)
  initial up (upload)     ${up} ms   tar c | docker cp - alone  ${cpt} ms   ratio $(ratio "$up" "$cpt") (up also creates and starts the container)
OUT
