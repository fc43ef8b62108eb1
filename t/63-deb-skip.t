# t/63-deb skips where it must not install the package (not root, a tool
# missing, the package already installed: someone else's); its END, which
# purges the package and puts back /etc/apache2 and /var/lib/apache2 from
# what it saved, runs on a skip too, and must then do nothing.  Run here in
# a mount namespace of its own, on copies of those directories mounted
# over them, with a dpkg-query that says the package is installed and a
# dpkg that only writes down how it was called: the copies are left as
# they were, and dpkg is not called.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Util qw(run_cmd snapshot snapshot_diff spew);

plan skip_all => 'mounts in a namespace of its own: run as root' if $> != 0;
plan skip_all => 'no unshare -m here' if system('unshare -m --propagation private true 2>/dev/null') != 0;

my $root = "$FindBin::Bin/..";
my $tmp = tempdir('bbt-debskip-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);

# Every command of PATH, but dpkg and dpkg-query: stand-ins.
my $bin = "$tmp/bin";
mkdir $bin or die "$bin: $!";
for my $dir (split /:/, $ENV{PATH}) {
    for my $f (glob "$dir/*") {
        (my $name = $f) =~ s{.*/}{};
        symlink $f, "$bin/$name" unless -e "$bin/$name" || -l "$bin/$name";
    }
}
unlink "$bin/dpkg", "$bin/dpkg-query";
spew("$bin/dpkg-query", "#!/bin/sh\nprintf 'install ok installed'\n", 0755);
spew("$bin/dpkg", "#!/bin/sh\necho \"dpkg \$*\" >> $tmp/dpkg-calls\n", 0755);

# The copies, and the script that mounts them (over only those there) and
# runs t/63 on them; it stops before t/63 unless each is mounted.
my @dirs = grep { -d $_ } '/etc/apache2', '/var/lib/apache2';
my (%copy, %before);
my $script = "set -e\n";
for my $dir (@dirs) {
    (my $name = $dir) =~ tr{/}{-};
    $copy{$dir} = "$tmp/copy$name";
    system('cp', '-a', $dir, $copy{$dir}) == 0 or die 'cp';
    $before{$dir} = snapshot($copy{$dir});
    $script .= "mount --bind $copy{$dir} $dir\n"
        . qq{[ "\$(stat -c %d:%i $dir)" = "\$(stat -c %d:%i $copy{$dir})" ]\n};
}
$script .= qq{PATH=$bin exec perl t/63-deb.t\n};
my ($rc, $out, $err) = run_cmd(cmd => ['unshare', '-m', '--propagation', 'private', 'sh', '-c', $script],
                               cwd => $root, tmp => $tmp);
like($out, qr/^1\.\.0 # SKIP .*libapache2-mod-bbtoken is installed|^1\.\.0 # SKIP no /m,
     't/63 skips (the package installed by someone else, or a tool missing)') or diag "$out$err";
for my $dir (@dirs) {
    my @d = snapshot_diff($before{$dir}, snapshot($copy{$dir}));
    is_deeply(\@d, [], "$dir is as it was") or diag "$err\n", explain \@d;
}
ok(!-e "$tmp/dpkg-calls", 'dpkg was not called (no purge)')
    or diag BBT::Util::slurp("$tmp/dpkg-calls");

done_testing;
