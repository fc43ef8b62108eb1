#!/usr/bin/env bash
# Run the benchmark: installs what it needs (wrk too), builds, and prints
# figures for the same requests with and without mod_bbtoken.
# BENCH_SECONDS, BENCH_CONNECTIONS and BENCH_CLONES tune it.
set -euo pipefail
cd "$(dirname "$0")/.."
build/deps.sh
if ! command -v wrk >/dev/null; then
    apt-get install -y -qq wrk >/dev/null
fi
make -f apxs.mk all >/dev/null
exec perl bench/bench.pl
