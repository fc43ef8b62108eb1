#!/usr/bin/perl
# httpd unloads the module and loads it again on every restart.  The route
# language keeps thread-specific match data under a key (bbt_tls.c) that
# it makes when first asked; a process has 1024 keys, so each unload must
# give its key back, or a server restarted daily could not load its routes
# after three years.
# This loads and unloads the route language 1100 times in one process.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd);

my $dir = tempdir(CLEANUP => 1, DIR => $ENV{BBT_TMPDIR} || '/tmp');
my $src = "$FindBin::Bin/../mod_bbtoken";
my ($rc, $out, $err) = run_cmd(
    cmd => ['cc', '-shared', '-fPIC', '-pthread', '-O2', "-I$src", '-o', "$dir/librules.so",
            map({ "$src/$_.c" } qw(bbt_rules bbt_rules_opts bbt_namedrepo bbt_kind bbt_bodyproj bbt_tls bbt_body bbt_jshape bbt_input bbt_tokshape bbt_token bbt_perm)),
            '-lpcre2-8', '-ljansson', '-lcrypto'],
    tmp => $dir);
is($rc, 0, 'the route language builds as a shared object') or BAIL_OUT("cc: $out$err");
($rc, $out, $err) = run_cmd(cmd => ['cc', '-O2', '-o', "$dir/reload", "$FindBin::Bin/dso/reload.c", '-ldl'],
                            tmp => $dir);
is($rc, 0, 'the loader builds') or BAIL_OUT("cc: $out$err");
($rc, $out, $err) = run_cmd(cmd => ["$dir/reload", "$dir/librules.so", 1100], tmp => $dir);
is($rc, 0, 'loaded and unloaded 1100 times, every load makes its route list')
    or diag "$out$err";
done_testing;
