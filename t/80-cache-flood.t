# A flood of made-up tokens cannot push a real token's entry out of the
# shared cache.  Anyone can make up tokens with a valid checksum (it is
# public), each a refusal the cache keeps (an unknown id); shmcb pushes a
# full subcache's oldest entries out, and refusals kept in the segments of
# the tokens' rows and the owners' levels pushed those out, a few thousand
# of them at the smallest BBTokenCacheSize (60,000 or so at the default),
# again and again while the flood lasted: each real token was then read
# from the database again.  Refusals have segments of their own, so they
# push out only refusals.
#
# One prefork child, one connection: the flood goes through the one
# request thread, whose copies of entries (8 of them) it pushes out, so
# that the real token's request after it is answered by the shared cache
# or by the database, and the metrics say which (the shared cache's hits
# are counted apart from the thread's).  The failed-login throttle stays
# on: tokens from a throttled address are still verified (the default).
#
# A token deleted while its row is in the shared cache: the refusal kept
# for it drops that row from the tokens' segments, where every request
# would otherwise find it first, judge it old and look again among the
# refusals (the answer the same, only slower).  mod_status's page gives
# shmcb's account of each segment, which counts the removal.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(forge_token auth_bearer);
use BBT::Cache qw(lookup_calls log_mark log_since wait_log settle);

my $MPM = "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\n"
        . "MaxRequestWorkers 1\nKeepAlive On\nKeepAliveTimeout 300\nMaxKeepAliveRequests 0\n";
my $env = BBT::Env->new(
    pg_conf    => $BBT::Cache::PG_CONF,
    mpm        => 'prefork',
    mpm_conf   => $MPM,
    modules    => ['status'],
    extra_conf => "BBTokenCacheSize 65536\nBBTokenLastUseInterval 86400\n"
                . "<Location /metrics>\n    SetHandler bbtoken-metrics\n</Location>\n"
                . "<Location /server-status>\n    SetHandler server-status\n</Location>\n",
)->start;
$env->stat_statements_on;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'ci', perms => ['REPO_READ']);
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
like($env->error_log_text, qr/BBT304: token cache on: 65536 bytes of shmcb \(16384 of them for refusals, 8192 for owners' levels\)/,
     'BBT304: 65536 bytes, 16384 of them for refusals, 8192 for owners\' levels');
ok(wait_log($env, 0, qr/BBT309: /), 'the listener hears PostgreSQL');
settle();

# Every request on this one connection: the one child serves nothing else
# while it is open.
my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 30);

sub metrics {
    my $r = $ua->get($env->url('/metrics'));
    die "metrics: $r->{status}" unless $r->{status} == 200;
    my %m = $r->{content} =~ /^(bbtoken_cache_\w+) (\d+)$/mg;
    return \%m;
}

# The tokens' segments as mod_status's page gives shmcb's account of
# them: (the entries they hold, the removals that found an entry).
sub token_segments {
    my $r = $ua->get($env->url('/server-status'));
    die "server-status: $r->{status}" unless $r->{status} == 200;
    my ($entries, $removed, $n) = (0, 0, 0);
    for my $seg ($r->{content} =~ m{<p>token cache \(segment \d+ of \d+\): (.*?)</p>}sg) {
        $n++;
        $entries += $1 if $seg =~ m{current entries: <b>(\d+)</b>};
        $removed += $1 if $seg =~ m{total removes since starting: <b>(\d+)</b> hit};
    }
    die "server-status: no token segment" unless $n;
    return ($entries, $removed);
}

# The real token, with what it cost: (status, lookups, shared cache's
# hits, thread's hits).
sub real {
    my $l0 = lookup_calls($env);
    my $m0 = metrics();
    my $st = $ua->get($env->url($UP), { headers => auth_bearer($tok) })->{status};
    my $m1 = metrics();
    my $thread = $m1->{bbtoken_cache_thread_hits_total} - $m0->{bbtoken_cache_thread_hits_total};
    return ($st, lookup_calls($env) - $l0,
            $m1->{bbtoken_cache_hits_total} - $m0->{bbtoken_cache_hits_total} - $thread, $thread);
}

