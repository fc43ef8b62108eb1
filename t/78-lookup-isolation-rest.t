# The access-tokens API's writes run in READ COMMITTED whatever the
# database's default_transaction_isolation says, as bbtoken's do
# (t/78-lookup-isolation).  Under REPEATABLE READ a create read the owner's
# grants and tokens as of its first statement, before it waited for the
# owner's row: a grant removed meanwhile still gave the new token its
# level in bbtoken_lookup, and a token created meanwhile was not counted
# against the policy's limit.  A leak report's count, one statement, runs
# in a transaction of its own for the same reason: two reports from one
# address failed each other's count (40001).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Rest qw(rest_env);
use BBT::Util;
use BBT::Token ();
use BBT::Assert ();

my $env = rest_env(passwords => [carol => 'carol-Pa55-word', dave => 'dave-Pa55-word'], users => [qw(carol dave)],
                   repos => [[PROJ => 'repo']],
                   grants => [[carol => PROJECT_WRITE => 'PROJ'], [dave => PROJECT_WRITE => 'PROJ']],
                   revoke_by_value => 1, extra_conf => "BBTokenCache off\n");
$env->psql("ALTER DATABASE bbtoken SET default_transaction_isolation = 'repeatable read'");
# mod_dbd's connections made from now on read repeatably by default.
$env->httpd_restart;
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

is($env->psql('SHOW default_transaction_isolation'), 'repeatable read',
   'the database\'s sessions read repeatably by default');

# $hold (SQL) runs in a session of its own and stays uncommitted, holding
# $who's row; a create of $who's token through the API waits for it; then
# the session commits.  The API's answer.
sub race {
    my ($who, $hold) = @_;
    my $s = $env->pg_session("hold-$who");
    $s->send("BEGIN ISOLATION LEVEL READ COMMITTED; $hold;");
    ok($s->done, 'the change made, not committed (the owner\'s row held)');
    my $wait = BBT::Util::in_background($env->dir . '/run', sub {
        my $r = $env->rest(PUT => "/rest/access-tokens/1.0/users/$who", as => $who,
                           json => { name => 'new', permissions => ['PROJECT_WRITE'] });
        return join "\n", $r->{status}, $r->{json}{token} // $r->{content} // '';
    });
    ok($env->pg_wait_backend('%', "usename = 'bbtoken_api' AND wait_event_type = 'Lock'"),
       'the API\'s create waits for it');
    $s->send('COMMIT;');
    ok($s->done, 'the change committed');
    $s->finish;
    my ($status, $rest) = split /\n/, $wait->(), 2;
    my ($crc, $cout, $cerr) = $env->cli('db', 'check');
    like($cout, qr/\b0 rows wrong\b/, 'db check: no row differs') or diag "$crc $cout$cerr";
    return ($status, $rest);
}

subtest 'a grant removed while the API creates a token' => sub {
    my ($status, $tok) = race('carol', "DELETE FROM bbtoken_project_grants WHERE project_key = 'PROJ'"
                                       . " AND user_id = (SELECT id FROM bbtoken_users WHERE name = 'carol')");
    is($status, 200, 'the token is made') or diag $tok;
    is($env->get($UP, auth_bearer($tok))->{status}, 403, 'and gets nothing its owner no longer has');
};

subtest 'a token made while the API creates one, at the policy\'s limit' => sub {
    $env->cli_ok('policy', '--max-tokens', '1');
    my ($ins) = $env->token_insert_sql('dave', name => 'first');
    my ($status, $body) = race('dave', $ins);
    is($status, 400, 'the API\'s token is refused: the limit is reached') or diag $body;
    is($env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                  . " WHERE u.name = 'dave' AND t.revoked_at IS NULL"), 1, 'dave has one live token');
};

subtest 'a leak report counted while another from the same address is' => sub {
    my $URL = '/rest/access-tokens/1.0/revoke-by-value';
    my $unknown = BBT::Token::forge_token('000000000077');
    is($env->rest(POST => $URL, noauth => 1, json => [$unknown])->{status}, 202, 'a first report: counted');
    my $s = $env->pg_session('leak-count');
    $s->send("BEGIN ISOLATION LEVEL READ COMMITTED; UPDATE bbtoken_leak_throttle SET calls = calls + 1;");
    ok($s->done, 'another count of the address, not committed');
    my $mark = BBT::Assert::log_mark($env->error_log_path);
    my $wait = BBT::Util::in_background($env->dir . '/run', sub {
        $env->rest(POST => $URL, noauth => 1, json => [$unknown])->{status} });
    ok($env->pg_wait_backend('%', "usename = 'bbtoken_api' AND wait_event_type = 'Lock'"),
       'the API\'s count waits for it');
    $s->send('COMMIT;');
    ok($s->done, 'the other count committed');
    $s->finish;
    is($wait->(), 202, 'the report is answered 202');
    is($env->psql('SELECT calls FROM bbtoken_leak_throttle'), 3, 'each of the three counted');
    unlike(join("\n", BBT::Assert::log_lines_since($env->error_log_path, $mark)), qr/BBT295/,
           'none was aborted to let the other go on');
};

done_testing;
