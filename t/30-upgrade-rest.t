# The access-tokens API while a migration rewrites a table that its
# checks read (README: Upgrading).  A rewrite (an ALTER TABLE that writes
# every row anew, as migration 23 did to the grant tables) is invisible to
# a snapshot taken before it committed: the table looks empty there.  A
# statement locks the tables it names before it takes its snapshot, but a
# STABLE function reads with its caller's snapshot the tables it locks only
# as it runs (one its caller's plan does not name, or names in a plan
# cached from an earlier call).  bbtoken_may_manage, the rule the API
# role's functions apply, so read an empty bbtoken_projects as "repository
# admins may manage tokens" (no row: the default) and an empty grant table
# as "no level"; bbtoken_owner_level_map, which the lookup's triggers read
# an owner's levels with, so left a token's row in bbtoken_lookup without
# the owner's grants until the next change.  Nothing is timed: each rewrite
# is held by a psql session this test controls and committed only once the
# statement that needs it waits for it.
#
# One httpd child with one pooled connection (DBDMax 1): each request finds
# the plans the ones before it left, as a long-lived pooled connection
# does.  plan_cache_mode=force_generic_plan on that connection: PostgreSQL
# may choose a generic plan for a function's statement after five calls,
# and then plans it no more.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use BBT::Assert;
use BBT::Rest qw(rest_env);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my @people = qw(padmin radmin);
my $env = rest_env(env => { mpm_conf => BBT::Util::one_child_mpm(4),
                            dbd_options => "'-cstatement_timeout=600000 -cplan_cache_mode=force_generic_plan'" },
                   passwords => [map { ($_ => "$_-Pa55-word") } @people], users => [@people],
                   grants => [[padmin => PROJECT_ADMIN => 'PROJ'], [radmin => REPO_ADMIN => 'PROJ/repo']],
                   extra_conf => "DBDMin 0\nDBDKeep 1\nDBDMax 1\n");
$env->cli_ok('project', 'PROJ', '--repo-admins-manage-tokens', 'no');

my $P = '/rest/access-tokens/1.0/projects/PROJ';
my $U = '/rest/access-tokens/1.0/users/padmin';
sub call { my ($as, $method, $path, %o) = @_; return $env->rest($method, $path, as => $as, %o) }

# A request in a child of its own: a sub that gives its status when it ends.
sub call_bg {
    my (@args) = @_;
    my $out = $env->dir . '/run/bg-' . join('-', map { s{\W}{_}gr } @args[0, 1]);
    unlink $out;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        BBT::Util::spew($out, call(@args)->{status});
        POSIX::_exit(0);
    }
    return sub { waitpid $pid, 0; return BBT::Util::slurp($out) };
}

# The API role's backend waits for a lock: 1, or 0 after a minute.
sub api_waits {
    return $env->pg_wait_backend('%', "usename = 'bbtoken_api' AND wait_event_type = 'Lock'");
}

# $table rewritten by a session of its own, not yet committed.
sub rewrite {
    my ($name, $table) = @_;
    my $hold = $env->pg_session($name);
    $hold->send("BEGIN; ALTER TABLE $table ADD COLUMN bbt_rewrite double precision DEFAULT random();"
                . " ALTER TABLE $table DROP COLUMN bbt_rewrite;");
    ok($hold->done, "$table rewritten, not yet committed");
    return $hold;
}

subtest 'a function that reads a table reads with a snapshot of its own, or is planned with its caller' => sub {
    # bbtoken_owner_levels and bbtoken_lookup_rows are SQL functions that
    # the planner takes into the statement that calls them (inlines), with
    # their tables; inlining needs them STABLE.  Any other function that
    # reads a table, or calls one that does, is VOLATILE.
    my $reads = join '|', qw(users tokens project_grants repo_grants projects policy lookup token_nets audit
                             notices leak_throttle schema owner_levels owner_level owner_level_of
                             owner_level_map may_manage lookup_rows);
    is($env->psql("SELECT string_agg(p.proname, ' ' ORDER BY p.proname) FROM pg_proc p"
                  . " WHERE p.pronamespace = 'public'::regnamespace AND p.provolatile <> 'v'"
                  . " AND p.prosrc ~ '\\mbbtoken_($reads)\\M'"),
       'bbtoken_lookup_rows bbtoken_owner_levels', 'only the two that are inlined are not VOLATILE');
};