# Its entry made, and answered from the cache.
my $cached = 0;
for (1 .. 60) {
    my $mark = log_mark($env);
    is($ua->get($env->url($UP), { headers => auth_bearer($tok) })->{status}, 200, 'the real token: 200')
        or last;
    if (log_since($env, $mark) =~ /BBT037: token \Q$id\E [^\n]*\(from the cache\)/) {
        $cached = 1;
        last;
    }
    sleep 1;
}
ok($cached, 'the real token is answered from the cache');
my ($st, $lookups) = real();
is($st, 200, 'again: 200');
is($lookups, 0, 'again: no lookup');

# Far more refusals than the whole cache holds (each takes over 50 bytes).
my $N = 3000;
my @forged = map { forge_token(sprintf '%012d', 700000000000 + $_) } 1 .. $N;
my $m0 = metrics();
my $l0 = lookup_calls($env);
my $refused = grep { my $s = $ua->get($env->url($UP), { headers => auth_bearer($_) })->{status};
                     $s == 401 || $s == 429 } @forged;
is($refused, $N, "$N distinct made-up tokens, all refused");
my $m1 = metrics();
cmp_ok(lookup_calls($env) - $l0, '>=', $N, 'each was looked up');
cmp_ok($m1->{bbtoken_cache_stores_total} - $m0->{bbtoken_cache_stores_total}, '>=', $N,
       'and its refusal kept');

my ($shared, $thread);
($st, $lookups, $shared, $thread) = real();
is($st, 200, 'the real token after the flood: 200');
is($thread, 0, "not answered from the thread's copies (the flood pushed them out)");
is($lookups, 0, 'no lookup: its entry is still in the shared cache')
    or diag "the flood pushed its entry out: $lookups lookup(s)";
is($shared, 1, 'answered by the shared cache');

# The refusals' own segments did fill: the first made-up token was pushed
# out by the later ones, and costs a lookup again.
$l0 = lookup_calls($env);
is($ua->get($env->url($UP), { headers => auth_bearer($forged[0]) })->{status} =~ /^(401|429)$/ ? 1 : 0, 1,
   'the first made-up token again: refused');
is(lookup_calls($env) - $l0, 1, 'it was pushed out of the refusals\' segments: a lookup again');

# A token deleted while its row is in the shared cache: the refusal kept
# in its place drops that row, and is found in the refusals' segments once
# the thread's copy is gone, with no lookup.
my @others = map { ($env->token_create('alice', name => "other $_", perms => ['REPO_READ']))[0] } 1 .. 9;
my ($gone, $gone_id) = $env->token_create('alice', name => 'gone', perms => ['REPO_READ']);
settle();
# Each answered from the cache, and kept there: their entries and alice's
# level, more than the thread keeps copies of.
my $all = 1;
for my $t ($gone, @others, $gone, @others) {
    $all = 0 unless $ua->get($env->url($UP), { headers => auth_bearer($t) })->{status} == 200;
}
ok($all, 'ten more tokens of the same owner, twice each: 200');
my ($rows, $removed) = token_segments();
cmp_ok($rows, '>=', 11, "the tokens' segments hold their rows ($rows)");
$env->psql("DELETE FROM bbtoken_tokens WHERE id = '$gone_id'");
settle();
is($ua->get($env->url($UP), { headers => auth_bearer($gone) })->{status}, 401, 'the deleted token: 401');
# shmcb only marks a removed entry, and frees it once it is the oldest of
# its subcache's queue: the entries it counts may not drop (an older row
# ahead of it, one time in eight here), its count of removals that found
# an entry does.
my (undef, $removed_after) = token_segments();
is($removed_after - $removed, 1, "its row removed from the tokens' segments when its refusal was kept");
my ($later, $gone_lookups) = (0, 0);
for (1 .. 3) {
    # The other tokens push the deleted one's copy out of the thread's.
    $ua->get($env->url($UP), { headers => auth_bearer($_) }) for @others;
    $l0 = lookup_calls($env);
    $later++ if $ua->get($env->url($UP), { headers => auth_bearer($gone) })->{status} == 401;
    $gone_lookups += lookup_calls($env) - $l0;
}
is($later, 3, 'refused again, three times');
is($gone_lookups, 0, 'from the shared cache: no lookup');

undef $ua;
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
