#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, then runs the C unit
# tests, the fuzzers and the integration tests (each starts its own
# PostgreSQL and httpd on loopback and stops them again).  Extra arguments
# go to prove, e.g.
#   build/test.sh t/20-git-basic.t
set -euo pipefail
cd "$(dirname "$0")/.."

build/deps.sh
make -f apxs.mk all unit fuzz >/dev/null
if [ $# -eq 0 ]; then
    set -- t/
fi

# Every test's servers live under one directory of this run's own, so that
# whatever a killed test left running is stopped here, whatever happened.
BBT_TMPDIR=$(mktemp -d /tmp/bbt-run-XXXXXX)
chmod 0755 "$BBT_TMPDIR"
export BBT_TMPDIR
cleanup() {
    local d
    for d in "$BBT_TMPDIR"/*/; do
        [ -f "$d/httpd.conf" ] && /usr/sbin/apache2 -f "$d/httpd.conf" -k stop 2>/dev/null
        if [ -f "$d/pg/data/PG_VERSION" ]; then
            if [ "$(id -u)" -eq 0 ]; then
                runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$d/pg/data" \
                    -m immediate stop >/dev/null 2>&1
            else
                /usr/lib/postgresql/15/bin/pg_ctl -D "$d/pg/data" -m immediate stop >/dev/null 2>&1
            fi
        fi
    done
    rm -rf "$BBT_TMPDIR"
    return 0
}
trap cleanup EXIT
prove -v "$@"
