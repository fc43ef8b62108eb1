# Two hand edits under session_replication_role = replica that the lookup
# table's triggers cannot keep it true through, since what orders them is
# an ordinary trigger that does not fire then (README, The schema): a user
# deleted (the foreign keys' cascades), and a token inserted while another
# session disables its owner (the new token's policy trigger, which locks
# the owner).  `bbtoken db check` finds the rows that differ from what
# the tables give, and --repair writes them again: the tokens are refused
# from then on.  The cache is off: the rows alone decide.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);

my $env = BBT::Env->new(extra_conf => "BBTokenCache off\n")->start;
$env->make_repo('PROJ', 'repo');
$env->user_add($_) for qw(alice bob);
$env->grant($_, 'PROJECT_WRITE', 'PROJ') for qw(alice bob);
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
sub status { $env->get($UP, auth_bearer($_[0]))->{status} }

# db check, then db check --repair: what each said.
sub check_and_repair {
    my ($rc, $out, $err) = $env->cli('db', 'check');
    like("$out$err", qr/\b1 rows? wrong\b/, 'db check finds the row that differs') or diag "$rc $out$err";
    ($rc, $out, $err) = $env->cli('db', 'check', '--repair');
    is($rc, 0, 'db check --repair') or diag "$out$err";
    like($out, qr/^repaired 1 rows?$/m, '  writes it again') or diag "$out$err";
    ($rc, $out, $err) = $env->cli('db', 'check');
    like("$out$err", qr/\b0 rows wrong\b/, '  and then none differs') or diag "$rc $out$err";
}

subtest 'a user deleted by a replica session' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'laptop');
    is(status($tok), 200, 'the token is accepted');
    $env->psql("BEGIN; SET LOCAL session_replication_role = replica;"
               . " DELETE FROM bbtoken_users WHERE name = 'alice'; COMMIT");
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$id'"), 1,
       'alice is gone, her token is not (no cascade)');
    check_and_repair();
    # Its row, as the tables give it, has no owner: never a token's
    # answer, refused as a row httpd cannot read (BBT075).
    is(status($tok), 503, 'her token is refused: a row without an owner');
    like($env->error_log_text, qr/BBT075: token \Q$id\E: its row of bbtoken_lookup is malformed/, '  BBT075');
};

subtest 'a token inserted by a replica session while an ordinary one disables its owner' => sub {
    my ($ins, $raw) = $env->token_insert_sql('bob', name => 'replica', project => 'PROJECT_READ',
                                             repo => 'REPO_READ');
    my $s1 = $env->pg_session('replica-insert');
    my $s2 = $env->pg_session('disable');
    $s1->send("BEGIN; SET LOCAL session_replication_role = replica; $ins;");
    ok($s1->done, 'a token inserted, not committed');
    $s2->send("UPDATE bbtoken_users SET active = false WHERE name = 'bob';");
    ok($s2->done, 'its owner disabled meanwhile, without waiting for it');
    $s1->send('COMMIT;');
    ok($s1->done, 'the token committed');
    $s1->finish;
    $s2->finish;
    check_and_repair();
    is(status($raw), 401, 'the disabled owner\'s new token is refused');
};

done_testing;
