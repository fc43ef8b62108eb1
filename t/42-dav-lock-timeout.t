# A WebDAV lock taken through the module lasts an hour at most.  mod_dav
# grants whatever Timeout a LOCK asks, Infinite or none (which it takes for
# Infinite) included, and lets only the lock's own user UNLOCK: a writer's
# lock on a collection in a repository would keep every other writer out of
# it, and fail the admin's DELETE of the repository (424), for ever.  The
# module rewrites a LOCK's Timeout to at most Second-3600 (a client
# refreshes a lock it still needs), in the shipped bbtoken-dav.conf's tree,
# which does not say BBTokenDAVLockMaxTimeout (t/42-dav-lock-timeout-conf).
# A WebDAV tree of the same server outside the module's sections (/open,
# no login) is mod_dav's alone: its locks are granted as asked.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Httpd;
use BBT::Assert;
use BBT::DavLock qw(dav_lock lock_granted);

my $extra = "TypesConfig /dev/null\nDavLockDB \"\@DIR\@/davlock/lockdb\"\n" . BBT::Httpd::shipped_conf('dav') . <<'EOC';
Alias /open "@DIR@/open"
<Directory "@DIR@/open">
    Require all granted
</Directory>
<Location /open>
    Dav On
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs mime)], httpd => 0)->start;
my $d = $env->dir;
make_path(map {"$d/dav/PROJ/repo/$_"} qw(a b c d e));
make_path("$d/davlock", "$d/open/a", "$d/open/b");
$env->give_to_httpd("$d/dav", "$d/davlock", "$d/open");
$env->httpd_start;
$env->user_add('alice');
$env->user_add('bob');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->grant('bob', 'PROJECT_WRITE', 'PROJ');
my $alice = 'Bearer ' . $env->token_create('alice', name => 'a');
my $bob = 'Bearer ' . $env->token_create('bob', name => 'b');

sub lock_it { return dav_lock($env, $alice, @_) }

my @cases = (
    ['a', 'Infinite', 3600, 'Infinite'],
    ['b', undef, 3600, 'no Timeout (mod_dav: infinite)'],
    ['c', 'Second-4100000000', 3600, 'Second-4100000000'],
    ['d', 'Infinite, Second-600', 3600, 'Infinite, then Second-600'],
    ['e', 'Second-600', 600, 'Second-600'],
);
my %token;
for my $c (@cases) {
    my ($dir, $timeout, $want, $name) = @$c;
    my $res = lock_it("/dav/PROJ/repo/$dir/", $timeout);
    is_status($res, 200, "LOCK $dir/ asking $name");
    my $g = lock_granted($res);
    ok($g ne 'Infinite' && $g ne 'none' && $g <= $want && $g >= $want - 60, "  granted $want s at most (got $g)");
    $token{$dir} = $res->{headers}{'lock-token'};
}

# The lock holds while it lasts: another writer is kept out.
my $res = $env->request('PUT', '/dav/PROJ/repo/a/x', { Authorization => $bob }, "x\n");
# (mod_dav says so with 207, a 423 inside.)
ok(($res->{status} == 423 || $res->{status} == 207) && !-e "$d/dav/PROJ/repo/a/x",
   "another writer is kept out of a locked collection meanwhile ($res->{status})");

# A refresh (LOCK with If) cannot make it infinite either.
$res = lock_it('/dav/PROJ/repo/e/', 'Infinite', If => "(<" . ($token{e} =~ s/^<|>$//gr) . ">)");
is_status($res, 200, 'a refresh of e/ asking Infinite');
my $g = lock_granted($res);
ok($g ne 'Infinite' && $g ne 'none' && $g <= 3600, "  granted 3600 s at most (got $g)");

# What lockdiscovery says the lock has left.
$res = $env->request('PROPFIND', '/dav/PROJ/repo/a/', { Authorization => $bob, Depth => 0,
                     'Content-Type' => 'application/xml' },
                     '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>');
$g = lock_granted($res);
ok($g ne 'Infinite' && $g ne 'none' && $g <= 3600, "lockdiscovery: 3600 s at most left (got $g)");

# Outside the module's sections.
$res = lock_it('/open/a/', 'Second-7200');
is_status($res, 200, 'LOCK in /open, outside the module\'s sections, asking Second-7200');
$g = lock_granted($res);
ok($g =~ /^\d+$/ && $g > 3600 && $g <= 7200, "  granted as asked (got $g)");
$res = lock_it('/open/b/', 'Infinite');
is_status($res, 200, '  asking Infinite');
is(lock_granted($res), 'Infinite', '  granted Infinite, as mod_dav does');

done_testing;
