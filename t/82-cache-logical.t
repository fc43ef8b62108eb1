# httpd on a logical replica, its cache on: the database it reads takes
# the publisher's changes through a subscription to the four tables and
# bbtoken_lookup (The schema: publish it with them).  PostgreSQL's apply
# worker fires row triggers only, never a statement's: of the triggers that
# notify, the tables' own hear a token's or a user's update, but not a
# grant removed or lowered, a token deleted, a user deleted.  The lookup
# rows those changes rewrite come over with them, and bbtoken_lookup's row
# triggers (migration 38) notify: the replica's cache hears each of them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer parse_token);
use BBT::Assert;
use BBT::Cache qw(served_from_cache until_status wait_log settle);

my $env = BBT::Env->new(pg_conf => { wal_level => 'logical', max_logical_replication_workers => 4 })->start;
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

# Until the replica holds what $sql counts as $want: 1, or 0 after the
# limit.
sub replicated {
    my ($sql, $want) = @_;
    my $deadline = time + 60;
    while (time < $deadline) {
        return 1 if $env->psql($sql) eq $want;
        sleep 0.1;
    }
    return 0;
}

# The publisher: another database of the cluster with the same schema.
# The subscription starts while both are empty, so that every row comes
# over through the apply worker.
$env->psql('CREATE DATABASE pub' . $env->db_create_options, db => 'postgres');
$env->psql(undef, db => 'pub', file => $_) for @{ $env->{schema_files} };
my $TABLES = 'bbtoken_users, bbtoken_tokens, bbtoken_project_grants, bbtoken_repo_grants, bbtoken_lookup';
$env->psql("CREATE PUBLICATION bbt FOR TABLE $TABLES", db => 'pub');
$env->psql("SELECT pg_create_logical_replication_slot('bbt', 'pgoutput')", db => 'pub');
$env->psql("CREATE SUBSCRIPTION bbt CONNECTION '" . $env->superuser_conninfo('pub')
           . "' PUBLICATION bbt WITH (create_slot = false, slot_name = 'bbt')");

ok(replicated("SELECT count(*) FILTER (WHERE srsubstate = 'r') || '/' || count(*) FROM pg_subscription_rel", '5/5'),
   'the subscription is ready (its five tables copied, empty)');

# The CLI on the publisher.
sub pub { my ($rc, $out, $err) = $env->cli_raw('--db', $env->superuser_conninfo('pub'), @_);
          die "bbtoken @_ on the publisher: $err" if $rc; return $out }

pub('user', 'add', 'alice');
pub('grant', 'alice', 'PROJECT_WRITE', 'PROJ');
my $tok = pub('create', 'alice', '--name', 'replicated');
chomp $tok;
my $id = parse_token($tok)->{id};
ok(replicated("SELECT count(*) FROM bbtoken_lookup WHERE id = '$id' AND levels LIKE '%PROJ:2%'", 1),
   'the token and its owner\'s grant are on the replica')
    or diag 'replica: ', $env->psql('SELECT id, levels FROM bbtoken_lookup'), ' publisher: ',
            $env->psql('SELECT id, levels FROM bbtoken_lookup', db => 'pub'), ' log: ', `tail -20 $env->{pglog}`;

subtest "the owner's grant removed on the publisher: refused on the replica" => sub {
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the replica\'s cache');
    pub('ungrant', 'alice', 'PROJ');
    ok(replicated("SELECT count(*) FROM bbtoken_project_grants", 0), 'the grant removed on the replica');
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 403);
    ok($ok, "refused ($tries requests)") or diag $seen;
    is($env->get($UP, auth_bearer($tok))->{status}, 403, 'and it stays refused');
};

subtest 'the token deleted on the publisher (its owner deleted): refused on the replica' => sub {
    pub('grant', 'alice', 'PROJECT_WRITE', 'PROJ');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'granted again: from the replica\'s cache');
    $env->psql('DELETE FROM bbtoken_users', db => 'pub');
    ok(replicated("SELECT count(*) FROM bbtoken_tokens", 0), 'the token gone from the replica');
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "refused ($tries requests)") or diag $seen;
};

# An owner with more grants than a level map holds (bbtoken_lookup_grants_max):
# the lookup's row has no map, and the owner's level is asked of the grant
# tables.  A grant of such an owner removed leaves the row as it was, so no
# row of bbtoken_lookup changes to notify; the grant tables' own triggers
# must.
subtest "an owner with more grants than a map holds: a grant removed on the publisher" => sub {
    pub('user', 'add', 'bob');
    pub('grant', 'bob', 'PROJECT_WRITE', 'PROJ');
    my $max = $env->psql('SELECT bbtoken_lookup_grants_max()', db => 'pub');
    $env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
               . " SELECT u.id, 'MANY', 'r' || n, 'REPO_READ' FROM bbtoken_users u,"
               . " generate_series(1, $max + 5) n WHERE u.name = 'bob'", db => 'pub');
    my $btok = pub('create', 'bob', '--name', 'many grants');
    chomp $btok;
    my $bid = parse_token($btok)->{id};
    ok(replicated("SELECT count(*) FROM bbtoken_lookup WHERE id = '$bid' AND levels IS NULL", 1),
       'the token is on the replica, its row without a level map');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($btok), $bid), "bob's token: from the replica's cache");
    pub('ungrant', 'bob', 'PROJ');
    ok(replicated("SELECT count(*) FROM bbtoken_project_grants g JOIN bbtoken_users u ON u.id = g.user_id"
                  . " WHERE u.name = 'bob'", 0), 'the grant removed on the replica');
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($btok), 403);
    ok($ok, "refused ($tries requests)") or diag $seen;
};

$env->psql('DROP SUBSCRIPTION bbt');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
