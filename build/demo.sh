#!/usr/bin/env bash
# A working demonstration on localhost:
#   build/demo.sh          install what is missing, build, start PostgreSQL and
#                          httpd with mod_bbtoken, make a repository, a user
#                          and a token, and print a git clone command
#   build/demo.sh stop     stop both and remove the demo's directory
# BBTOKEN_DEMO_PORT (default 8080) and BBTOKEN_DEMO_DIR (default
# /tmp/bbtoken-demo) change where it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${BBTOKEN_DEMO_DIR:-/tmp/bbtoken-demo}
dir=${dir%/}
case $dir in
/?*) ;;
*)
    echo "demo: BBTOKEN_DEMO_DIR must be an absolute path, not the root" >&2
    exit 2
    ;;
esac

# httpd's and PostgreSQL's configurations quote the paths made from it;
# pg_ctl runs its server through /bin/sh with the log's path in double
# quotes, where a $ or ` would be expanded (as postgres); and
# unix_socket_directories is a list, split at commas.
case $dir in
*[\'\"\\\$\`,]* | *[[:cntrl:]]*)
    echo "demo: BBTOKEN_DEMO_DIR may hold no quote, backslash, \$, \`, comma or control character" >&2
    exit 2
    ;;
esac

# Every directory above the demo's must be one that no other user can
# change: root's (or the demo's user's) and not writable by group or
# others, or sticky as /tmp is.  In a directory another user may write,
# they could put one of their own in the demo's place right after it is
# made, and root's httpd would load the httpd.conf they wrote there.  The
# path is taken as resolved, so a link on the way is judged where it leads
# and cannot be changed after.
safe_above() {
    local p me
    me=$(id -u)
    p=$(readlink -e -- "$(dirname -- "$dir")") || {
        echo "demo: $(dirname -- "$dir") does not exist" >&2
        exit 1
    }
    dir=${p%/}/$(basename -- "$dir")
    while :; do
        if [ -L "$p" ] || [ ! -d "$p" ] ||
            { [ "$(stat -c %u -- "$p")" != 0 ] && [ "$(stat -c %u -- "$p")" != "$me" ]; } ||
            [ -n "$(find "$p" -maxdepth 0 -perm /022 ! -perm -1000)" ]; then
            echo "demo: $p, above $dir, may be changed by another user (it is not root's, or group or others may write it and it is not sticky): set BBTOKEN_DEMO_DIR elsewhere" >&2
            exit 1
        fi
        [ "$p" = / ] && break
        p=$(dirname -- "$p")
    done
}
safe_above

# The demo runs as root, by default under /tmp: a directory there that is
# not root's alone (someone else's, or a link) is never read, or its
# httpd.conf and pg/data would have root and postgres load and signal what
# they name.  Nor is one root made for something else, which stop would
# remove: the demo's holds the mark the test harness leaves in a directory
# it makes (t/lib/BBT/Env.pm), or nothing yet, or (a demo started before
# there was a mark) its httpd.conf, pgpass and cluster.
ours() {
    [ ! -L "$dir" ] && [ -d "$dir" ] && [ -O "$dir" ] &&
        [ -z "$(find "$dir" -maxdepth 0 -perm /022)" ] &&
        { [ -f "$dir/.bbt-env" ] || [ -z "$(ls -A "$dir")" ] ||
            { [ -f "$dir/httpd.conf" ] && [ -f "$dir/pgpass" ] &&
                [ -f "$dir/pg/data/PG_VERSION" ]; }; }
}

not_ours() {
    echo "demo: $dir is not the demo's (not a directory of the demo's that only $(id -un) may write): remove it, or set BBTOKEN_DEMO_DIR" >&2
    exit 1
}

# The demo's servers, running: httpd's and PostgreSQL's programs started
# on its files (found by their programs and arguments, not by pid files,
# which a server that died leaves behind and its pid may be another's
# since).  The parents only: httpd's children and PostgreSQL's backends
# go with them; with "all", httpd's children too (the backends' arguments
# are rewritten, and they leave when their postmaster does).  One grep
# reads every process's arguments: a command for each process made a scan
# take a second, and stop's wait scans five times a second.
demo_procs() {
    local f p exe pids=" "
    while read -r f; do
        p=${f#/proc/}
        p=${p%/cmdline}
        # By path: a program an upgrade replaced since it started is
        # "... (deleted)" there, and another inode than the new one.
        exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
        case ${exe% (deleted)} in
        /usr/sbin/apache2 | /usr/lib/postgresql/*/bin/postgres) pids+="$p " ;;
        esac
    done < <(grep -lsxzF -e "$dir/httpd.conf" -e "$dir/pg/data" /proc/[0-9]*/cmdline)
    for p in $pids; do
        local k v pp=
        [ -r "/proc/$p/status" ] || continue
        while read -r k v; do
            if [ "$k" = PPid: ]; then pp=$v; fi
        done <"/proc/$p/status"
        [[ ${1:-} == all || $pids != *" $pp "* ]] && echo "$p"
    done
    return 0
}

stop() {
    if [ ! -e "$dir" ] && [ ! -L "$dir" ]; then
        echo "demo: no demo in $dir (one started with BBTOKEN_DEMO_DIR is stopped with it)" >&2
        return 0
    fi
    ours || not_ours
    local p procs left n
    procs=$(demo_procs)
    # TERM stops httpd, as -k stop does, without reading its configuration
    # (its module may be gone, after make clean); INT is PostgreSQL's fast
    # shutdown.
    for p in $procs; do
        case $(readlink "/proc/$p/exe" 2>/dev/null) in
        */postgres*) kill -INT "$p" 2>/dev/null || true ;;
        *) kill -TERM "$p" 2>/dev/null || true ;;
        esac
    done
    # 10 s for them to stop, then KILL for what of the demo's is left:
    # httpd's children whose parent was killed (kill -9, the OOM killer)
    # are init's, and the event MPM's ignore TERM.  Then 10 s more.
    for n in $(seq 100); do
        [ -n "$procs" ] || break
        if [ "$n" = 51 ]; then
            left=$(demo_procs all)
            # shellcheck disable=SC2086
            kill -KILL $left 2>/dev/null || true
        fi
        sleep 0.2
        procs=$(demo_procs)
    done
    # Its files go only once nothing runs on them.
    if [ -n "$procs" ]; then
        echo "demo: still running on $dir (pid $(echo $procs)); it is kept" >&2
        exit 1
    fi
    rm -rf "$dir"
    echo "demo stopped"
}

# httpd.conf names the module built here in double quotes, where a space
# may be but a double quote, a backslash or a line break cannot.
checkout_quotable() {
    case $(pwd -P) in
    *[\"\\]* | *[[:cntrl:]]*)
        echo "demo: the checkout's path, $(pwd -P), may hold no double quote, backslash or control character (httpd.conf names its module there): clone it elsewhere" >&2
        exit 2
        ;;
    esac
}

case "${1:-start}" in
stop)
    stop
    ;;
start)
    checkout_quotable
    if [ -e "$dir" ] || [ -L "$dir" ]; then
        ours || not_ours
        echo "demo: a demo is already set up in $dir; restarting it" >&2
        stop
    fi
    build/deps.sh
    # One make at a time in a checkout (a demo started while the tests
    # build, or two demos): build/test.sh takes the same lock.
    flock build make -f apxs.mk all >/dev/null
    BBTOKEN_DEMO_DIR=$dir perl build/demo.pl
    ;;
*)
    echo "usage: build/demo.sh [start|stop]" >&2
    exit 2
    ;;
esac
