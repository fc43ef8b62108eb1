# With the token cache off, a request costs one statement: the lookup
# reads the token's row of bbtoken_lookup, which holds the owner's level
# map, and the level on the target comes from it.  Every way is still
# right: a changed secret, a changed salt, a lowered grant, a disabled
# owner, a revoked token, a wrong secret, an unknown id, an allow-list.
# Only an owner with more grants than a map holds has the level asked by a
# second statement, and only for a verified token.
#
# One child with one thread (prefork, one worker).  Counted by PostgreSQL
# itself: pg_stat_statements for the statements, and a sequence that
# bbtoken_owner_levels (the level's one definition for the second
# statement) bumps each time it runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use BBT::Env qw(forge_token);
use BBT::Token qw(parse_token mistype_token);
use BBT::Assert;
use BBT::Cache qw(level_probe_on);

my $env = BBT::Env->new(
    mpm        => 'prefork',
    mpm_conf   => "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\n"
                . "ServerLimit 1\nMaxRequestWorkers 1\n",
    pg_conf    => $BBT::Cache::PG_CONF,
    extra_conf => "BBTokenCache off\nBBTokenLastUseInterval 86400\n",
)->start;
$env->stat_statements_on;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'ci', perms => ['REPO_WRITE']);
# Other ids that exist: rows inserted in one psql (the CLI is a process
# and a connection per token), whose lookup rows the triggers make as for
# any token.
$env->user_add('bob');
my @others = $env->tokens_insert('bob', 10, name => 't', project => 'PROJECT_READ', repo => 'REPO_READ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';

level_probe_on($env);

# What PostgreSQL did so far, read in one statement (a psql is a process
# and a connection, and a request is measured before and after): every
# statement httpd's role ran, the lookups (BBT::Cache's words of it), the
# owner's level statements (mod_bbtoken/bbt_dblookup.c, as
# pg_stat_statements spells it), and the times the owner's level was
# computed (the sequence of level_probe_on).  The literals here are
# constants to pg_stat_statements, so this statement counts as none of
# them.
my $CALLS = 'SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE';
my $COUNTS = "SELECT ($CALLS userid = 'bbtoken_httpd'::regrole),"
           . " ($CALLS strpos(query, '$BBT::Cache::LOOKUP') > 0),"
           . " ($CALLS strpos(query, " . BBT::Pg::sql_text('WHERE u.id = $3::bigint') . ") > 0),"
           . " (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bbt_level_probe)";
sub counts { return split /\|/, $env->psql($COUNTS, sep => '|') }

# One request and what it made PostgreSQL do:
# { all => statements, lookup => lookups, level => level statements,
#   computed => times the owner's level was computed }.
sub work {
    my ($path, $auth) = @_;
    my @before = counts();
    my $r = $env->get($path, { Authorization => $auth });
    my @after = counts();
    my %w;
    @w{qw(all lookup level computed)} = map { $after[$_] - $before[$_] } 0 .. 3;
    return ($r, \%w);
}

sub work_is {
    my ($w, $want, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_deeply($w, $want, $name) or diag explain $w;
}

# Write columns of token $id that the schema keeps fixed (its triggers
# refuse it): what a restore of another backup, or a hand edit, could do.
sub force_update {
    my ($id, $set) = @_;
    $env->psql("SET session_replication_role = replica; "
               . "UPDATE bbtoken_tokens SET $set WHERE id = '$id'");
}

# A new secret and salt for token $id: the token that goes with them.
sub new_secret {
    my ($id) = @_;
    my $t = forge_token($id);
    my $salt = join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
    my $hash = hmac_sha256_hex(parse_token($t)->{raw}, pack('H*', $salt));
    force_update($id, "salt = '$salt', secret_hash = '$hash'");
    return $t;
}

subtest 'a repeated token: one statement per request' => sub {
    # The first: the lookup, and the address and the last use are
    # recorded.
    my ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'first request');
    is($w->{lookup}, 1, '  one lookup');
    is($w->{level}, 0, '  no level statement: the level from the map');
    for my $n (1 .. 5) {
        ($r, $w) = work($UP, "Bearer $tok");
        is_ok_res($r, "repeat $n");
        work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 },
                '  one statement, whose row held the level');
    }
    ($r, $w) = work($RP, $env->basic('alice', $tok));
    is_ok_res($r, 'Basic, a push advertisement (write)');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  one statement');
};

