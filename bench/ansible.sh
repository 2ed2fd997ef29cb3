#!/usr/bin/env bash
# The ansible step's own overhead: `devenv build` rebuilding an ansible step (identity check
# of the controller, controller container, mediated socket, upload of the playbook's files,
# the play, removing Ansible's temp directory, commit) next to the same playbook run by hand:
# `docker run` of a container from the same parent layer, `ansible-playbook` from the same
# controller image with the engine's socket mounted (community.docker.docker_api), and
# `docker commit`. Each run edits a vars file so the step rebuilds; medians over RUNS runs
# (default 5), alternating.
#   DEVENV=path/to/devenv bash bench/ansible.sh
# Needs the Debian minbase rootfs the integration tests cache in /tmp/devenv-it-cache.
set -euo pipefail
DEVENV=${DEVENV:-$PWD/target/release/devenv}
RUNS=${RUNS:-5}
ROOTFS=${ROOTFS:-/tmp/devenv-it-cache/debian-bookworm-minbase.tar.gz}
[ -f "$ROOTFS" ] || { echo "no $ROOTFS: run the ansible integration tests once" >&2; exit 1; }
work=$(mktemp -d)
name="bench-ansible-$$"
cleanup() {
  docker ps -aq --filter "label=dev.devenv.project=$name" | xargs -r docker rm -f >/dev/null
  docker ps -aq --filter "label=bench=$name" | xargs -r docker rm -f >/dev/null
  for _ in 1 2 3; do
    docker images -q --filter "label=dev.devenv.project=$name" | xargs -r docker rmi -f >/dev/null 2>&1 || true
    docker images -q --filter "label=bench=$name" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
cp "$ROOTFS" "$work/debian.tar.gz"
mkdir -p "$work/play/vars" "$work/play/templates"
cat >"$work/devenv.toml" <<TOML
name = "$name"
[base]
rootfs = "debian.tar.gz"
[[step]]
name = "python"
run = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 >/dev/null && rm -rf /var/lib/apt/lists/*"
[[step]]
name = "site"
ansible = "play/site.yml"
TOML
cat >"$work/play/site.yml" <<'YAML'
- hosts: all
  gather_facts: false
  vars_files: [vars/main.yml]
  tasks:
    - name: a directory
      ansible.builtin.file: {path: /opt/app, state: directory, mode: "0755"}
    - name: a file from a template
      ansible.builtin.template: {src: app.conf.j2, dest: /opt/app/app.conf}
    - name: a line in a file
      ansible.builtin.lineinfile: {path: /opt/app/app.conf, line: "mode = dev"}
    - name: a command
      ansible.builtin.command: "true"
YAML
echo 'port = {{ app_port }}' >"$work/play/templates/app.conf.j2"
echo 'app_port: 0' >"$work/play/vars/main.yml"
cd "$work"
"$DEVENV" -q build
controller=$(sed -n 's/^image = "\(.*\)"$/\1/p' devenv.lock | tail -1)
# The python layer: the parent of the ansible step's layer.
top=$(docker image inspect -f '{{index .Config.Labels "dev.devenv.parent"}}' "devenv/$name:$("$DEVENV" hash)")
parent="devenv/layer:$top"
cat >"$work/inventory.ini" <<INI
[devenv]
target ansible_connection=community.docker.docker_api ansible_host=TARGET ansible_docker_docker_host=unix:///var/run/docker.sock ansible_python_interpreter=auto_silent
INI
ms() { date +%s%N; }
devenv_times=()
hand_times=()
for i in $(seq 1 "$RUNS"); do
  echo "app_port: $((1000 + i))" >play/vars/main.yml
  t0=$(ms)
  "$DEVENV" -q build >/dev/null 2>&1
  t1=$(ms)
  devenv_times+=($(( (t1 - t0) / 1000000 )))
  echo "app_port: $((2000 + i))" >play/vars/main.yml
  t0=$(ms)
  target=$(docker run -d --label "bench=$name" "$parent" sleep infinity)
  sed "s/TARGET/$target/" inventory.ini >inventory.run
  docker run --rm --label "bench=$name" -v /var/run/docker.sock:/var/run/docker.sock \
    -v "$work:/project" -w /project/play -e ANSIBLE_PIPELINING=1 -e ANSIBLE_NOCOLOR=1 \
    "$controller" ansible-playbook -i /project/inventory.run /project/play/site.yml >/dev/null
  docker commit -c "LABEL bench=$name" "$target" >/dev/null
  docker rm -f "$target" >/dev/null
  t1=$(ms)
  hand_times+=($(( (t1 - t0) / 1000000 )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
d=$(median "${devenv_times[@]}")
h=$(median "${hand_times[@]}")
echo "ansible step rebuild, 4 tasks, $RUNS runs, medians"
echo "| case | devenv | by hand | ratio |"
echo "|---|---:|---:|---:|"
echo "| rebuild of an ansible step (\`devenv build\`) vs docker run + ansible-playbook (docker_api, engine socket) + docker commit | $d ms | $h ms | $(awk -v a="$d" -v b="$h" 'BEGIN {printf "%.2fx", a/b}') |"
echo "devenv runs (ms): ${devenv_times[*]}"
echo "by hand runs (ms): ${hand_times[*]}"
