#!/bin/sh
# Whether make install or uninstall would write or delete a file that a
# Debian package owns: the module goes into `apxs -q LIBEXECDIR` whatever
# PREFIX is, the same path as libapache2-mod-bbtoken's, and the files in
# /etc are its conffiles.  Overwritten or deleted from under dpkg, the
# package is no longer what dpkg believes (dpkg -V: changed, missing), its
# module disabled or replaced, its next upgrade putting its own back.
#
#   dpkg-owned.sh install|uninstall FORCE FILE...
#       Names each FILE a package owns, and exits 1 when there is one,
#       unless FORCE is 1 (then it says so and exits 0).  Where there is
#       no dpkg-query, no package owns anything.
set -e

verb=$1 force=$2
shift 2
[ $# -gt 0 ] || exit 0
command -v dpkg-query >/dev/null 2>&1 || exit 0

# One dpkg-query for all of them (it reads every package's list each
# time).  An absolute path is looked up as it is; a path no package has
# is said on stderr, and makes the exit status 1: neither is news here.
# Each answer is "PKG[, PKG...]: PATH", a diversion's "diversion by ...".
# A package removed but not purged still owns its conffiles: only purge
# frees them, so that is what the refusal names.
found=$(dpkg-query -S "$@" 2>/dev/null) || true
owned=0 pkgs=
nl='
'
IFS=$nl
for line in $found; do
    case $line in
    *diversion*) continue ;;
    esac
    pkg=${line%%: /*}
    path=/${line#*: /}
    for f in "$@"; do
        if [ "$f" = "$path" ]; then
            echo "$verb: $path belongs to the Debian package $pkg" >&2
            owned=1
            case " $pkgs " in
            *" $pkg "*) ;;
            *) pkgs="${pkgs:+$pkgs }$pkg" ;;
            esac
            break
        fi
    done
done
[ $owned = 1 ] || exit 0

if [ "$force" = 1 ]; then
    if [ "$verb" = install ]; then
        echo "$verb: FORCE=1: overwriting them all the same (dpkg -V will say so; reinstall $pkgs to put its own back)" >&2
    else
        echo "$verb: FORCE=1: removing what install put there all the same, and leaving the rest" >&2
    fi
    exit 0
fi
if [ "$verb" = install ]; then
    echo "$verb: refused: dpkg keeps those files, of $pkgs; purge the package first (apt-get purge $pkgs; copy your DBDParams files first, purge deletes those it made), or give FORCE=1 to overwrite them" >&2
else
    echo "$verb: refused: dpkg keeps those files, of $pkgs, and \`apt-get purge $pkgs\` removes them; FORCE=1 removes what install put there all the same" >&2
fi
exit 1
