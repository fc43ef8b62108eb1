#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, then runs the C unit
# tests and the integration tests (each starts its own PostgreSQL and httpd
# on loopback and stops them again).  Extra arguments go to prove, e.g.
#   build/test.sh t/20-git-basic.t
set -euo pipefail
cd "$(dirname "$0")/.."

build/deps.sh
make -f apxs.mk all unit fuzz >/dev/null
if [ $# -eq 0 ]; then
    set -- t/
fi
prove -v "$@"
