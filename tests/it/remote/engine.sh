#!/usr/bin/env bash
# A second Docker engine for the remote-engine tests: one that shares neither this machine's
# filesystem (tmpfs over /tmp, where test projects and HOMEs live) nor its network (its own
# network namespace, so it never touches the host engine's docker0 bridge).
#
#   engine.sh start DIR PARENT_PID TCP_PORT TLS_PORT SSH_PORT   start it (as root), return once
#                                    it answers
#   engine.sh inside DIR PARENT_PID  (internal) run inside `unshare --net --mount`
#   engine.sh forward DIR PARENT_PID TCP_PORT TLS_PORT SSH_PORT  (internal) forwarders, sshd
#
# DIR receives: sock (plain unix socket), tls.sock (unix socket forwarded to the engine's
# TLS listener), pid (dockerd), certs/{ca,cert,key,wrong-ca}.pem, log. On the host's
# loopback, 127.0.0.1:TCP_PORT speaks plain HTTP to the engine and 127.0.0.1:TLS_PORT TLS;
# an sshd on 127.0.0.1:SSH_PORT runs sessions with DOCKER_HOST set to the engine, and
# DIR/bin/ssh is an `ssh` that knows its key and host key (put DIR/bin first in PATH).
# The engine stops by itself when PARENT_PID (the test binary) is gone.
# The forwarders keep half-closed connections (`-t`; socat's default ends them 0.5 s after
# one side's end of input), as a forwarder in front of an engine must: the end of an exec's
# stdin is a half-close, and the command's output follows it.
set -euo pipefail
cmd=$1 dir=$2 parent=$3 tcp_port=${4:-} tls_port=${5:-} ssh_port=${6:-}

certs() {
  local c=$dir/certs
  mkdir -p "$c"
  cd "$c"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=devenv-test-ca \
    -keyout ca-key.pem -out ca.pem 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=devenv-wrong-ca \
    -keyout wrong-ca-key.pem -out wrong-ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
    -keyout server-key.pem -out server.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
    -extfile server.ext -out server-cert.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=client \
    -keyout key.pem -out client.csr 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
    -extfile client.ext -out cert.pem 2>/dev/null
  cd - >/dev/null
}

sshkeys() {
  local s=$dir/ssh
  mkdir -p "$s" "$dir/bin" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$s/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$s/id"
  cp "$s/id.pub" "$s/authorized_keys"
  echo "[127.0.0.1]:$ssh_port $(cat "$s/host_key.pub")" >"$s/known_hosts"
  cat >"$s/sshd_config" <<CONF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $s/host_key
AuthorizedKeysFile $s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
UseDNS no
PidFile $dir/sshd.pid
SetEnv DOCKER_HOST=unix://$dir/sock
CONF
  cat >"$s/config" <<CONF
Host *
  IdentityFile $s/id
  IdentitiesOnly yes
  UserKnownHostsFile $s/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  KexAlgorithms curve25519-sha256
  GSSAPIAuthentication no
CONF
  printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$s/config" >"$dir/bin/ssh"
  chmod +x "$dir/bin/ssh"
}

case $cmd in
start)
  mkdir -p "$dir"
  echo "$parent" >"$dir/parent"
  certs
  sshkeys
  echo '{}' >"$dir/daemon.json"
  # setsid: the engine is not in the test's process group (a Ctrl-C of cargo test still
  # ends it through the parent watch below).
  setsid unshare --net --mount --propagation private "$0" inside "$dir" "$parent" \
    >"$dir/log" 2>&1 </dev/null &
  setsid "$0" forward "$dir" "$parent" "$tcp_port" "$tls_port" >"$dir/forward.log" 2>&1 </dev/null &
  for _ in $(seq 1 300); do
    if [ -S "$dir/sock" ] && [ -S "$dir/tls.sock" ] &&
      DOCKER_HOST=unix://$dir/sock docker version >/dev/null 2>&1; then
      exit 0
    fi
    sleep 0.1
  done
  echo "the test engine did not start; its log:" >&2
  cat "$dir/log" >&2
  exit 1
  ;;
inside)
  ip link set lo up
  mount -t tmpfs tmpfs /tmp
  # The engine's data in memory, as private as the rest: on this machine's ext4 (no
  # journal) creating files right after deleting many (down --volumes, a test's cleanup)
  # crawls past every recently deleted inode, which would measure the disk, not devenv.
  mkdir -p "$dir/data"
  mount -t tmpfs tmpfs "$dir/data"
  dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/exec" \
    --pidfile "$dir/pid" -H "unix://$dir/sock" -H tcp://127.0.0.1:2376 \
    --tlsverify --tlscacert "$dir/certs/ca.pem" --tlscert "$dir/certs/server-cert.pem" \
    --tlskey "$dir/certs/server-key.pem" --storage-driver vfs --iptables=false \
    --ip-masq=false --userland-proxy=false &
  dockerd=$!
  socat -t 3600 "UNIX-LISTEN:$dir/tls.sock,fork,unlink-early" TCP:127.0.0.1:2376 &
  fwd=$!
  while kill -0 "$parent" 2>/dev/null && kill -0 "$dockerd" 2>/dev/null; do sleep 0.5; done
  kill "$fwd" 2>/dev/null || true
  kill "$dockerd" 2>/dev/null || true
  wait "$dockerd" || true
  umount -l "$dir/data" 2>/dev/null || true
  # Everything the engine had (data, keys, certificates) goes with it.
  rm -rf "$dir"
  ;;
forward)
  socat -t 3600 "TCP-LISTEN:$tcp_port,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$dir/sock" &
  plain=$!
  socat -t 3600 "TCP-LISTEN:$tls_port,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$dir/tls.sock" &
  tls=$!
  /usr/sbin/sshd -D -e -f "$dir/ssh/sshd_config" &
  sshd=$!
  while kill -0 "$parent" 2>/dev/null; do sleep 0.5; done
  kill "$plain" "$tls" "$sshd" 2>/dev/null || true
  ;;
esac
