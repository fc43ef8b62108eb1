# The password file the access-tokens API logs users in with is made as
# bbtoken-rest.conf's comment says, and is then httpd's user's to read and
# nobody else's: its bcrypt hashes, read by any local user, could be
# guessed offline, and a password guessed makes tokens.  The commands are
# the snippet's own, run in this order on a file of this test's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Util qw(run_cmd);

plan skip_all => 'chown to www-data and runuser: run as root' if $> != 0;
plan skip_all => 'no htpasswd' if system('command -v htpasswd >/dev/null') != 0;
plan skip_all => 'no www-data user' unless defined getpwnam('www-data');

my $root = "$FindBin::Bin/..";
my $tmp = tempdir('bbt-htpasswd-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
chmod 0755, $tmp;
my $file = "$tmp/bitbucket.htpasswd";
my $pw = 'htpasswd-Pa55-' . join('', map { int rand 10 } 1 .. 8);

open my $h, '<', "$root/conf/bbtoken-rest.conf.in" or die $!;
my @cmds;
while (my $l = <$h>) {
    next unless $l =~ /^#\s+((?:touch|chown|chmod|htpasswd)\s.*?)\s*(?:#.*)?$/;
    my @argv = split ' ', $1;
    s{\@APACHE_CONFDIR\@/bitbucket\.htpasswd}{$file} for @argv;
    # Each user's password on the command line, here alone, not asked for.
    if ($argv[0] eq 'htpasswd') {
        splice @argv, 1, 0, '-b';
        push @argv, $pw;
        s/^NAME$/alice/ for @argv;
    }
    push @cmds, \@argv;
}
close $h;
ok(scalar(grep { $_->[0] eq 'htpasswd' } @cmds), 'bbtoken-rest.conf says how to make the password file')
    or BAIL_OUT('no commands in bbtoken-rest.conf');

for my $c (@cmds) {
    my ($rc, $out, $err) = run_cmd(cmd => $c, tmp => $tmp, timeout => 60);
    is($rc, 0, "@{$c}[0 .. $#$c - ($c->[0] eq 'htpasswd' ? 1 : 0)]") or diag "$out$err";
}
my @st = stat $file;
ok(@st, 'the password file is there') or BAIL_OUT('no file');
is(sprintf('%o', $st[2] & 07777), '640', '  mode 0640');
is($st[4], 0, '  owned by root');
is($st[5], (getpwnam('www-data'))[3], '  group www-data');

my ($rc, $out) = run_cmd(cmd => ['runuser', '-u', 'www-data', '--', 'cat', $file], tmp => $tmp, timeout => 60);
like($out, qr/^alice:\$2y\$/m, 'httpd\'s user reads it: alice, bcrypt');
($rc, $out) = run_cmd(cmd => ['runuser', '-u', 'nobody', '--', 'cat', $file], tmp => $tmp, timeout => 60);
isnt($rc, 0, 'another user cannot');
unlike($out, qr/alice/, '  and reads no hash');

done_testing;
