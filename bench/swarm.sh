#!/usr/bin/env bash
# Swarm benchmark, in one run, on a real three-node swarm on this machine
# (tests/it/swarm/cluster.sh: three engines in their own namespaces, a registry on the
# manager's address):
#   `devenv up --swarm` of three services with probes (dev container and image there, the
#     services not)                  vs `docker stack deploy` of the same stack file
#                                       (`devenv export stack`) + polling until every
#                                       replica runs (healthy where it has a probe)
#   `devenv scale web=5` (returns when all five are ready)
#                                    vs `docker service scale -d web=5` + the same polling
# usage: bench/swarm.sh [N]   (N runs per row, median; default 5). Needs root.
set -euo pipefail
[ -n "${TRACE:-}" ] && set -x
cd "$(dirname "$0")/.."
n=${1:-5}
devenv=${DEVENV:-$PWD/target/release/devenv}
[ -x "$devenv" ] || cargo build --release --locked >&2
dir=/var/tmp/devenv-swarm-bench-$$
proj=$(mktemp -d /tmp/devenv-bench-swarm-XXXX)
home=$(mktemp -d /tmp/devenv-bench-home-XXXX)
sleep infinity &
keeper=$!
cleanup() {
  kill "$keeper" 2>/dev/null || true
  tests/it/swarm/cluster.sh stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$proj" "$home"
}
trap cleanup EXIT
tests/it/swarm/cluster.sh start "$dir" "$keeper" 3
export DOCKER_HOST=unix://$dir/n1/sock HOME=$home NO_COLOR=1
unset DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_CONTEXT DEVENV_SWARM CI
name=bench-swarm-$$
img=10.99.0.1:5000/bb:1
bb=$(command -v busybox)
mkdir -p "$proj/root/bin" "$proj/root/etc" "$proj/root/tmp"
cp "$bb" "$proj/root/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -sf busybox "$proj/root/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$proj/root/etc/passwd"
tar -C "$proj/root" -cf "$proj/base.tar" .
rm -rf "$proj/root"
http() { # a service answering on port $1
  echo "[\"sh\", \"-c\", \"mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p $1 -h /www\"]"
}
cat >"$proj/devenv.toml" <<TOML
name = "$name"
[base]
rootfs = "base.tar"
[services.web]
image = "$img"
command = $(http 8000)
replicas = 3
ready = "wget -q -O /dev/null http://127.0.0.1:8000/"
[services.api]
image = "$img"
command = $(http 8001)
ready = "wget -q -O /dev/null http://127.0.0.1:8001/"
[services.cache]
image = "$img"
command = $(http 8002)
ready = "wget -q -O /dev/null http://127.0.0.1:8002/"
TOML
cd "$proj"
"$devenv" -q up --swarm >/dev/null
"$devenv" -q export stack -o stack.yml >/dev/null
# The services only: the exported file also has the dev container (a local image and a
# bind of this machine's project), which `up --swarm` keeps as a plain container.
python3 - stack.yml <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
out, skip = [], False
for l in lines:
    if l == "  dev:":
        skip = True
        continue
    if skip and l.startswith("  ") and not l.startswith("    "):
        skip = False
    if skip and not l.startswith("    ") and l:
        skip = False
    if not skip:
        out.append(l)
open(sys.argv[1], "w").write("\n".join(out))
PY
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
d() { docker "$@"; }
# every service of the stack / the project has all its replicas running (x/x)
converged() {
  local want=$1 filter=$2 line
  while read -r line; do
    [ -n "$line" ] || return 1
    [ "${line%%/*}" = "${line##*/}" ] || return 1
  done < <(d service ls --filter "$filter" --format '{{.Replicas}}' | sed 's/ .*//')
  [ "$(d service ls -q --filter "$filter" | wc -l)" -eq "$want" ]
}
wait_gone() { # the services' containers on the manager are gone
  while [ -n "$(d ps -aq --filter "label=$1")" ] ||
    [ -n "$(d service ls -q --filter "label=$1")" ]; do sleep 0.1; done
}
project="dev.devenv.project=$name"
remove_services() {
  d service ls -q --filter "label=$project" --filter "label=dev.devenv.role=service" |
    xargs -r docker service rm >/dev/null
  while [ -n "$(d service ls -q --filter "label=$project" --filter "label=dev.devenv.role=service")" ]; do
    sleep 0.1
  done
  sleep 2 # each node removes its replicas' containers by itself
}
stack=st$$
: >up.t; : >deploy.t; : >scale.t; : >dscale.t
for _ in $(seq "$n"); do
  remove_services
  t=$(date +%s%N); "$devenv" -q up --swarm >/dev/null; ms "$t" >>up.t
  remove_services
  t=$(date +%s%N)
  d stack deploy -c stack.yml "$stack" >/dev/null
  until converged 3 "label=com.docker.stack.namespace=$stack"; do sleep 0.05; done
  ms "$t" >>deploy.t
  d stack rm "$stack" >/dev/null
  wait_gone "com.docker.stack.namespace=$stack"
done
"$devenv" -q up --swarm >/dev/null
d stack deploy -c stack.yml "$stack" >/dev/null
until converged 3 "label=com.docker.stack.namespace=$stack"; do sleep 0.05; done
for _ in $(seq "$n"); do
  t=$(date +%s%N); "$devenv" -q scale web=5 >/dev/null; ms "$t" >>scale.t
  "$devenv" -q scale web=3 >/dev/null
  t=$(date +%s%N)
  d service scale -d "${stack}_web=5" >/dev/null
  until converged 3 "label=com.docker.stack.namespace=$stack" &&
    [ "$(d service ls --filter "name=${stack}_web" --format '{{.Replicas}}' | sed 's/ .*//')" = 5/5 ]; do
    sleep 0.05
  done
  ms "$t" >>dscale.t
  d service scale -d "${stack}_web=3" >/dev/null
  until [ "$(d service ls --filter "name=${stack}_web" --format '{{.Replicas}}' | sed 's/ .*//')" = 3/3 ]; do
    sleep 0.05
  done
done
d stack rm "$stack" >/dev/null
"$devenv" -q down >/dev/null 2>&1 || true
row() {
  local a b; a=$(median <"$2"); b=$(median <"$3")
  printf '| %s | %s ms | %s ms | %sx | <= %s |\n' "$1" "$a" "$b" \
    "$(echo "scale=2; $a / $b" | bc)" "$4"
}
echo "| case | devenv | baseline | ratio | target |"
echo "|---|---|---|---|---|"
row "\`devenv up --swarm\` of 3 services with probes vs \`docker stack deploy\` + polling" up.t deploy.t 1.2x
row "\`devenv scale web=5\` vs \`docker service scale -d\` + polling" scale.t dscale.t 1.2x
