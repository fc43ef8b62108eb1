# A refusal does the same database work whoever owns the token's id and
# whatever they may do: an unknown id, and a wrong secret on the token of
# an ordinary user, a global admin, a disabled user, a user with no grants
# and a user with more grants than a level map holds, each run the token
# lookup once and nothing else.  A verified token's owner's level comes
# from the map the lookup's row holds, so that is all it runs too; only an
# owner with too many grants for a map has it asked by a second statement,
# and only after the secret has proven right.  Counted by PostgreSQL
# itself (pg_stat_statements, and a sequence the owner's level function
# bumps), with the token cache off so that every request asks the
# database: what ran, never how long it took.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(forge_token);
use BBT::Assert;
use BBT::Cache qw(lookup_calls level_probe_on level_computed);

my $env = BBT::Env->new(
    pg_conf    => $BBT::Cache::PG_CONF,
    extra_conf => "BBTokenCache off\nBBTokenLastUseInterval 86400\n",
)->start;
$env->stat_statements_on;
level_probe_on($env);
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->user_add('root', '--admin');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_WRITE', 'PROJ');
$env->user_add('dave');
# More grants than a level map holds (bbtoken_lookup_grants_max), one of
# them on the target.
my $max = $env->psql('SELECT bbtoken_lookup_grants_max()');
$env->user_add('erin');
$env->grant('erin', 'PROJECT_WRITE', 'PROJ');
$env->psql("INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
           . " SELECT u.id, 'P' || g, 'PROJECT_READ' FROM bbtoken_users u, generate_series(1, $max) g"
           . " WHERE u.name = 'erin'");
my %tok;
my %id;
for my $u (qw(alice root carol dave erin)) {
    ($tok{$u}, $id{$u}) = $env->token_create($u, name => "t-$u", perms => ['REPO_READ']);
}
$env->cli_ok('user', 'disable', 'carol');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# The owner's level, as the module asks it (mod_bbtoken/bbt_dblookup.c), in
# pg_stat_statements' spelling (constants become parameters).
sub level_calls { $env->statement_calls('bbtoken_owner_levels(u, $1, $2) ol ON $5 WHERE u.id = $3::bigint') }
# Anything else that reads grants or an admin flag, by any route.
sub grant_reads {
    return $env->psql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                      . "WHERE query ~ '(bbtoken_owner_level|_grants|is_admin)' "
                      . "AND strpos(query, '$BBT::Cache::LOOKUP') = 0 "
                      . "AND userid = 'bbtoken_httpd'::regrole");
}

# What one request made PostgreSQL run: [lookups, owner level statements,
# other grant reads, owner levels computed].
sub work {
    my ($auth) = @_;
    my @before = (lookup_calls($env), level_calls(), grant_reads(), level_computed($env));
    my $r = $env->get($UP, { Authorization => $auth });
    my @after = (lookup_calls($env), level_calls(), grant_reads(), level_computed($env));
    return ($r, [map { $after[$_] - $before[$_] } 0 .. 3]);
}


# Every token once with its secret: each connection has prepared its
# statements, and first use is recorded, before anything is counted.
is_ok_res($env->get($UP, { Authorization => "Bearer $tok{alice}" }), 'alice\'s token works');
is_ok_res($env->get($UP, { Authorization => "Bearer $tok{root}" }), 'the admin\'s token works');
is_403($env->get($UP, { Authorization => "Bearer $tok{dave}" }), 'dave, with no grant: 403');
is_ok_res($env->get($UP, { Authorization => "Bearer $tok{erin}" }), 'erin\'s token works');
is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE id = '$id{erin}' AND levels IS NULL"), 1,
   'erin\'s row has no level map');

subtest 'refusals: the token lookup, and nothing else' => sub {
    my %case = (
        'an unknown id'                      => forge_token('000000000042'),
        'a wrong secret, an ordinary user'   => forge_token($id{alice}),
        'a wrong secret, a global admin'     => forge_token($id{root}),
        'a wrong secret, a disabled user'    => forge_token($id{carol}),
        'a wrong secret, a user with no grant' => forge_token($id{dave}),
        'a wrong secret, a user with too many grants for a map' => forge_token($id{erin}),
    );
    for my $name (sort keys %case) {
        my ($r, $w) = work("Bearer $case{$name}");
        is_401($r, 1, "$name: 401");
        is_deeply($w, [1, 0, 0, 0], "$name: one token lookup, no owner level, no grant read, no level computed")
            or diag explain $w;
    }
    my ($r, $w) = work($env->basic('alice', forge_token($id{root})));
    is_401($r, 1, 'Basic, another user\'s id with a wrong secret: 401');
    is_deeply($w, [1, 0, 0, 0], '  the same work') or diag explain $w;
};

subtest 'the owner\'s level from the row, or asked only for a verified, usable token' => sub {
    my ($r, $w) = work("Bearer $tok{alice}");
    is_ok_res($r, 'alice\'s token: 200');
    is_deeply($w, [1, 0, 0, 0], '  the lookup alone: the level from its map') or diag explain $w;
    ($r, $w) = work("Bearer $tok{root}");
    is_ok_res($r, 'the admin\'s token: 200');
    is_deeply($w, [1, 0, 0, 0], '  the lookup alone') or diag explain $w;
    ($r, $w) = work("Bearer $tok{erin}");
    is_ok_res($r, 'the token of a user with too many grants for a map: 200');
    is_deeply($w, [1, 1, 1, 1], '  the lookup, then the owner\'s level, computed once') or diag explain $w;
    ($r, $w) = work("Bearer $tok{carol}");
    is_401($r, 1, 'a disabled user\'s token, right secret: 401');
    is_deeply($w, [1, 0, 0, 0], '  the lookup alone: a disabled owner\'s level is never asked') or diag explain $w;
    ($r, $w) = work($env->basic('dave', $tok{alice}));
    is_401($r, 1, 'alice\'s token under another user name: 401');
    is_deeply($w, [1, 0, 0, 0], '  the lookup alone') or diag explain $w;
};

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