subtest 'bbtoken_projects rewritten while a repository admin\'s request waits for it' => sub {
    my $res = call(radmin => GET => "$P/repos/repo");
    is($res->{status}, 401, 'PROJ lets only its admins manage its tokens: the repository admin is refused')
        or diag res_summary($res);
    my $hold = rewrite('projects', 'bbtoken_projects');
    my $bg = call_bg(radmin => GET => "$P/repos/repo");
    ok(api_waits(), 'the repository admin\'s list of its tokens waits for it');
    $hold->send('COMMIT;');
    is($hold->finish, '', 'committed');
    is($bg->(), 401, 'and is refused: the project\'s setting was read, not an empty table');
};

subtest 'the same for the SQL the API role runs: a create waits for the rewrite' => sub {
    # The changes ask bbtoken_api_may again; here that call is the one
    # that waits.
    my $api = $env->pg_session('api');
    $api->send("SET ROLE bbtoken_api; SELECT bbtoken_api_may('radmin', 'PROJ', 'repo');");
    ok($api->done, 'the API role asks once');
    like($api->out, qr/lets only its admins/, '  refused');
    my $hold = rewrite('projects2', 'bbtoken_projects');
    $api->send("SELECT bbtoken_api_scope_create('radmin', 'PROJ', 'repo', '300000000001', 'sneaked', NULL,"
               . " 'REPO_READ', repeat('a', 32), repeat('d', 64), NULL);");
    ok($api->blocked, 'a create for PROJ/repo in the repository admin\'s name waits for it');
    $hold->send('COMMIT;');
    is($hold->finish, '', 'committed');
    my @refused = $api->finish =~ /ERROR: +not permitted to manage the access tokens of repository PROJ\/repo:/g;
    is(scalar @refused, 2, 'refused');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'sneaked'"), 0, 'no token made');
};

subtest 'the grant tables rewritten while a project admin\'s request waits for them' => sub {
    is_ok_res(call(padmin => GET => $P), 'the project admin lists PROJ\'s tokens');
    my $hold = rewrite('grants', 'bbtoken_project_grants');
    my $bg = call_bg(padmin => GET => $P);
    ok(api_waits(), 'a second list waits for it');
    $hold->send('COMMIT;');
    is($hold->finish, '', 'committed');
    is($bg->(), 200, 'and is answered: the grant was read, not an empty table');
};

subtest 'the grant tables rewritten while a change to a token waits for them' => sub {
    my $res = call(padmin => PUT => $U, json => { name => 'laptop', permissions => ['PROJECT_READ'] });
    is_ok_res($res, 'padmin makes a token of their own') or return;
    my $id = $res->{json}{id};
    is_ok_res(call(padmin => POST => "$U/$id", json => { name => 'laptop 1' }), '  and renames it');
    my $hold = rewrite('grants2', 'bbtoken_project_grants');
    my $bg = call_bg(padmin => POST => "$U/$id", json => { name => 'laptop 2' });
    ok(api_waits(), 'a rename, whose trigger writes the token\'s lookup row, waits for it');
    $hold->send('COMMIT;');
    is($hold->finish, '', 'committed');
    is($bg->(), 200, 'renamed');
    is($env->psql("SELECT levels FROM bbtoken_lookup WHERE id = '$id'"), '~padmin:3 PROJ:3',
       'the lookup row holds the owner\'s grant on PROJ');
    $env->cli_is('db check', ['db', 'check'], 0, stdout => qr/ 0 rows wrong;/);
};

done_testing;
