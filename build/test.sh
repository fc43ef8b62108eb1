#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, then runs the C unit
# tests, the fuzzers and the integration tests (each starts its own
# PostgreSQL and httpd on loopback and stops them again).  Extra arguments
# go to prove, e.g.
#   build/test.sh t/20-git-basic.t
set -euo pipefail
cd "$(dirname "$0")/.."

build/deps.sh
# As many compilers at a time as there are processors; one make at a time
# in a checkout (a demo started meanwhile runs one too: build/demo.sh).
flock build make -j"$(nproc)" -f apxs.mk all unit fuzz >/dev/null

# Every test's servers live under one directory of this run's own, so that
# whatever a killed test left running is stopped here, whatever happened.
# In memory (/dev/shm) where it has room and runs programs (a test's CGI
# scripts and hooks live there too): every test copies a cluster of a
# thousand files and removes it again, and on a disk that is a third of a
# second of the kernel's time per copy, on tmpfs a twentieth; what the
# servers write costs no writeback either.  Elsewhere, /tmp.
base=/tmp
if [ -d /dev/shm ] && [ -w /dev/shm ] \
    && ! findmnt -rno OPTIONS --target /dev/shm 2>/dev/null | grep -qw noexec \
    && [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -gt 4194304 ] 2>/dev/null; then
    base=/dev/shm
