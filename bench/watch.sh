#!/usr/bin/env bash
# Benchmark `devenv watch` against the real Docker engine.
#
#   1. start-to-ready: a project of 20,000 files, 15,000 of them under the gitignored
#      node_modules/ and target/; time from launching `devenv watch` (environment already
#      up) to its "watching N directories" line. Target: under 1 s.
#   2. inotify watches held by the watch process (`inotify wd:` lines in
#      /proc/PID/fdinfo/*): must equal the kept directories, none under ignored ones.
#   3. save → rule command started, over $SAVES saves of a file under src/: the rule
#      records the container's clock (adjtimex, microseconds; the container shares the
#      host's clock) and we compare it with the host time of the save. Target: median
#      within debounce + 50 ms.
#
# Usage: bench/watch.sh            (builds target/release/devenv unless DEVENV is set)
#        DEVENV=path/to/devenv SAVES=20 DEBOUNCE=100 bench/watch.sh
# Needs: docker, a static busybox (/bin/busybox), GNU coreutils. Cleans up its container,
# images and temp directory on every exit path.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
SAVES=${SAVES:-20}
DEBOUNCE=${DEBOUNCE:-100}
if [[ -z "${DEVENV:-}" ]]; then
    (cd "$here" && cargo build --release --quiet --bin devenv)
    DEVENV=$here/target/release/devenv
fi
BUSYBOX=${BUSYBOX:-$(command -v busybox || echo /bin/busybox)}

name="bench-watch-$$"
work=$(mktemp -d /tmp/devenv-bench-watch.XXXXXX)
proj=$work/proj
watch_pid=""

cleanup() {
    set +e
    if [[ -n "$watch_pid" ]] && kill -0 "$watch_pid" 2>/dev/null; then
        kill -INT "$watch_pid"
        wait "$watch_pid" 2>/dev/null
    fi
    if [[ -f "$proj/devenv.toml" ]]; then
        (cd "$proj" && HOME=$work "$DEVENV" -q down >/dev/null 2>&1)
    fi
    docker ps -aq --filter "label=dev.devenv.project=$name" | xargs -r docker rm -f -v >/dev/null 2>&1
    for _ in 1 2 3; do
        ids=$(docker images -q --filter "label=dev.devenv.project=$name" | sort -u)
        [[ -z "$ids" ]] && break
        # shellcheck disable=SC2086
        docker rmi -f $ids >/dev/null 2>&1
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_us() { date +%s%6N; }

median() { sort -n | awk '{v[NR]=$1} END {if (NR == 0) {print "n/a"; exit} if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# --- a busybox root filesystem as the base (no registry needed) -------------------------
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,etc,tmp,root,home,usr/bin}
chmod 1777 "$rootfs/tmp"
cp "$BUSYBOX" "$rootfs/bin/busybox"
for applet in $("$BUSYBOX" --list); do
    [[ "$applet" == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
echo "$name" >"$rootfs/etc/devenv-bench"

# --- the project: 5,000 kept files, 15,000 ignored ----------------------------------------
mkdir -p "$proj"
tar -C "$rootfs" -cf "$proj/base.tar" .
cat >"$proj/devenv.toml" <<EOF
name = "$name"
[base]
rootfs = "base.tar"
[[step]]
run = "true"
[[watch]]
paths = ["src/**"]
run = "adjtimex | awk '/tv_sec/ {s = \$2} /tv_usec/ {u = \$2} END {printf \"%d%06d\\\\n\", s, u}' >> /workspace/stamp"
EOF
printf 'node_modules/\ntarget/\nstamp\n' >"$proj/.gitignore"
make_files() { # dir count ext
    mkdir -p "$1"
    (cd "$1" && eval "touch f{1..$2}.$3")
}
for d in $(seq 1 50); do make_files "$proj/src/mod$d" 100 rs; done            # 5,000
for d in $(seq 1 300); do make_files "$proj/node_modules/pkg$d/lib" 25 js; done # 7,500
for d in $(seq 1 300); do make_files "$proj/target/debug/deps/c$d" 25 o; done   # 7,500
total=$(find "$proj" -type f ! -name base.tar ! -name devenv.toml ! -name .gitignore | wc -l)
kept_dirs=$(find "$proj" -type d ! -path '*/node_modules*' ! -path '*/target*' ! -path '*/.devenv*' | wc -l)
echo "tree: $total files ($(find "$proj/node_modules" "$proj/target" -type f | wc -l) ignored), $kept_dirs kept directories"

cd "$proj"
export HOME=$work NO_COLOR=1
"$DEVENV" -q up

# --- 1. start-to-ready ----------------------------------------------------------------------
log=$work/watch.log
out=$work/watch.out
: >"$log"
start=$(now_us)
"$DEVENV" watch --debounce "$DEBOUNCE" >"$out" 2>"$log" &
watch_pid=$!
until grep -q 'watching ' "$log"; do
    kill -0 "$watch_pid" 2>/dev/null || { cat "$log"; echo "watch exited early" >&2; exit 1; }
    sleep 0.002
done
ready=$(now_us)
echo "start to ready: $(((ready - start) / 1000)) ms  ($(grep -o 'watching [0-9]* directories' "$log"))"

# --- 2. inotify watches -----------------------------------------------------------------------
watches=$(cat /proc/"$watch_pid"/fdinfo/* 2>/dev/null | grep -c '^inotify wd:' || true)
echo "inotify watches: $watches (kept directories: $kept_dirs; ignored directories watched: $((watches - kept_dirs)))"

# --- 3. save -> rule started --------------------------------------------------------------------
: >stamp
latencies=()
for i in $(seq 1 "$SAVES"); do
    before=$(wc -l <stamp)
    saved=$(now_us)
    echo "save $i" >src/mod7/f42.rs
    deadline=$((saved + 10000000))
    while [[ $(wc -l <stamp) -le $before ]]; do
        (($(now_us) < deadline)) || { cat "$log"; echo "rule did not run for save $i" >&2; exit 1; }
        sleep 0.005
    done
    ran=$(tail -n 1 stamp)
    latencies+=($(((ran - saved) / 1000)))
    sleep 0.3 # let the rule finish: each save is its own batch
done
printf '%s\n' "${latencies[@]}" >"$work/lat"
echo "save to rule start over $SAVES saves (ms): median $(median <"$work/lat"), min $(sort -n "$work/lat" | head -1), max $(sort -n "$work/lat" | tail -1)  (target: <= $((DEBOUNCE + 50)))"
