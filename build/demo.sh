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

# The demo runs as root, by default under /tmp: a directory there that is
# not root's alone (someone else's, or a link) is never read, or its
# httpd.conf and pg/data would have root and postgres load and signal what
# they name.
ours() {
    [ ! -L "$dir" ] && [ -d "$dir" ] && [ -O "$dir" ] &&
        [ -z "$(find "$dir" -maxdepth 0 -perm /022)" ]
}

not_ours() {
    echo "demo: $dir is not the demo's (not a directory that only $(id -un) may write): remove it, or set BBTOKEN_DEMO_DIR" >&2
    exit 1
}

stop() {
    if [ ! -e "$dir" ] && [ ! -L "$dir" ]; then
        return 0
    fi
    ours || not_ours
    if [ -f "$dir/httpd.conf" ]; then
        /usr/sbin/apache2 -f "$dir/httpd.conf" -k stop 2>/dev/null || true
    fi
    if [ -f "$dir/pg/data/PG_VERSION" ]; then
        pg_as=()
        [ "$(id -u)" -eq 0 ] && pg_as=(runuser -u postgres --)
        "${pg_as[@]}" /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/pg/data" -m fast -w stop \
            >/dev/null 2>&1 || true
    fi
    # httpd's pid file goes when it has stopped.
    for _ in $(seq 50); do
        [ -e "$dir/run/httpd.pid" ] || break
        sleep 0.1
    done
    rm -rf "$dir"
}

case "${1:-start}" in
stop)
    stop
    echo "demo stopped"
    ;;
start)
    if [ -e "$dir" ] || [ -L "$dir" ]; then
        ours || not_ours
        echo "demo: a demo is already set up in $dir; restarting it" >&2
        stop
    fi
    build/deps.sh
    make -f apxs.mk all >/dev/null
    BBTOKEN_DEMO_DIR=$dir perl build/demo.pl
    ;;
*)
    echo "usage: build/demo.sh [start|stop]" >&2
    exit 2
    ;;
esac
