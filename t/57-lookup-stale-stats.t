# httpd's writes, and the lookup's triggers they fire, on statistics that
# call the tables empty, as t/57-notify-stale-stats writes them (ANALYZE
# after every row was deleted and before VACUUM, then the rows back).
# httpd's roles cannot ANALYZE, so each statement must find its rows by
# key whatever the statistics say.  Before schema version 40 a token's
# first use (its last use and its first address group: bbtoken_touch and
# bbtoken_note_net) read every live token twice, through a partial index
# the planner reckoned held one row (some 26,000 rows at 8,000 owners),
# and an expired token's refusal (bbtoken_note_expired) read them once.
# Also counted: a revocation and a rotation over the REST API (the API's
# role), grants given and taken, an owner disabled and enabled (the CLI)
# and tokens deleted, whose triggers rewrite the lookup rows
# (bbtoken_lookup_write): a grant change read every token through a whole
# scan of bbtoken_tokens_user, and the other writes of more than one row
# every token or every owner.  The same writes on fresh statistics read as few
# (a write of 100 rows read the tokens and the owners whole before).
# Counted in rows read, from the plans PostgreSQL logs (auto_explain, as
# t/88-rest-stale-stats reads them), never in time.
#
# Which scan such statistics set off depends on the tables' pages: two
# sites.  At 4,000 owners (PostgreSQL 15, this fill) the grant changes and
# the writes of many rows read every token; at 8,000 a first use and an
# expired token's refusal did.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::BigSite qw(log_plans stale_site_fill write_read_bounded);
use BBT::Rest qw(rest_location);

my $REST = rest_location('bbtoken');

