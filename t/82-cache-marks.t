# A change of one token forgets that token's cache entries, not everyone's
# (schema version 46: the notification names the token).  A user who
# changes their own tokens through the REST API over and over (create,
# rename, a permission, revoke) leaves another user's token answered from
# the cache, while each of their own changes is honoured: at once on the
# server that made it, within the cache's bound everywhere.  A change of
# anything else (a user, a grant), a transaction that changes more tokens
# than a notification apiece is worth, and any notification that does not
# name a token (anyone may NOTIFY the channel) still forget every entry.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Rest qw(rest_env);
use BBT::Cache qw(lookup_calls served_from_cache until_status settle log_mark log_since);

my @people = qw(alice bob);
# No last use written after a token's first: it would write the token's
# lookup row again from the live tables, which the level map's subtest
# does on purpose, at the moment it chooses.
my $env = rest_env(env => { pg_conf => $BBT::Cache::PG_CONF },
                   extra_conf => "BBTokenLastUseInterval 86400\n",
                   passwords => [map { ($_ => "$_-Pa55-word") } @people],
                   repos => [[PROJ => 'repo'], [PROJ => 'repo2'], [OTHER => 'repo']],
                   users => [@people, 'dave'],
                   grants => [[alice => PROJECT_WRITE => 'PROJ'], [bob => PROJECT_WRITE => 'PROJ'],
                              [dave => PROJECT_WRITE => 'PROJ'], [dave => PROJECT_WRITE => 'OTHER']]);
$env->stat_statements_on;
my $BASE = '/rest/access-tokens/1.0/users';
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';
my ($atok, $aid) = $env->token_create('alice', name => 'ci', perms => ['PROJECT_READ', 'REPO_WRITE']);
# Its creation's notification heard first: an entry made before it is
# forgotten when it comes, and a count of lookups after would see one.
settle();

sub api { my ($method, $path, %o) = @_; return $env->rest($method, $path, as => 'bob', %o) }

# $n requests with alice's token, once the notifications of what came
# before have arrived: all 200, no lookup, each "from the cache".
sub alice_cached {
    my ($n, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    settle();
    my $before = lookup_calls($env);
    my $mark = log_mark($env);
    my $ok = grep { $env->get($UP, auth_bearer($atok))->{status} == 200 } 1 .. $n;
    my $calls = lookup_calls($env) - $before;
    my $hits = () = log_since($env, $mark) =~ /BBT037: token \Q$aid\E .*\(from the cache\)/g;
    ok($ok == $n && $calls == 0 && $hits == $n, "$what: alice's token answered from the cache")
        or diag "$ok of $n 200s, $calls lookups, $hits from the cache";
}

# Once the notifications of what came before have arrived, alice's next
# request is a lookup: everything was forgotten.
sub alice_forgotten {
    my ($what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    settle();
    my $before = lookup_calls($env);
    is_ok_res($env->get($UP, auth_bearer($atok)), "$what: alice's token still works");
    is(lookup_calls($env) - $before, 1, "$what: and was looked up again (every entry forgotten)");
}

ok(served_from_cache($env, $UP, auth_bearer($atok), $aid), "alice's token: from the cache");

subtest "bob changes his own tokens over and over: alice's entry stays" => sub {
    for my $round (1 .. 3) {
        my $res = api(PUT => "$BASE/bob", json => { name => "churn $round", permissions => ['REPO_READ'] });
        is_ok_res($res, "round $round: create");
        my $id = $res->{json}{id};
        my $renamed = grep { api(POST => "$BASE/bob/$id", json => { name => "churn $round.$_" })->{status} == 200 } 1 .. 5;
        is($renamed, 5, "round $round: renamed five times");
        is(api(POST => "$BASE/bob/$id", json => { permissions => ['PROJECT_READ', 'REPO_WRITE'] })->{status}, 200,
           "round $round: a permission changed");
        is(api(DELETE => "$BASE/bob/$id")->{status}, 204, "round $round: revoked");
    }
    alice_cached(20, 'after 24 changes of bob\'s');
};

subtest 'a changed token itself: at once on the server that changed it, everywhere within the bound' => sub {
    my ($btok, $bid) = $env->token_create('bob', name => 'pusher', perms => ['PROJECT_READ', 'REPO_WRITE']);
    ok(served_from_cache($env, $RP, auth_bearer($btok), $bid), "bob's token may push: from the cache");
    is(api(POST => "$BASE/bob/$bid", json => { permissions => ['REPO_READ'] })->{status}, 200,
       'bob lowers it to REPO_READ through the API');
    is($env->get($RP, auth_bearer($btok))->{status}, 403, 'the very next push is refused (this server forgot it)');
    is_ok_res($env->get($UP, auth_bearer($btok)), 'a fetch still works');
    my ($other, $oid) = $env->token_create('bob', name => 'other');
    ok(served_from_cache($env, $UP, auth_bearer($other), $oid), "another of bob's: from the cache");
    $env->cli_ok('revoke', $oid);
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($other), 401);
    ok($ok, "revoked by the CLI (a notification names it): refused ($tries requests)") or diag $seen;
    # Renamed in the database by hand, in a session of its own: the
    # lookup's row and the token's each name it.
    ok(served_from_cache($env, $UP, auth_bearer($btok), $bid), "bob's first token: from the cache again");
    $env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$bid'");
    ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($btok), 401);
    ok($ok, "revoked by hand: refused ($tries requests)") or diag $seen;
    alice_cached(10, "after bob's tokens changed three ways");
};

