#!/usr/bin/env bash
# A real multi-node Docker Swarm on this one machine, for the swarm tests: each node is a
# dockerd in its own network, mount, uts and pid namespaces, wired to a Linux bridge in a
# separate "switch" namespace at 10.99.0.N/24, with a registry on node 1 (10.99.0.1:5000) that
# every node may pull from, and a static busybox pushed there as 10.99.0.1:5000/bb:1.
# Nothing touches the host's network namespace, docker0, /run, /etc/docker or the host engine.
#
#   cluster.sh start DIR PARENT_PID [N]  start N (default 3) nodes under DIR, swarm init on node 1
#                                        (dispatcher heartbeat 1 s), join the others as workers;
#                                        everything stops and DIR goes when PARENT_PID is gone
#   cluster.sh kill DIR I                node I dies at once (dockerd, containerd, its tasks)
#   cluster.sh add DIR I                 node I starts afresh and joins again (after kill)
#   cluster.sh stop DIR                  every namespace killed, DIR removed
#   cluster.sh inside DIR I              (internal) pid 1 of a node's namespaces
#
# DIR/nI/sock is node I's engine (node 1 is the manager); DIR must not be under /tmp. Node data
# lives on tmpfs mounts inside the nodes' mount namespaces, so killing a node leaves nothing
# behind. Each node hides the host's /tmp (a tmpfs of its own): a bind of a test project under
# /tmp reaches no node, as on real remote machines.
set -euo pipefail
self=$(readlink -f "$0")
cmd=${1:-} ROOT=${2:-}
NET=10.99.0
IMG=$NET.1:5000/bb:1
[ -n "$ROOT" ] || { sed -n '2,16p' "$self"; exit 2; }
CG=devenv-it-swarm-$(basename "$ROOT")

# ours PIDFILE: the pid in it, if that process still has the network namespace recorded at
# start (PIDFILE.ns), so that a recycled pid is never killed.
ours() {
  local u n; u=$(cat "$1" 2>/dev/null) || return 1
  n=$(readlink "/proc/$u/ns/net" 2>/dev/null) || return 1
  [ -n "$n" ] && [ "$n" = "$(cat "$1.ns" 2>/dev/null)" ] && echo "$u"
}
nsinit() { awk '{print $1}' "/proc/$1/task/$1/children" 2>/dev/null; } # child of unshare --fork
d() { docker -H "unix://$ROOT/n$1/sock" "${@:2}"; }

