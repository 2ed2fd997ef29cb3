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
# uploaded), against the same by hand: `docker run -d` of the image plus `tar c | docker cp -`.
# Three rounds each, alternating; medians.
rounds=3
ups=() cps=() runcps=()
for _ in $(seq "$rounds"); do
  "$devenv" -q down --volumes >/dev/null 2>&1 || true
  ups+=("$(time_ms "$devenv" up)")
  cid=$(docker ps -q --filter label=dev.devenv.project=bench-remote --filter label=dev.devenv.role=env | head -1)
  img=$(docker inspect -f '{{.Config.Image}}' "$cid")
  docker exec "$cid" mkdir -p /tmp/cp-target
  cps+=("$(time_ms sh -c "tar c --exclude=./.devenv -C '$proj' . | docker cp - $cid:/tmp/cp-target")")
  runcps+=("$(time_ms sh -c "c=\$(docker run -d --label devenv-bench=1 '$img' sleep 600) &&
    docker exec \$c mkdir -p /tmp/w && tar c --exclude=./.devenv -C '$proj' . | docker cp - \$c:/tmp/w &&
    echo \$c > '$home/runcp'")")
  docker rm -f "$(cat "$home/runcp")" >/dev/null
done
up=$(printf '%s\n' "${ups[@]}" | median)
cpt=$(printf '%s\n' "${cps[@]}" | median)
runcp=$(printf '%s\n' "${runcps[@]}" | median)
warm=$(for _ in $(seq "$n"); do time_ms "$devenv" run -- true; done | median)
exec=$(for _ in $(seq "$n"); do time_ms docker exec "$cid" true; done | median)
edit=$(for i in $(seq "$n"); do
  echo "edit $i" >>"$proj/src/d042/f04242.txt"
  time_ms "$devenv" run -- true
done | median)
"$devenv" run -- grep -c edit src/d042/f04242.txt >/dev/null

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
cat <<OUT
remote engine over tcp (loopback forwarder), 10,000 files / 200 MB, medians of $n
  warm run -- true        ${warm} ms   docker exec true ${exec} ms   ratio $(ratio "$warm" "$exec") (target <= 1.3)
  one file edited + run   ${edit} ms   vs warm run                  ratio $(ratio "$edit" "$warm") (target <= 1.5)
  initial up (upload)     ${up} ms   docker run -d + tar c | docker cp -  ${runcp} ms   ratio $(ratio "$up" "$runcp") (target <= 1.2)
  initial up (upload)     ${up} ms   tar c | docker cp - alone  ${cpt} ms   ratio $(ratio "$up" "$cpt") (up also creates and starts the container)
OUT
