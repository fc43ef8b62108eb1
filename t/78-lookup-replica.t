# Two hand edits under session_replication_role = replica, where what
# ordered them is an ordinary trigger that does not fire then (README,
# The schema): a user deleted (the foreign keys' cascades), and a token
# inserted while another session disables its owner or takes a grant
# away (the new token's policy trigger, which locks the owner).  The lookup's own triggers, which
# fire always, keep the table true through both (sql/migrations/0043):
# `bbtoken db check` finds no row that differs, with no repair, and httpd
# refuses the tokens.  The cache is off: the rows alone decide.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);

my $env = BBT::Env->new(extra_conf => "BBTokenCache off\n")->start;
$env->make_repo('PROJ', 'repo');
$env->user_add($_) for qw(alice bob carol dave erin);
$env->grant($_, 'PROJECT_WRITE', 'PROJ') for qw(alice bob carol dave erin);
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
sub status { $env->get($UP, auth_bearer($_[0]))->{status} }

# db check: no row differs from what the tables give.
sub none_wrong {
    my ($rc, $out, $err) = $env->cli('db', 'check');
    is($rc, 0, 'db check: the table holds') or diag "$out$err";
    like($out, qr/\b0 rows wrong; 14 lookup triggers, 0 not firing always\b/, '  0 rows wrong')
        or diag "$out$err";
}

subtest 'a user deleted by a replica session' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'laptop');
    is(status($tok), 200, 'the token is accepted');
    $env->psql("BEGIN; SET LOCAL session_replication_role = replica;"
               . " DELETE FROM bbtoken_users WHERE name = 'alice'; COMMIT");
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$id'"), 1,
       'alice is gone, her token is not (no cascade)');
    none_wrong();
    # Its row, as the tables give it, has no owner: never a token's
    # answer, refused and said as such (BBT081).
    is(status($tok), 503, 'her token is refused: a row without an owner');
    like($env->error_log_text, qr/BBT081: token \Q$id\E: a personal token whose owner is gone/, '  BBT081');
    unlike($env->error_log_text, qr/BBT075: token \Q$id\E/, '  not said to be malformed');
    $env->psql("DELETE FROM bbtoken_tokens WHERE id = '$id'");
    is(status($tok), 401, 'the token deleted: unknown');
};

# $first runs its statement and holds it uncommitted; $second's must wait
# for it, and both then commit.
sub race {
    my ($first, $second, $sql1, $sql2) = @_;
    $first->send("BEGIN; $sql1;");
    ok($first->done, 'the first holds its change, not committed');
    $second->send("BEGIN; $sql2;");
    is($second->settled, 'blocked', 'the second waits for it (the owner\'s row)');
    $first->send('COMMIT;');
    ok($first->done, 'the first committed');
    ok($second->done, 'the second ran then');
    $second->send('COMMIT;');
    ok($second->done, 'the second committed');
    $first->finish;
    $second->finish;
}

subtest 'a token inserted by a replica session, then its owner disabled' => sub {
    my ($ins, $raw) = $env->token_insert_sql('bob', name => 'replica', project => 'PROJECT_READ',
                                             repo => 'REPO_READ');
    race($env->pg_session('replica-insert'), $env->pg_session('disable'),
         "SET LOCAL session_replication_role = replica; $ins",
         "UPDATE bbtoken_users SET active = false WHERE name = 'bob'");
    none_wrong();
    is(status($raw), 401, 'the disabled owner\'s new token is refused');
};

subtest 'an owner disabled, then a token inserted by a replica session' => sub {
    my ($ins, $raw) = $env->token_insert_sql('carol', name => 'replica', project => 'PROJECT_READ',
                                             repo => 'REPO_READ');
    race($env->pg_session('disable-first'), $env->pg_session('replica-insert-after'),
         "UPDATE bbtoken_users SET active = false WHERE name = 'carol'",
         "SET LOCAL session_replication_role = replica; $ins");
    none_wrong();
    is(status($raw), 401, 'the disabled owner\'s new token is refused');
};

my $UNGRANT = "DELETE FROM bbtoken_project_grants WHERE project_key = 'PROJ'"
             . " AND user_id = (SELECT id FROM bbtoken_users WHERE name = '%s')";

subtest 'a token inserted by a replica session, then its owner\'s grant taken away' => sub {
    my ($ins, $raw) = $env->token_insert_sql('dave', name => 'replica', project => 'PROJECT_READ',
                                             repo => 'REPO_READ');
    race($env->pg_session('replica-insert-grant'), $env->pg_session('ungrant'),
         "SET LOCAL session_replication_role = replica; $ins", sprintf($UNGRANT, 'dave'));
    none_wrong();
    is(status($raw), 403, 'the new token gets nothing its owner no longer has');
};

subtest 'a grant taken away, then a token inserted by a replica session' => sub {
    my ($ins, $raw) = $env->token_insert_sql('erin', name => 'replica', project => 'PROJECT_READ',
                                             repo => 'REPO_READ');
    race($env->pg_session('ungrant-first'), $env->pg_session('replica-insert-after-grant'),
         sprintf($UNGRANT, 'erin'), "SET LOCAL session_replication_role = replica; $ins");
    none_wrong();
    is(status($raw), 403, 'the new token gets nothing its owner no longer has');
};

done_testing;