subtest 'refusals never compute the level' => sub {
    my ($r, $w) = work($UP, 'Bearer ' . forge_token($id));
    is_401($r, 1, 'a wrong secret for the id just used');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  the lookup alone');
    ($r, $w) = work($UP, 'Bearer ' . forge_token('000000000042'));
    is_401($r, 1, 'an unknown id');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  the lookup alone');
    # Wrong secrets for other ids that exist.
    for my $other (@others) {
        ($r, $w) = work($UP, 'Bearer ' . forge_token($other));
        is_401($r, 1, "a wrong secret for $other");
        is($w->{computed}, 0, '  no level computed');
    }
    # Nothing of them stays behind.
    ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'alice\'s token after them');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  still one statement');
};

subtest 'a changed salt with the old hash: the stored hash is not proof' => sub {
    # Written past the tables' own triggers (session_replication_role =
    # replica): the lookup's triggers fire all the same, and the token does
    # not hash to the stored hash under the new salt.
    my $salt = '0123456789abcdef0123456789abcdef';
    my $old = $env->psql("SELECT salt FROM bbtoken_tokens WHERE id = '$id'");
    force_update($id, "salt = '$salt'");
    my ($r, $w) = work($UP, "Bearer $tok");
    is_401($r, 1, 'the token, against a row whose salt changed');
    is($w->{level}, 0, '  no level statement');
    ($r, $w) = work($UP, "Bearer $tok");
    is_401($r, 1, '  again');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  the lookup alone');
    force_update($id, "salt = '$old'");
    ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'the salt put back: accepted');
    is($w->{lookup}, 1, '  one lookup');
};

# The thread has just verified the token against its row (one thread):
# what it remembers of that is no proof against another hash, even with
# the same salt.
subtest 'a changed hash with the same salt: refused at once' => sub {
    my ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'before: accepted');
    ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'and again');
    my ($salt, $old) = split /\|/, $env->psql("SELECT salt, secret_hash FROM bbtoken_tokens WHERE id = '$id'", sep => '|');
    my $other = hmac_sha256_hex(parse_token(forge_token($id))->{raw}, pack('H*', $salt));
    force_update($id, "secret_hash = '$other'");
    ($r, $w) = work($UP, "Bearer $tok");
    is_401($r, 1, 'the token, against a row whose hash is another secret\'s');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  the lookup alone');
    force_update($id, "secret_hash = '$old'");
    ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'the hash put back: accepted');
};

# What the thread remembers of a token it let in spares these very bytes
# alone their checksum: one character away, the checksum is checked, and
# no statement runs.
subtest 'one character away from a token just let in: no statement' => sub {
    my ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'the token');
    ($r, $w) = work($UP, 'Bearer ' . mistype_token($tok));
    is_401($r, 1, 'one character of its secret changed');
    work_is($w, { all => 0, lookup => 0, level => 0, computed => 0 }, '  no statement: its checksum was checked');
    ($r, $w) = work($UP, $env->basic('alice', mistype_token($tok)));
    is_401($r, 1, '  the same in Basic');
    work_is($w, { all => 0, lookup => 0, level => 0, computed => 0 }, '  no statement');
};

subtest 'a new secret: the old token refused, the new one accepted' => sub {
    my ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'before');
    my $new = new_secret($id);
    ($r, $w) = work($UP, "Bearer $new");
    is_ok_res($r, 'the new token');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  one statement');
    ($r, $w) = work($UP, "Bearer $new");
    is_ok_res($r, 'the new token again');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  one statement');
    ($r, $w) = work($UP, "Bearer $tok");
    is_401($r, 1, 'the old token');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  the lookup alone');

    my $third = new_secret($id);
    ($r, $w) = work($UP, "Bearer $new");
    is_401($r, 1, 'changed again: the second token');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  the lookup alone');
    ($r, $w) = work($UP, "Bearer $third");
    is_ok_res($r, 'the third token');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  one statement');
    is_401($env->get($UP, { Authorization => "Bearer $tok" }), 1, 'the first token still refused');
    $new = $third;
    $tok = $new;
};

