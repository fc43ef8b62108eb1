# A token's owner's level on a target is an entry of its own, kept in
# segments of its own.  Any valid token, even one whose owner has no grant
# at all, names whatever targets it likes, and each distinct one is a
# level the cache has not got.  Such a request once went through the whole
# lookup: the token's row read from the database again and kept again
# beside the new level, both in the segments of every user's tokens'
# rows, where shmcb keeps a replaced entry's room until it is pushed out;
# a flood of distinct targets by one token pushed other users' rows out,
# and each of their next requests read the database again.  Now the level
# alone is asked of the database and kept, among levels only.  And where
# the owner's level map gives every repository of a project the project's
# own level, one entry answers for all of them, and follows every change
# as the others do.
#
# One prefork child, one connection (as t/80-cache-flood): the flood goes
# through the one request thread, whose copies of entries it pushes out,
# so that the other user's requests after it are answered by the shared
# cache or by the database, and PostgreSQL says which (pg_stat_statements).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(lookup_calls wait_log settle until_answer);

my $MPM = "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\n"
        . "MaxRequestWorkers 1\nKeepAlive On\nKeepAliveTimeout 300\nMaxKeepAliveRequests 0\n";
my $env = BBT::Env->new(
    pg_conf    => $BBT::Cache::PG_CONF,
    mpm        => 'prefork',
    mpm_conf   => $MPM,
    extra_conf => "BBTokenCacheSize 65536\nBBTokenLastUseInterval 86400\n"
                . "<Location /metrics>\n    SetHandler bbtoken-metrics\n</Location>\n",
)->start;
$env->stat_statements_on;
$env->make_repo('PROJ', $_) for qw(repo other);
# mallory holds no grant: every target is 403 to her tokens.
$env->user_add('mallory');
my ($mtok) = $env->token_create('mallory', name => 'm', perms => ['REPO_READ']);
# bob reads PROJ, with eleven tokens.
$env->user_add('bob');
$env->grant('bob', 'PROJECT_READ', 'PROJ');
my @bob = map { ($env->token_create('bob', name => "b$_", perms => ['REPO_READ']))[0] } 1 .. 11;
# carol reads PROJ; dave too, and may write to PROJ/repo.
$env->user_add($_) for qw(carol dave);
$env->grant($_, 'PROJECT_READ', 'PROJ') for qw(carol dave);
$env->grant('dave', 'REPO_WRITE', 'PROJ/repo');
my ($ctok) = $env->token_create('carol', name => 'c', perms => ['REPO_WRITE']);
my ($dtok) = $env->token_create('dave', name => 'd', perms => ['REPO_WRITE']);
like($env->error_log_text,
     qr/BBT304: token cache on: 65536 bytes of shmcb \(16384 of them for refusals, 8192 for owners' levels\)/,
     'BBT304: the refusals\' and the levels\' shares');
ok(wait_log($env, 0, qr/BBT309: /), 'the listener hears PostgreSQL');
settle();

my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 30);
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
sub up { return "/scm/$_[0]/$_[1].git/info/refs?service=git-upload-pack" }
sub get { return $ua->get($env->url($_[0]), { headers => auth_bearer($_[1]) })->{status} }

sub metrics {
    my $r = $ua->get($env->url('/metrics'));
    die "metrics: $r->{status}" unless $r->{status} == 200;
    my %m = $r->{content} =~ /^(bbtoken_cache_\w+) (\d+)$/mg;
    return \%m;
}

# The owner's level statement (mod_bbtoken/bbt_dblookup.c, as
# pg_stat_statements spells it).
my $LEVEL = 'SELECT levels FROM bbtoken_lookup WHERE id';