start_node() {
  local i=$1 nd=$ROOT/n$1
  rm -rf "$nd"; mkdir -p "$nd/etc-docker" "$nd/data" "$nd/reg"
  cat >"$nd/daemon.json" <<JSON
{ "insecure-registries": ["$NET.1:5000"], "storage-driver": "vfs",
  "cgroup-parent": "/$CG-n$i", "log-level": "warn" }
JSON
  setsid unshare --net --mount --uts --pid --fork --mount-proc --propagation private \
    "$self" inside "$ROOT" "$i" </dev/null >"$nd/log" 2>&1 &
  echo $! >"$nd/unshare.pid"
}
wire_node() { # a veth pair: "sI" on the switch's bridge, its peer the node's eth0
  local i=$1 u sw; u=$(cat "$ROOT/n$1/unshare.pid"); sw=$(cat "$ROOT/switch.pid")
  for _ in $(seq 1 500); do
    [ "$(readlink /proc/"$u"/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02
  done
  readlink /proc/"$u"/ns/net >"$ROOT/n$i/unshare.pid.ns"
  nsenter -t "$sw" -n ip link add "s$i" type veth peer name eth0 netns "$u"
  nsenter -t "$sw" -n ip link set "s$i" master br0 up
}
wait_node() {
  for _ in $(seq 1 600); do d "$1" version >/dev/null 2>&1 && return; sleep 0.1; done
  echo "node $1 did not start:" >&2; tail -20 "$ROOT/n$1/log" >&2; exit 1
}
join_node() {
  d "$1" swarm join --token "$(d 1 swarm join-token -q worker)" "$NET.1:2377" >/dev/null
}
stop_all() {
  local f u p
  for f in "$ROOT"/n*/unshare.pid; do
    u=$(ours "$f") || continue; p=$(nsinit "$u")
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null   # the pid namespace's init: all of it dies
  done
  for f in "$ROOT"/n*/unshare.pid; do
    if u=$(ours "$f"); then while kill -0 "$u" 2>/dev/null; do sleep 0.02; done; fi
  done
  if u=$(ours "$ROOT/switch.pid"); then kill -KILL "$u" 2>/dev/null || true; fi
  if u=$(cat "$ROOT/watch.pid" 2>/dev/null) && [ "$u" != "$$" ] &&
    grep -q "cluster.sh" "/proc/$u/cmdline" 2>/dev/null; then
    kill "$u" 2>/dev/null || true
  fi
  # A killed runc leaves empty cgroup directories behind.
  for c in /sys/fs/cgroup/*/"$CG"-n* /sys/fs/cgroup/"$CG"-n*; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$ROOT"
}

case $cmd in
start)
  parent=$3 n=${4:-3}
  mkdir -p "$ROOT"
  trap 'echo "the cluster did not start; stopping what did" >&2; stop_all' ERR
  echo "$parent" >"$ROOT/parent"
  setsid unshare --net sh -c 'ip link set lo up; ip link add br0 type bridge;
    ip link set br0 up; touch '"$ROOT"'/switch.ready; exec sleep infinity' \
    </dev/null >/dev/null 2>&1 &
  echo $! >"$ROOT/switch.pid"
  # Everything goes when the test binary does (even killed).
  setsid "$self" watch "$ROOT" "$parent" </dev/null >/dev/null 2>&1 &
  echo $! >"$ROOT/watch.pid"
  for i in $(seq 1 "$n"); do start_node "$i"; done
  while [ ! -e "$ROOT/switch.ready" ]; do sleep 0.05; done
  readlink "/proc/$(cat "$ROOT/switch.pid")/ns/net" >"$ROOT/switch.pid.ns"
  for i in $(seq 1 "$n"); do wire_node "$i"; done
  for i in $(seq 1 "$n"); do wait_node "$i"; done
  d 1 swarm init --advertise-addr "$NET.1" --dispatcher-heartbeat 1s >/dev/null
  for i in $(seq 2 "$n"); do join_node "$i"; done
  mkdir -p "$ROOT/rootfs/bin" "$ROOT/rootfs/tmp" "$ROOT/rootfs/etc"
  cp "$(command -v busybox)" "$ROOT/rootfs/bin/busybox"
  for a in $(busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$ROOT/rootfs/bin/$a"; done
  tar -C "$ROOT/rootfs" -cf "$ROOT/bb.tar" .
  rm -rf "$ROOT/rootfs"
  d 1 import -c 'CMD ["sh"]' "$ROOT/bb.tar" "$IMG" >/dev/null
  for _ in $(seq 1 100); do
    nsenter -t "$(cat "$ROOT/n1/unshare.pid")" -n curl -sf "http://$NET.1:5000/v2/" >/dev/null &&
      break
    sleep 0.1
  done
  d 1 push "$IMG" >/dev/null
  ;;
watch)
  # Polls rather than `tail --pid`, so that nothing of it outlives a `stop`.
  while kill -0 "$3" 2>/dev/null; do sleep 0.2; done
  stop_all
  ;;
kill)
  if u=$(ours "$ROOT/n$3/unshare.pid"); then
    p=$(nsinit "$u"); [ -n "$p" ] && kill -KILL "$p"
    while kill -0 "$u" 2>/dev/null; do sleep 0.02; done
  fi
  rm -f "$ROOT/n$3/unshare.pid" "$ROOT/n$3/unshare.pid.ns"
  ;;
add)
  i=$3; ours "$ROOT/n$i/unshare.pid" >/dev/null && { echo "node $i is running" >&2; exit 1; }
  start_node "$i"; wire_node "$i"; wait_node "$i"; join_node "$i"
  for id in $(d 1 node ls -q --filter "name=node$i"); do   # its former self, now Down
    [ "$(d 1 node inspect -f '{{.Status.State}}' "$id")" = down ] && d 1 node rm "$id" >/dev/null
  done
  true
  ;;
stop) stop_all ;;
inside)
  i=$3 nd=$ROOT/n$3
  trap 'kill -TERM $dockerd 2>/dev/null; wait $dockerd; exit 0' TERM INT
  while ! ip link show eth0 >/dev/null 2>&1; do sleep 0.02; done
  hostname "node$i"
  ip link set lo up
  ip addr add "$NET.$i/24" dev eth0
  ip link set eth0 up
  mount -t tmpfs tmpfs /run            # private /run: exec-root, containerd, xtables.lock
  mount -t tmpfs tmpfs /tmp            # the host's /tmp (test projects) is not the node's
  mount --bind "$nd/etc-docker" /etc/docker   # own key.json, certs.d
  mount -t tmpfs tmpfs "$nd/data"      # data-root in memory, gone with the namespace
  if [ "$i" = 1 ]; then
    mount -t tmpfs tmpfs "$nd/reg"
    cat >"$nd/registry.yml" <<YML
version: 0.1
storage: { filesystem: { rootdirectory: $nd/reg }, delete: { enabled: true } }
http: { addr: "$NET.1:5000" }
YML
    docker-registry serve "$nd/registry.yml" >"$nd/registry.log" 2>&1 &
  fi
  dockerd --config-file "$nd/daemon.json" --data-root "$nd/data" --exec-root /run/docker \
    --pidfile /run/docker.pid -H "unix://$nd/sock" &
  dockerd=$!
  wait $dockerd
  ;;
*) sed -n '2,16p' "$self"; exit 2 ;;
esac