subtest 'the right secret, refused all the same: no level either' => sub {
    my ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'before: accepted');
    ($r, $w) = work($UP, $env->basic('bob', $tok));
    is_401($r, 1, 'in Basic under another user\'s name');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  the lookup alone');
    ($r, $w) = work($UP, $env->basic('ALICE', $tok));
    is_ok_res($r, 'in Basic under the owner\'s name in another case');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  one statement');

    # Expired a second ago, or, for a token made less than a second ago,
    # just after it was made (an expiry must follow the creation).
    force_update($id, "expires_at = greatest(now() - interval '1 second', created_at + interval '1 microsecond')");
    ($r, $w) = work($UP, "Bearer $tok");
    is_401($r, 1, 'expired');
    is($w->{computed}, 0, '  no level computed');
    force_update($id, 'expires_at = NULL');

    $env->cli_ok('update', $id, '--allow-from', '192.0.2.0/24');
    ($r, $w) = work($UP, "Bearer $tok");
    is_401($r, 1, 'from outside its allow-list');
    is($w->{computed}, 0, '  no level computed');
    $env->cli_ok('update', $id, '--allow-from', '127.0.0.0/8');
    ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'from inside it');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 },
            '  one statement: whether the client is inside is said in C, the level is the map\'s');
    $env->cli_ok('update', $id, '--allow-from-any');
    ($r, $w) = work($UP, "Bearer $tok");
    is_ok_res($r, 'the allow-list dropped');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  one statement again');
};

subtest 'the level is live: a lowered grant, a disabled owner, a revoked token' => sub {
    my ($r, $w) = work($RP, "Bearer $tok");
    is_ok_res($r, 'a push advertisement with PROJECT_WRITE');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  one statement');
    $env->grant('alice', 'PROJECT_READ', 'PROJ');
    ($r, $w) = work($RP, "Bearer $tok");
    is_403($r, 'the grant lowered to PROJECT_READ: refused at once');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  one statement');
    is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), '  reading still allowed');
    $env->cli_ok('ungrant', 'alice', 'PROJ');
    is_403($env->get($UP, { Authorization => "Bearer $tok" }), 'ungranted: reading refused at once');
    $env->grant('alice', 'PROJECT_WRITE', 'PROJ');
    is_ok_res($env->get($RP, { Authorization => "Bearer $tok" }), 'granted again: push allowed');

    $env->cli_ok('user', 'disable', 'alice');
    ($r, $w) = work($UP, "Bearer $tok");
    is_401($r, 1, 'the owner disabled: refused at once');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 },
            '  the lookup alone: a disabled owner\'s level is not computed');
    $env->cli_ok('user', 'enable', 'alice');
    is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), 'enabled again: accepted');

    $env->cli_ok('revoke', $id);
    ($r, $w) = work($UP, "Bearer $tok");
    is_401($r, 1, 'revoked: refused at once');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 },
            '  the lookup alone: a revoked token\'s owner\'s level is not computed');
};

subtest 'an owner with too many grants for a map: the level asked apart' => sub {
    my $max = $env->psql('SELECT bbtoken_lookup_grants_max()');
    $env->user_add('many');
    $env->grant('many', 'PROJECT_WRITE', 'PROJ');
    my ($mt, $mid) = $env->token_create('many', name => 'many', perms => ['REPO_WRITE']);
    my $grants = "INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
               . " SELECT u.id, 'PROJ', 'r' || g, 'REPO_READ' FROM bbtoken_users u, generate_series(1, %d) g"
               . " WHERE u.name = 'many'";
    $env->psql(sprintf $grants, $max - 1);
    my ($r, $w) = work($RP, "Bearer $mt");
    is_ok_res($r, "$max grants: a push advertisement");
    is($w->{lookup}, 1, '  one lookup');
    is($w->{level}, 0, '  no level statement: the map holds them');
    $env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
               . " SELECT id, 'PROJ', 'one-more', 'REPO_READ' FROM bbtoken_users WHERE name = 'many'");
    ($r, $w) = work($RP, "Bearer $mt");
    is_ok_res($r, 'one grant more: a push advertisement');
    work_is($w, { all => 2, lookup => 1, level => 1, computed => 1 }, '  the lookup, then the level');
    ($r, $w) = work($UP, 'Bearer ' . forge_token($mid));
    is_401($r, 1, '  a wrong secret');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  the lookup alone');
    $env->grant('many', 'PROJECT_READ', 'PROJ');
    ($r, $w) = work($RP, "Bearer $mt");
    is_403($r, '  the grant lowered: push refused at once');
    is($w->{level}, 1, '  by the level statement');
    $env->psql("DELETE FROM bbtoken_repo_grants WHERE repo_slug = 'one-more'");
    $env->grant('many', 'PROJECT_WRITE', 'PROJ');
    ($r, $w) = work($RP, "Bearer $mt");
    is_ok_res($r, 'back to the bound, the grant raised again: a push advertisement');
    work_is($w, { all => 1, lookup => 1, level => 0, computed => 0 }, '  one statement again');
};

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
