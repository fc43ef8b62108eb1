# The build takes the packager's hardening flags on top of its own: where
# dpkg-buildflags sets _FORTIFY_SOURCE to a level of its own (3, on Ubuntu
# 24.04), that level is the one compiled with, once, and the build does not
# fail on the macro defined twice (-Werror); without one, the build's own
# -D_FORTIFY_SOURCE=2 stays.  A module object and a CLI object, compiled
# into a directory of this test's.  And built from source with no flags of
# a packager's, the CLI and the module are linked as the package's are: the
# CLI a PIE, both with RELRO and BIND_NOW (readelf).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Util qw(run_cmd);

my $root = "$FindBin::Bin/..";
my $tmp = tempdir('bbt-flags-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);

sub build {
    my ($label, %flags) = @_;
    my $d = "$tmp/$label";
    my @objs = ("$d/obj/bbt_input.o", "$d/obj/cli/out.o");
    my ($rc, $out, $err) = run_cmd(
        cmd => ['make', '-f', 'apxs.mk', "OBJ=$d/obj", "OUT=$d/out", map({"$_=$flags{$_}"} sort keys %flags), @objs],
        cwd => $root, tmp => $tmp, timeout => 300);
    return ($rc, "$out$err", grep { -f $_ } @objs);
}

sub fortify { my ($log) = @_; return [ $log =~ /-D_FORTIFY_SOURCE=(\d)/g ] }

# Ubuntu 24.04's dpkg-buildflags --get CPPFLAGS.
my ($rc, $log, @built) = build('level3', CPPFLAGS => '-Wdate-time -D_FORTIFY_SOURCE=3');
is($rc, 0, 'CPPFLAGS with -D_FORTIFY_SOURCE=3: the objects build') or diag $log;
is(scalar @built, 2, '  both of them');
is_deeply(fortify($log), [3, 3], '  each with level 3 alone') or diag $log;
unlike($log, qr/redefined/, '  no warning that the macro is defined twice') or diag $log;

# The same level in CFLAGS, as some build systems pass it.
($rc, $log, @built) = build('cflags', CPPFLAGS => '', CFLAGS => '-O2 -D_FORTIFY_SOURCE=3');
is($rc, 0, 'CFLAGS with -D_FORTIFY_SOURCE=3: the objects build') or diag $log;
is_deeply(fortify($log), [3, 3], '  each with level 3 alone') or diag $log;

($rc, $log, @built) = build('plain', CPPFLAGS => '', CFLAGS => '');
is($rc, 0, 'no flags of the packager\'s: the objects build') or diag $log;
is_deeply(fortify($log), [2, 2], '  each with the build\'s own -D_FORTIFY_SOURCE=2') or diag $log;

# The whole build from source, no LDFLAGS.
my $d = "$tmp/linked";
my ($lrc, $lout, $lerr) = run_cmd(
    cmd => ['make', '-j2', '-f', 'apxs.mk', "OBJ=$d/obj", "OUT=$d/out", 'CPPFLAGS=', 'CFLAGS=', 'LDFLAGS=',
            "$d/out/bbtoken", "$d/out/mod_bbtoken.so"],
    cwd => $root, tmp => $tmp, timeout => 900);
is($lrc, 0, 'from source, no packager\'s flags: the CLI and the module link') or diag "$lout$lerr";
for my $f ("$d/out/bbtoken", "$d/out/mod_bbtoken.so") {
    my $name = $f =~ s{.*/}{}r;
    my $head = qx{readelf -hW '$f' 2>&1};
    my $prog = qx{readelf -lW '$f' 2>&1};
    my $dyn = qx{readelf -dW '$f' 2>&1};
    like($prog, qr/^\s*GNU_RELRO\b/m, "$name: RELRO");
    like($dyn, qr/\(FLAGS\)\s.*\bBIND_NOW\b|\(FLAGS_1\)\s.*\bNOW\b/, "$name: BIND_NOW");
    like($head, qr/Type:\s+DYN\b/, "$name: position independent") if $name eq 'bbtoken';
}

done_testing;
