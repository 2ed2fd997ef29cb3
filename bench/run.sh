#!/usr/bin/env bash
# Run the benchmarks (see bench/run.py) with a release build; writes BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked >&2
exec python3 bench/run.py "$@"
