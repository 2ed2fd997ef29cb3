#!/usr/bin/env bash
# Run the benchmarks with a release build and write BENCHMARKS.md:
#   bench/run.py   devenv vs the raw docker operations (medians, ratios)
#   bench/watch.sh `devenv watch` start time, inotify watches, save→rule latency
#   bench/pack.sh  `devenv pack`/`load` vs `docker save`/`load`: archive size and time
#   bench/remote.sh a remote engine (own namespaces, tcp): warm run, one edit, initial upload
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked >&2
python3 bench/run.py "$@"
out=BENCHMARKS.md
for arg in "$@"; do case "$arg" in --out=*) out=${arg#--out=} ;; esac; done
{
  echo
  echo "## devenv watch (bench/watch.sh)"
  echo
  echo '```'
  DEVENV="$PWD/target/release/devenv" bash bench/watch.sh 2>&1 | tail -n 4
  echo '```'
} >> "$out"
echo "appended the watch benchmark to $out" >&2
{
  echo
  echo "## Services (bench/services.py)"
  echo
  echo "| case | devenv | baseline | ratio | target |"
  echo "|---|---:|---:|---:|---:|"
  DEVENV="$PWD/target/release/devenv" python3 bench/services.py
} >> "$out"
echo "appended the services benchmark to $out" >&2
{
  echo
  echo "## devenv pack and load (bench/pack.sh)"
  echo
  DEVENV="$PWD/target/release/devenv" bash bench/pack.sh
} >> "$out"
echo "appended the pack benchmarks to $out" >&2
{
  echo
  echo "## Remote engine (bench/remote.sh)"
  echo
  echo '```'
  DEVENV="$PWD/target/release/devenv" bash bench/remote.sh 10 2>/dev/null | tail -n 4
  echo '```'
} >> "$out"
echo "appended the remote benchmark to $out" >&2