# An owner's level entry is made from a row of the lookup (its level map)
# and shared by every target the owner's tokens reach: a row written again
# with another level map, with nothing else notifying (the heal after a
# change made while the lookup's keeping triggers were off, BBT720),
# forgets the owner's entries on every target, not only the token's.  The
# token's next request, on one project, makes its entry and that project's
# level anew; the other project's level entry is the owner's alone, older
# than the owner's mark, and must not be believed beside the new entry.
subtest "a lookup row's new level map forgets its owner's levels everywhere" => sub {
    my $UP2 = '/scm/PROJ/repo2.git/info/refs?service=git-upload-pack';
    my $OUP = '/scm/OTHER/repo.git/info/refs?service=git-upload-pack';
    my ($dtok, $did) = $env->token_create('dave', name => 'two projects');
    ok(served_from_cache($env, $_, auth_bearer($dtok), $did), "$_: from the cache") for $UP, $UP2, $OUP;
    $env->psql('ALTER TABLE bbtoken_project_grants DISABLE TRIGGER bbtoken_project_grants_lookup_del');
    $env->cli_ok('ungrant', 'dave', $_) for 'PROJ', 'OTHER';
    settle();
    # The ungrants forgot every entry; each made again from the row, which
    # still says both grants.
    ok(served_from_cache($env, $_, auth_bearer($dtok), $did), "$_: from the cache, as the row says")
        for $UP, $UP2, $OUP;
    ok(served_from_cache($env, $UP, auth_bearer($atok), $aid), "alice's token: from the cache again");
    $env->psql('ALTER TABLE bbtoken_project_grants ENABLE ALWAYS TRIGGER bbtoken_project_grants_lookup_del');
    # A new address group writes the token's lookup row again from the
    # live tables: no grant now.
    is($env->psql("SELECT bbtoken_note_net('$did', '192.0.2.0/24', '192.0.2.7')"), 't', 'the row written again');
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($dtok), 403);
    ok($ok, "PROJ/repo: refused ($tries requests)") or diag $seen;
    settle();
    is($env->get($UP2, auth_bearer($dtok))->{status}, 403, 'PROJ/repo2: refused too (the same project)');
    my $mark = log_mark($env);
    is($env->get($OUP, auth_bearer($dtok))->{status}, 403,
       "OTHER/repo: refused too, though the token's entry is answered from the cache");
    like(log_since($env, $mark), qr/BBT317: token \Q$did\E answered from the cache, its owner's level on the target not \(its entry is older than the last change\)/,
         "  its owner's level there forgotten (the owner's mark), the token's entry not");
    alice_cached(3, "dave's level map");
};

subtest 'one transaction that changes many tokens forgets every entry' => sub {
    my (undef, $cid) = $env->token_create('bob', name => 'bulk');
    # Each rename notifies from two rows (the token's and its lookup row):
    # 200 renames are 400 named notifications, under the 1000 a
    # transaction sends before it names the table instead.
    $env->psql("DO \$\$ BEGIN FOR i IN 1 .. 200 LOOP UPDATE bbtoken_tokens SET name = 'few ' || i "
               . "WHERE id = '$cid'; END LOOP; END \$\$");
    alice_cached(5, '200 renames in one transaction');
    $env->psql("DO \$\$ BEGIN FOR i IN 1 .. 600 LOOP UPDATE bbtoken_tokens SET name = 'many ' || i "
               . "WHERE id = '$cid'; END LOOP; END \$\$");
    alice_forgotten('600 renames in one transaction');
    # The count is the transaction's: the next one names its token again.
    $env->psql("UPDATE bbtoken_tokens SET name = 'after' WHERE id = '$cid'");
    alice_cached(5, 'the next transaction');
};

subtest "anything else still forgets every entry" => sub {
    $env->cli_ok('user', 'add', 'carol');
    alice_forgotten('a user added');
    alice_cached(3, 'then');
    $env->cli_ok('grant', 'bob', 'PROJECT_READ', 'PROJ');
    alice_forgotten('a grant changed');
    alice_cached(3, 'then');
};

subtest 'a notification anyone may send can only make the cache forget' => sub {
    my ($btok, $bid) = $env->token_create('bob', name => 'notified');
    ok(served_from_cache($env, $UP, auth_bearer($btok), $bid), "bob's token: from the cache");
    alice_cached(3, 'before');
    $env->psql("NOTIFY bbtoken, 't:$bid'");
    settle();
    my $before = lookup_calls($env);
    is_ok_res($env->get($UP, auth_bearer($btok)), "NOTIFY naming bob's token: it still works");
    is(lookup_calls($env) - $before, 1, '  and was looked up again');
    alice_cached(3, "NOTIFY naming bob's token");
    for my $payload ('t:12345', 'bbtoken_tokens', '', "t:${bid}x", 'T:' . $bid) {
        $env->psql("NOTIFY bbtoken, '$payload'");
        alice_forgotten("NOTIFY '$payload'");
    }
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