# What requests cost: token lookups, level statements, entries kept,
# levels the cache had to ask for.
sub cost {
    my ($code) = @_;
    my ($l0, $v0, $m0) = (lookup_calls($env), $env->statement_calls($LEVEL), metrics());
    my @st = $code->();
    my ($l1, $v1, $m1) = (lookup_calls($env), $env->statement_calls($LEVEL), metrics());
    return (\@st, {
        lookups => $l1 - $l0,
        levels  => $v1 - $v0,
        stores  => $m1->{bbtoken_cache_stores_total} - $m0->{bbtoken_cache_stores_total},
        asked   => ($m1->{bbtoken_cache_level_lookups_total} // 0)
                 - ($m0->{bbtoken_cache_level_lookups_total} // 0),
    });
}

# Tokens whose requests cost no lookup: their entries made while the
# cache was believed, and answered from it.
sub warm {
    my ($path, @toks) = @_;
    for (1 .. 60) {
        my ($st, $c) = cost(sub { map { get($path, $_) } @toks });
        return 1 if $c->{lookups} == 0;
        sleep 1;
    }
    return 0;
}

ok(warm($UP, $mtok), "mallory's token is answered from the cache");

subtest 'distinct targets: the level alone is asked and kept' => sub {
    my $N = 40;
    my ($st, $c) = cost(sub { map { get(up("K$_", 'r'), $mtok) } 1 .. $N });
    is(scalar(grep { $_ == 403 } @$st), $N, "$N distinct targets, each 403");
    is($c->{lookups}, 0, 'no token lookup: the token\'s entry answered');
    is($c->{levels}, $N, "$N level statements, one a target");
    is($c->{asked}, $N, 'bbtoken_cache_level_lookups_total counted each');
    is($c->{stores}, $N, "$N entries kept, the levels alone: the token's row not again");
    ($st, $c) = cost(sub { map { get(up("K$_", 'r'), $mtok) } 1 .. $N });
    is(scalar(grep { $_ == 403 } @$st), $N, 'the same targets again, each 403');
    is_deeply($c, { lookups => 0, levels => 0, stores => 0, asked => 0 },
              'from the cache: nothing asked, nothing kept') or diag explain $c;
};

my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';
sub rp { return "/scm/$_[0]/$_[1].git/info/refs?service=git-receive-pack" }

subtest 'one level entry for every repository of a project, where the map says so' => sub {
    ok(warm($UP, $ctok), "carol's token is answered from the cache");
    my $N = 30;
    my ($st, $c) = cost(sub { map { get(up('PROJ', "s$_"), $ctok) } 1 .. $N });
    is(scalar(grep { $_ == 401 || $_ == 403 } @$st), 0, "carol on $N other repositories of PROJ: let in");
    is_deeply($c, { lookups => 0, levels => 0, stores => 0, asked => 0 },
              'her level on PROJ/repo answered for them all: nothing asked, nothing kept')
        or diag explain $c;
    is(get(rp('PROJ', 's1'), $ctok), 403, 'a push to one: 403 (she reads PROJ)');
    # dave may write to PROJ/repo: his level is not the same everywhere.
    ok(warm($UP, $dtok), "dave's token is answered from the cache");
    ($st, $c) = cost(sub { map { get(up('PROJ', "d$_"), $dtok) } 1 .. 20 });
    is(scalar(grep { $_ == 401 || $_ == 403 } @$st), 0, 'dave on 20 other repositories of PROJ: let in');
    is($c->{levels}, 20, 'one level read each: his grant on PROJ/repo is above the project\'s');
    is($c->{stores}, 20, 'and one level kept each');
    is(get($RP, $dtok), 200, 'dave pushes to PROJ/repo');
    is(get(rp('PROJ', 'd1'), $dtok), 403, 'and not to PROJ/d1');
};

# Each change that decides carol's level on one repository of PROJ, with
# her entry for all of them in the cache: what it says is forgotten, as
# any level entry is (a grant's or a user's change forgets every entry).
subtest 'that entry follows every change of a grant or of the owner' => sub {
    my $until = sub {
        my ($path, $want, $name) = @_;
        my ($ok, $tries, $seen) = until_answer(sub { get($path, $ctok) }, $want);
        ok($ok, "$name ($tries requests)") or diag $seen;
    };
    my ($OUP, $ORP) = (up('PROJ', 'other'), rp('PROJ', 'other'));
    ok(warm($UP, $ctok), "carol's token is answered from the cache");
    is(get($RP, $ctok), 403, 'carol may not push to PROJ/repo');
    is(get($OUP, $ctok), 200, 'she reads PROJ/other');
    $env->grant('carol', 'REPO_WRITE', 'PROJ/repo');
    $until->($RP, 200, 'a grant on PROJ/repo: she pushes there');
    is(get($ORP, $ctok), 403, 'and not to PROJ/other');
    is(get($OUP, $ctok), 200, 'which she still reads');
    $env->cli_ok('ungrant', 'carol', 'PROJ/repo');
    $until->($RP, 403, 'the grant removed: refused again');
    $env->cli_ok('user', 'set', 'carol', '--admin');
    $until->($ORP, 200, 'made an administrator: she pushes to PROJ/other');
    $env->cli_ok('user', 'set', 'carol', '--no-admin');
    $until->($ORP, 403, 'no longer: refused');
    $env->cli_ok('ungrant', 'carol', 'PROJ');
    $until->($OUP, 403, 'her grant on PROJ removed: she reads no repository of it');
    is(get($UP, $ctok), 403, 'PROJ/repo neither');
};

subtest "a flood of targets by one token leaves other users' rows in the cache" => sub {
    ok(warm($UP, @bob, $mtok), "bob's eleven tokens and mallory's are answered from the cache");
    my $F = 2000;
    my ($st, $c) = cost(sub { map { get(up("F$_", 'r'), $mtok) } 1 .. $F });
    is(scalar(grep { $_ == 403 } @$st), $F, "$F distinct targets by mallory's token, each 403");
    is($c->{lookups}, 0, 'none read her token\'s row');
    ($st, $c) = cost(sub { map { get($UP, $_) } @bob });
    is(scalar(grep { $_ == 200 } @$st), 11, "bob's tokens after the flood: 200");
    is($c->{lookups}, 0, "no lookup: bob's rows are still in the shared cache")
        or diag "the flood pushed them out: $c->{lookups} lookup(s)";
    cmp_ok($c->{levels}, '<=', 1, "at most bob's level on PROJ/repo asked again, once for all");
};

undef $ua;
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
