#!/usr/bin/env bash
# The fuzzers' long exploration: the suite's fuzz tests (t/14-fuzz*.t,
# t/47-fuzz-*.t), every target with BBT_FUZZ_SCALE (100 unless set) times
# the runs build/test.sh gives it, one target after the other; the oracles
# and the corpus replayed are the suite's.  Extra arguments go to prove
# instead of the fuzz tests, e.g.
#   BBT_FUZZ_SCALE=1000 build/fuzz.sh t/47-fuzz-input.t
set -euo pipefail
cd "$(dirname "$0")/.."

export BBT_FUZZ_SCALE=${BBT_FUZZ_SCALE:-100}
if [ $# -eq 0 ]; then
    set -- t/14-fuzz.t t/14-fuzz-rest.t t/47-fuzz-*.t
fi
exec bash build/test.sh "$@"