fi
BBT_TMPDIR=$(mktemp -d "$base/bbt-run-XXXXXX")
chmod 0755 "$BBT_TMPDIR"
export BBT_TMPDIR
# Stopping what already stopped fails (the template cluster always has):
# no stop's status may become the run's (set -e holds in the trap too).
# BBT_KEEP=1 keeps a test's directory (t/lib/BBT/Env.pm), which is in this
# one: the servers are stopped all the same, this one is kept, and where it
# is is said after prove's output.
# apache2 -k stop only signals the parent, which then stops its children:
# the script's exit waits for it (a loaded machine takes seconds), so that
# what it says is stopped is, and its port is free; one still there after
# 30 s is killed.
stop_httpd() {
    local pidf pid i
    pidf=$(sed -n 's/^PidFile "\(.*\)"$/\1/p' "$1/httpd.conf" | head -n 1)
    pid=$(cat "$pidf" 2>/dev/null || true)
    /usr/sbin/apache2 -f "$1/httpd.conf" -k stop 2>/dev/null || true
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    for i in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
    local d
    for d in "$BBT_TMPDIR"/*/; do
        if [ -f "$d/httpd.conf" ]; then
            stop_httpd "$d"
        fi
        # A test's cluster, or the template of a run's clusters (t/lib/BBT/Pg.pm).
        for pg in "$d/pg/data" "$d/data"; do
            [ -f "$pg/PG_VERSION" ] || continue
            if [ "$(id -u)" -eq 0 ]; then
                runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pg" \
                    -m immediate stop >/dev/null 2>&1 || true
            else
                /usr/lib/postgresql/15/bin/pg_ctl -D "$pg" -m immediate stop >/dev/null 2>&1 || true
            fi
        done
    done
    if [ -n "${BBT_KEEP:-}" ] && [ "$BBT_KEEP" != 0 ]; then
        echo "# BBT_KEEP: kept $BBT_TMPDIR, this run's directory (its servers stopped)" >&2
    else
        rm -rf "$BBT_TMPDIR"
    fi
    return 0
}
trap cleanup EXIT

if [ $# -gt 0 ]; then
    prove -v "$@"
    exit
fi

# The whole suite: most tests in parallel (each has its own PostgreSQL,
# httpd, ports and directories), BBT_JOBS at a time; then, alone, the one
# that cannot share the tree: t/60 makes the README newer and checks that
# the man pages are then out of date, which any other test's make install
# would make true again.  The tests that install into the system (t/62,
# t/63: /etc/apache2, the package; each takes a lock on /etc/apache2 and
# waits for the others') run one after another in one of those places
# from the start, t/63-deb first (it builds the .deb the others take):
# started as places came free, four of them at once held four places
# while three waited for the lock.  The others, which read nothing they
# change, run beside them, the slowest first, longest first, so that none
# of them starts late and the parallel part ends sooner; the rest follow
# in name order.  Their order is the time each took on a 2-core machine,
# a fresh clone's .ci/run on 2026-12-07 (t/10-unit-valgrind,
# t/82-cache-pooler-txn, t/32-last-use-retry and t/30-migrations-versions
# as they take since they were made cheaper that day).
# Five at a time: most of the slow ones wait (for a module's timer, a
# retry, a lock) far more than they compute.  The suite's CPU, PostgreSQL's
# and httpd's included, is some 800 s on two cores, and three at a time
# left the cores half idle: a run's length was the sum of its tests'
# lengths over three (755 s on 2026-12-07, for 2,250 s of tests).
jobs=${BBT_JOBS:-5}
serial='t/60-man.t'
# Those that take the lock: BBT::DebHarness's, and those that take it
# themselves.
chain=(t/63-deb.t)
while read -r f; do
    [ "$f" = t/63-deb.t ] || chain+=("$f")
done < <(grep -l -E "BBT::DebHarness|'/etc/apache2' or die" t/*.t)
slow='t/79-sanitizers.t t/55-browser.t t/14-fuzz.t t/10-unit-valgrind.t t/83-cache-probe-refused.t
      t/37-roles-locks.t t/82-cache-pooler-txn.t t/83-cache-child-exit.t t/80-cache-dest-wait.t
      t/32-last-use-retry.t t/30-migrations-versions.t t/97-demo-orphans.t t/82-cache-marks.t
      t/82-cache-listener-backoff.t t/57-notify-stream.t t/57-cli-stale-stats.t t/32-last-use-stale-conn.t
      t/82-cache-old-schema.t t/22-cli-commit-noop-failover.t t/74-mpms.t t/94-throttle-clock.t
      t/26-db-initsql-reset.t t/45-bitbucket-rest.t t/69-bulk-stream.t t/83-cache-probe-pool-full.t
      t/94-clock-lookup-wait.t t/82-cache-triggers.t t/80-cache.t t/30-upgrade-traffic.t t/22-cli-commit-lost.t
      t/82-cache-initsql.t t/57-rest-write-stale-stats.t t/88-rest-page-answers.t t/30-migrations.t t/22-cli.t
      t/82-cache-listener.t t/32-last-use-vhost.t t/82-cache-new-connections-refused.t t/85-throttle.t
      t/81-cache-nodes.t'
parallel=()
for f in $slow t/*.t; do
    case " $serial ${chain[*]} ${parallel[*]} " in
    *" $f "*) ;;
    *) parallel+=("$f") ;;
    esac
done
# CI shows only the end of what a run prints, and the parallel part's
# summary scrolls away under the serial part's verbose output: keep it,
# and say again at the end which tests failed, and how.
log="$BBT_TMPDIR/parallel.log"
rc=0
# prove's --rules cannot say "these in sequence, beside the rest in
# parallel" (a sequence it is given starts once every other test has), so
# its harness, with the same output.
# shellcheck disable=SC2016
perl -MTAP::Harness -e '
    my ($jobs, $n, @tests) = @ARGV;
    my @chain = @tests[0 .. $n - 1];
    my $h = TAP::Harness->new({ jobs => $jobs, timer => 1,
                                rules => { par => [{ seq => [@chain] }, { par => "**" }] } });
    exit($h->runtests(@tests)->has_problems ? 1 : 0);
' "$jobs" "${#chain[@]}" "${chain[@]}" "${parallel[@]}" 2>&1 | tee "$log" || rc=1
# shellcheck disable=SC2086
prove -v --timer $serial || rc=1
if [ $rc -ne 0 ] && grep -q '^Test Summary Report' "$log"; then
    echo
    echo "# The parallel part failed; what its failing tests said:"
    grep -E '^ *(not ok|#   Failed test|#   (at|in) |#\s+(got|expected):|Dubious|Bailout)' "$log" || true
    sed -n '/^Test Summary Report/,$p' "$log"
fi
exit $rc
