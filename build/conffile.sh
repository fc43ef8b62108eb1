#!/bin/sh
# A configuration file that make install puts into /etc, kept the way dpkg
# keeps a conffile: an administrator's edits are never overwritten.
#
#   conffile.sh install MODE NEW DESTDIR FILE MANIFEST
#       FILE (under DESTDIR) becomes NEW where there is none, or where it
#       is still what install last put there; where it is NEW already,
#       nothing changes.  Otherwise it was edited (or install cannot tell:
#       no record of what it put there), and it is kept; NEW goes beside
#       it as FILE.dist, and install says so.  A link at FILE is the
#       administrator's, wherever it leads (a file not there yet too), and
#       is kept as an edited file is.
#   conffile.sh record DESTDIR FILE MANIFEST
#       FILE, just installed, is recorded as install's: a file that is not
#       a configuration file (the module, the CLI, a DBDParams file
#       install made), which remove then takes only while it is that.
#   conffile.sh remove DESTDIR FILE MANIFEST
#       FILE goes while it is what install put there, and FILE.dist with
#       it; an edited FILE, or a link, is kept, and uninstall says so.
#
# MANIFEST (under DESTDIR) records what install put at each FILE, one line
# "SHA-256  FILE" a file, FILE and MANIFEST named without DESTDIR as the
# installed system sees them.  It is the only way to tell an edited file
# from the one an earlier install put there.
set -e

# make install runs this for every file, every time: shell built-ins
# where they do the job, so that a file costs a few processes, not fifteen.

# The SHA-256 of file $1, into $sum.
sum() {
    sum=$(sha256sum < "$1")
    sum=${sum%% *}
}

# The hash recorded for $file, into $recorded (empty when there is none).
recorded() {
    recorded=
    [ -f "$manifest" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        [ "${line#*  }" != "$file" ] || recorded=${line%%  *}
    done < "$manifest"
}

# Record $1 for $file (or, with no $1, forget it).
record() {
    tmp="$manifest.tmp"
    [ -d "${manifest%/*}" ] || mkdir -p "${manifest%/*}"
    : > "$tmp"
    if [ -f "$manifest" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            [ "${line#*  }" = "$file" ] || printf '%s\n' "$line" >> "$tmp"
        done < "$manifest"
    fi
    [ -z "$1" ] || printf '%s  %s\n' "$1" "$file" >> "$tmp"
    chmod 0644 "$tmp"
    mv "$tmp" "$manifest"
}

case "$1" in
install)
    [ $# -eq 6 ] || { echo "usage: $0 install MODE NEW DESTDIR FILE MANIFEST" >&2; exit 2; }
    mode=$2 new=$3 file=$5 dest=$4$5 manifest=$4$6
    [ -d "${dest%/*}" ] || install -d "${dest%/*}"
    if [ -L "$dest" ]; then
        # The administrator's, wherever it leads (a file not there yet too).
        if ! cmp -s "$new" "$dest"; then
            install -m "$mode" "$new" "$dest.dist"
            echo "install: kept $file, a link, which install did not put there; the new one is $file.dist"
        fi
    else
        if [ -e "$dest" ]; then
            sum "$dest"
            recorded
        fi
        if [ ! -e "$dest" ] || [ "$sum" = "$recorded" ]; then
            install -m "$mode" "$new" "$dest"
        elif ! cmp -s "$new" "$dest"; then
            install -m "$mode" "$new" "$dest.dist"
            echo "install: kept $file, which is not what install put there (edited?); the new one is $file.dist"
        fi
    fi
    # Once the file is the new one (the administrator took it in), the copy
    # an earlier install left beside it is spent.
    if cmp -s "$new" "$dest" && cmp -s "$new" "$dest.dist"; then
        rm -f "$dest.dist"
    fi
    sum "$new"
    record "$sum"
    ;;
record)
    [ $# -eq 4 ] || { echo "usage: $0 record DESTDIR FILE MANIFEST" >&2; exit 2; }
    file=$3 dest=$2$3 manifest=$2$4
    sum "$dest"
    record "$sum"
    ;;
remove)
    [ $# -eq 4 ] || { echo "usage: $0 remove DESTDIR FILE MANIFEST" >&2; exit 2; }
    file=$3 dest=$2$3 manifest=$2$4
    if [ -L "$dest" ]; then
        echo "uninstall: kept $file, a link, which install did not put there"
    elif [ -e "$dest" ]; then
        sum "$dest"
        recorded
        if [ "$sum" = "$recorded" ]; then
            rm -f "$dest"
        elif [ -z "$recorded" ]; then
            echo "uninstall: kept $file, which install has no record of putting there"
        else
            echo "uninstall: kept $file, which is not what install put there (edited?)"
        fi
    fi
    rm -f "$dest.dist"
    if [ -f "$manifest" ]; then
        record ""
        [ -s "$manifest" ] || rm -f "$manifest"
    fi
    ;;
*)
    echo "usage: $0 install|record|remove ..." >&2
    exit 2
    ;;
esac
