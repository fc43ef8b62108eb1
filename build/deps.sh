#!/usr/bin/env bash
# Install, from Debian's archive, everything the build, the tests and the
# demo need.  Does nothing when all of it is there already.  Services the
# packages would start on their own (apache2 on :80, a "main" PostgreSQL
# cluster on :5432) are kept from starting, now and at boot: the tests and
# the demo run their own, on loopback, on free ports.
set -euo pipefail

pkgs=(
    build-essential pkg-config
    apache2 apache2-dev libaprutil1-dbd-pgsql
    postgresql-15 postgresql-client-15 libpq-dev
    libssl-dev libjansson-dev libpcre2-dev zlib1g-dev
    clang libclang-rt-14-dev valgrind
    git git-lfs perl libdbd-pg-perl curl ca-certificates
    litmus subversion libapache2-mod-svn
    chromium
    debhelper dpkg-dev lintian man-db bash-completion
    prometheus libaprutil1-dbd-sqlite3
    fail2ban pgbouncer
    python3-h2 time locales acl
)
# DBD::Pg runs the test harness's own SQL over a connection it keeps
# (t/lib/BBT/PgDirect.pm): a psql process for each statement costs more.
# litmus (t/58) and svn with mod_dav_svn (t/59) are real WebDAV clients.
# git-lfs is the real LFS client of t/39; the tests' git reads only its own
# configuration (GIT_CONFIG_NOSYSTEM), not the filter its package may add to
# /etc/gitconfig (its postinst runs git lfs install --system).
# The Debian package (make deb, t/63): debhelper, and dh_apache2, which
# comes with apache2-dev; lintian checks it.  man-db renders the man pages,
# bash-completion loads the completion (t/60, t/63).
# promtool, which checks the metrics page (t/65), comes only in Debian's
# prometheus package (its server is kept from starting, like the others).
# python3-h2 frames the HTTP/2 that curl will not send (a header field
# twice, trailers, RST_STREAM) for t/84-http2-hostile's small client; its
# python3 also checks t/33-audit-stream's 200,000-record JSON document.
# GNU time (/usr/bin/time, optional in Debian) measures the CLI's peak
# memory there: without it that test skips and proves nothing.
# acl's setfacl gives the DBDParams file an ACL, which the package's
# configure must warn about (t/63-deb).
# locales has the definitions t/29-db-initsql-secret-log builds a German
# locale from (localedef), for PostgreSQL to translate its messages with,
# and t/56-user-slug-locale a Turkish one, whose lower() is not ASCII's.
# fail2ban-regex checks the shipped fail2ban filter against the error log
# lines of a real throttle (t/86); the service is kept from starting.
# PgBouncer in transaction mode stands between httpd and PostgreSQL in
# t/82-cache-pooler-txn, which the cache must not believe (its service is
# kept from starting).
# A second DBD driver, sqlite3, lets t/64 show that configtest refuses
# DBDriver other than pgsql (without it, mod_dbd refuses the name itself).
# The browser test (t/55-browser.t) drives chromium with playwright-core,
# which needs Node.js 20 and npm.  Debian 12's nodejs is 18, so installing it
# would not help: the machines this project runs on bring Node.js 20, and
# the test skips, saying why, where there is none.

# One dpkg-query for them all (a package it does not know is missing too).
# A package whose triggers are still to run (another package's install
# under way, such as t/63's) is installed and usable: installing it again
# would only wait for, or fail on, dpkg's lock.
declare -A ok=()
while read -r p status; do
    case $status in
    *' ok installed' | *' ok triggers-pending' | *' ok triggers-awaited') ok[$p]=1 ;;
    esac
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${pkgs[@]}" 2>/dev/null || true)
missing=()
for p in "${pkgs[@]}"; do
    [ -n "${ok[$p]:-}" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}; run as root or install them" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
    made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
# Nor do they start at the next boot: the policy above holds for the
# install alone, and their postinsts enable their units all the same
# (apache2's default site on *:80, prometheus on *:9090 without a login).
# The services' and sockets' links the install makes are taken away again
# (timers, such as man-db's, stay); a unit enabled before is left as it
# was.
wants() {
    find /etc/systemd/system -path '*.wants/*' -type l 2>/dev/null | sort
}
before=$(wants)
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
disabled=()
while read -r unit; do
    [ -n "$unit" ] || continue
    deb-systemd-helper disable "$unit" >/dev/null 2>&1 ||
        systemctl disable --quiet "$unit" >/dev/null 2>&1 || true
    disabled+=("$unit")
done < <(comm -13 <(printf '%s\n' "$before") <(wants) | sed 's|.*/||' |
    grep -E '\.(service|socket)$' | sort -u)
if [ ${#disabled[@]} -gt 0 ]; then
    echo "deps: not started at boot either: ${disabled[*]} (systemctl enable one to have it)" >&2
fi
