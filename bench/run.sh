#!/usr/bin/env bash
# Run the benchmark: installs what it needs (wrk too), builds, and prints
# figures for the same file behind each way in (see bench/bench.pl), then
# one child's memory after a stream of refused requests (bench/memory.pl).
# BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_ROUNDS, BENCH_WARMUP,
# BENCH_CASES, BENCH_REVOKES and BENCH_CLONES tune it (bench/bench.pl).
set -euo pipefail
cd "$(dirname "$0")/.."
build/deps.sh
if ! command -v wrk >/dev/null; then
    apt-get install -y -qq wrk >/dev/null
fi
make -f apxs.mk all >/dev/null
perl bench/bench.pl
echo
# One child's memory after 100,000 malformed and refused requests.
exec perl bench/memory.pl