# A site of $n owners, its statistics spoilt before each write (then, in a
# second round, fresh), and the writes.
sub site {
    my ($n) = @_;
    # Autovacuum off: its ANALYZE would mend the statistics this test spoils.
    my $env = BBT::Env->new(extra_conf => $BBT::Env::DUMB_CONF . $REST, api_conf => '',
                            modules => [qw(authn_file authz_user)], pg_conf => { autovacuum => 'off' })->start;
    $env->make_repo('PROJ', 'repo');
    stale_site_fill($env, $n);
    $env->htpasswd(owner13 => 'owner13-Pa55-word');
    $env->grant('owner13', 'PROJECT_READ', 'PROJ');
    my $UP = '/dumb/PROJ/repo.git/HEAD';

    # Every statement of httpd's roles and of the CLI (the superuser)
    # leaves its plan in the log, from their next sessions on.
    log_plans($env, $_) for qw(bbtoken_httpd bbtoken_api postgres);
    $env->httpd_restart;

    my $rows = $env->psql('SELECT (SELECT count(*) FROM bbtoken_tokens) + (SELECT count(*) FROM bbtoken_users)');
    my $live = $env->psql('SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL');
    # A write that finds its rows by key reads some 15 rows per token row it
    # writes (the token, its owner, the owner's grants, the row), and a few
    # more; one that scans the live tokens reads $live more.  Bounded far
    # from both: a quarter of the live tokens, and 15 rows per token row
    # written.
    my $limit = int($live / 4);
    cmp_ok($limit, '>', 500,
           "$n owners, $live live tokens: the bound, $limit rows and 15 a token, is far above a write by key");

    # $what done by $code, writing $k tokens' rows, on statistics spoilt (or
    # fresh): the rows its plans read, in all and by table, under the bound.
    my $bounded = sub {
        my ($stats, $what, $k, $code) = @_;
        write_read_bounded($env, label => "$n owners", stats => $stats, what => $what, k => $k,
                           limit => $limit, rows => $rows, code => $code);
    };

    for my $stats (qw(stale fresh)) {
        # Tokens of owner13 (who may read PROJ), made before the statistics
        # are spoilt: one to use, one expired, one to revoke.
        my ($tok, $id) = $env->token_create('owner13', name => "$stats use");
        my ($etok, $eid) = $env->token_create('owner13', name => "$stats expired");
        my (undef, $rid) = $env->token_create('owner13', name => "$stats revoked");
        my (undef, $oid) = $env->token_create('owner13', name => "$stats rotated");
        $env->expire_token($eid);

        $bounded->($stats, 'a token\'s first use', 1, sub {
            is($env->get($UP, auth_bearer($tok))->{status}, 200, "$n owners, $stats: the token's first use: 200");
        });
        isnt($env->token_row($id)->{last_authenticated}, '', "$n owners, $stats: its last use written");
        is($env->psql("SELECT count(*) FROM bbtoken_token_nets WHERE token_id = '$id'"), 1,
           "$n owners, $stats: its first address group written");
        is($env->psql("SELECT last_use_us IS NOT NULL AND seen_nets <> '' FROM bbtoken_lookup WHERE id = '$id'"), 't',
           "$n owners, $stats: ... and its lookup row with them");

        $bounded->($stats, 'an expired token refused', 1, sub {
            is($env->get($UP, auth_bearer($etok))->{status}, 401, "$n owners, $stats: the expired token: 401");
        });
        is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'expired_refused' AND token_id = '$eid'"), 1,
           "$n owners, $stats: its refusal audited");

        $bounded->($stats, 'a revocation over the REST API', 1, sub {
            is($env->rest(DELETE => "/rest/access-tokens/1.0/users/owner13/$rid", as => 'owner13', api => 1,
                          headers => { 'X-Atlassian-Token' => 'no-check' })->{status},
               204, "$n owners, $stats: revoked: 204");
        });
        is($env->psql("SELECT revoked FROM bbtoken_lookup WHERE id = '$rid'"), 't',
           "$n owners, $stats: its lookup row revoked");

        my $new;
        $bounded->($stats, 'a rotation over the REST API', 2, sub {
            my $res = $env->rest(POST => "/rest/access-tokens/1.0/users/owner13/$oid/rotate", as => 'owner13',
                                 api => 1, headers => { 'X-Atlassian-Token' => 'no-check' });
            is($res->{status}, 200, "$n owners, $stats: rotated: 200");
            $new = ref $res->{json} eq 'HASH' ? $res->{json}{id} // '' : '';
        });
        is($env->psql("SELECT string_agg(id || ' ' || revoked, ',' ORDER BY id = '$oid' DESC) FROM bbtoken_lookup"
                      . " WHERE id IN ('$oid', '$new')"), "$oid true,$new false",
           "$n owners, $stats: the old token's row revoked, the new one's written");

        $bounded->($stats, 'a grant given', 5, sub { $env->grant('owner13', 'PROJECT_WRITE', 'P3') });
        like($env->psql("SELECT levels FROM bbtoken_lookup WHERE id = '$id'"), qr/(?:^| )P3:2(?: |$)/,
             "$n owners, $stats: the grant in the token's level map");
        $bounded->($stats, 'a grant taken', 5, sub { $env->cli_ok('ungrant', 'owner13', 'P3') });
        unlike($env->psql("SELECT levels FROM bbtoken_lookup WHERE id = '$id'"), qr/(?:^| )P3:/,
               "$n owners, $stats: ... and gone from it");

        # Owners of 100 tokens each (big, big2): every token's row rewritten.
        my $big = "SELECT count(*) FROM bbtoken_lookup l JOIN bbtoken_users u ON u.id = l.user_id WHERE u.name = ";
        $bounded->($stats, 'a grant given to an owner of 100 tokens', 100,
                   sub { $env->grant('big', 'PROJECT_WRITE', 'P3') });
        is($env->psql("$big 'big' AND l.levels ~ '(^| )P3:2( |\$)'"), 100,
           "$n owners, $stats: the grant in each of its tokens' rows");
        $bounded->($stats, 'a grant taken from an owner of 100 tokens', 100,
                   sub { $env->cli_ok('ungrant', 'big', 'P3') });
        is($env->psql("$big 'big' AND l.levels ~ '(^| )P3:'"), 0, "$n owners, $stats: ... and gone from each");
        my $act = $stats eq 'stale' ? 'disable' : 'enable';
        my $n2 = $env->psql("$big 'big2'");
        $bounded->($stats, "an owner of $n2 tokens: $act", $n2, sub { $env->cli_ok('user', $act, 'big2') });
        is($env->psql("$big 'big2' AND l.user_active = " . ($stats eq 'stale' ? 'false' : 'true')), $n2,
           "$n owners, $stats: each of its tokens' rows says so");

        # 50 of big2's tokens deleted (as a purge deletes them): their rows go.
        # Through psql, a session of the superuser's that logs its plans.
        my $range = $stats eq 'stale' ? "'300000000101' AND '300000000150'" : "'300000000151' AND '300000000200'";
        $bounded->($stats, '50 tokens deleted', 50, sub {
            my ($rc, $out, $err) = $env->psql_try("DELETE FROM bbtoken_tokens WHERE id BETWEEN $range",
                                                  user => 'postgres');
            is($rc, 0, "$n owners, $stats: deleted") or diag $err;
        });
        is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE id BETWEEN $range"), 0,
           "$n owners, $stats: their lookup rows gone");
    }
}

site($_) for 4000, 8000;

done_testing;
