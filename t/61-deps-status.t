# build/deps.sh installs only what is missing.  A package whose triggers
# are pending or awaited (dpkg configuring another package meanwhile, as
# t/63 does beside the other tests) is installed: taken for missing, the
# suite's own set-up ran apt-get under another dpkg and failed.  Run here
# with a stand-in dpkg-query that gives every package one status, as
# nobody, so that a package it takes for missing is only named (as root it
# would install, and make and remove /usr/sbin/policy-rc.d, which t/63 may
# be relying on).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Util qw(run_cmd spew);

my $root = "$FindBin::Bin/..";
my $tmp = tempdir('bbt-deps-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
chmod 0777, $tmp;
my $bin = "$tmp/bin";
mkdir $bin or die "$bin: $!";
chmod 0755, $bin;
# A copy nobody may read, wherever the checkout is.
spew("$tmp/deps.sh", BBT::Util::slurp("$root/build/deps.sh"), 0755);

# deps.sh with every package in $status: (exit code, stderr).
sub deps_with {
    my ($status) = @_;
    spew("$bin/dpkg-query",
         "#!/bin/sh\nshift 2\nfor p in \"\$@\"; do echo \"\$p install ok $status\"; done\n", 0755);
    my ($rc, undef, $err) = run_cmd(cmd => ["$tmp/deps.sh"], tmp => $tmp,
                                    env => { PATH => "$bin:$ENV{PATH}" },
                                    $> == 0 ? (user => 'nobody') : ());
    return ($rc, $err);
}

for my $status ('installed', 'triggers-pending', 'triggers-awaited') {
    my ($rc, $err) = deps_with($status);
    is($rc, 0, "every package $status: nothing to do") or diag $err;
    is($err, '', '  and nothing said');
}
for my $status ('unpacked', 'half-configured', 'config-files') {
    my ($rc, $err) = deps_with($status);
    is($rc, 1, "every package $status: missing") or diag $err;
    like($err, qr/^deps: missing packages: build-essential .*acl; run as root/m, '  each named');
}

done_testing;
