# t/63-deb skips where it must not install the package (not root, a tool
# missing, the package installed by someone else); its END, which purges
# the package and puts back /etc/apache2 and /var/lib/apache2 from what it
# saved, runs on a skip too, and must then do nothing.  Whether the
# package is installed is asked only once the lock on /etc/apache2 is
# had: another t/63 holding it may have installed the package, and purges
# it before it lets go, so t/63 waits for it instead of skipping.  Run
# here in a mount namespace of its own, on copies of those directories
# mounted over them, with a dpkg-query that says the package is installed
# (and writes down whether another process held the lock then) and a dpkg
# that only writes down how it was called, while a process of this test
# holds the lock on the copy of /etc/apache2 until t/63 waits for it (or
# has ended): t/63 asks dpkg-query only after that process let go, the
# copies are left as they were, and dpkg is not called.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Util qw(run_cmd slurp snapshot snapshot_diff spew);

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
spew("$bin/dpkg-query", "#!/bin/sh\nprintf 'install ok installed'\n"
     . "if [ -e $tmp/held ]; then echo held; else echo free; fi >> $tmp/dpkg-query-calls\n", 0755);
spew("$bin/dpkg", "#!/bin/sh\necho \"dpkg \$*\" >> $tmp/dpkg-calls\n", 0755);

# The other t/63: it holds the lock (and $tmp/held says so) until t/63
# waits for it in flock (/proc/locks shows the wait) or has ended, then
# lets go.  A wait /proc/locks would not show only makes it let go later,
# with the same verdict.
spew("$tmp/holder.pl", <<'EOT');
use strict;
use warnings;
use Fcntl qw(:flock);
use POSIX qw(WNOHANG);
my ($held, $test) = @ARGV;
open my $lock, '<', '/etc/apache2' or die "/etc/apache2: $!";
flock($lock, LOCK_EX) or die "flock /etc/apache2: $!";
open my $h, '>', $held or die "$held: $!";
close $h;
my $pid = fork // die "fork: $!";
if (!$pid) { exec 'perl', $test or die "exec: $!" }
sub waits {
    open my $l, '<', '/proc/locks' or return 0;
    return scalar grep { /->\s+FLOCK\s+\S+\s+\S+\s+$pid\s/ } <$l>;
}
my ($status, $polls);
until (waits() || ++$polls > 2400) {
    if (waitpid($pid, WNOHANG) == $pid) { $status = $?; last }
    select undef, undef, undef, 0.05;
}
unlink $held or die "$held: $!";
close $lock;
$status = waitpid($pid, 0) == $pid ? $? : 255 << 8 unless defined $status;
exit($status >> 8);
EOT

# The copies, and the script that mounts them (over only those there) and
# runs t/63 on them, the lock held meanwhile; it stops before t/63 unless
# each is mounted.
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
$script .= qq{PATH=$bin exec perl $tmp/holder.pl $tmp/held t/63-deb.t\n};
my ($rc, $out, $err) = run_cmd(cmd => ['unshare', '-m', '--propagation', 'private', 'sh', '-c', $script],
                               cwd => $root, tmp => $tmp, timeout => 300);
like($out, qr/^1\.\.0 # SKIP .*libapache2-mod-bbtoken is installed|^1\.\.0 # SKIP no /m,
     't/63 skips (the package installed by someone else, or a tool missing)') or diag "$out$err";
SKIP: {
    skip 'a tool missing: t/63 skips before it asks dpkg-query', 1 unless $out =~ /is installed/;
    is(slurp("$tmp/dpkg-query-calls"), "free\n",
       'dpkg-query asked once, after the other t/63 let go of the lock, not while it held it');
}
for my $dir (@dirs) {
    my @d = snapshot_diff($before{$dir}, snapshot($copy{$dir}));
    is_deeply(\@d, [], "$dir is as it was") or diag "$err\n", explain \@d;
}
ok(!-e "$tmp/dpkg-calls", 'dpkg was not called (no purge)')
    or diag BBT::Util::slurp("$tmp/dpkg-calls");

done_testing;
