# The row locks of a leak report.  It locks the rows of the tokens it
# reports lowest id first, whatever their number: of 100 tokens (the cap),
# a list PostgreSQL makes DISTINCT by hashing, in no order, unless told to
# sort, a report that waits for the lowest, which another session holds,
# holds none of the others meanwhile, as `bbtoken revoke --user` and the
# other writers that lock in id order need (t/76-lock-order has two tokens,
# a list PostgreSQL sorts to make it DISTINCT); then all 100 are revoked.
# (Were the list not sorted, the lowest would come first by chance 1 in
# 100, and this test could not tell.)  And a report aborted by PostgreSQL
# to break a deadlock with another transaction (40P01) is run again
# (BBT295), and its tokens revoked: 202, as for a report that met no one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);
use BBT::Assert;
use BBT::Util;

my $env = rest_env(login => 'bbtoken', revoke_by_value => 1);
$env->user_add('alice', '--email', 'alice@example.com');
$env->user_add('carol', '--email', 'carol@example.com');
my $URL = '/rest/access-tokens/latest/revoke-by-value';
my $N = 100;

# The rows in one psql (BBT::Pg's tokens_insert, keeping the tokens).
$env->psql("UPDATE bbtoken_policy SET max_tokens_per_user = 100000");
my (%tok, @ids, @sql);
for my $i (1 .. $N) {
    my ($sql, $t, $id) = $env->_token_insert_sql('carol', 0, name => "many $i");
    push @sql, $sql;
    $tok{$id} = $t;
    push @ids, $id;
}
$env->psql(join ";\n", @sql);
my ($lo, @rest) = sort @ids;
my $others = join ', ', map {"'$_'"} @rest;

subtest "a report of $N tokens waiting for the lowest holds none of the others" => sub {
    my $h = $env->pg_session('hold');
    $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$lo' FOR UPDATE;");
    ok($h->done, 'another session holds the lowest');
    # Reported in the order they were made.
    my $wait = BBT::Util::in_background($env->dir . '/run', sub {
        $env->rest(POST => $URL, noauth => 1, json => [map { $tok{$_} } @ids])->{status} });
    ok($env->pg_wait_backend('%', "usename = 'bbtoken_api' AND wait_event_type = 'Lock'"), 'the report waits');
    is($env->psql("SELECT count(*) FROM (SELECT 1 FROM bbtoken_tokens WHERE id IN ($others)"
                  . " FOR UPDATE SKIP LOCKED) s"), $N - 1, 'it holds none of the other rows meanwhile');
    $h->send('ROLLBACK;');
    ok($h->done, 'the lowest given back');
    $h->finish;
    is($wait->(), 202, 'the report: 202');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id IN ('$lo', $others) AND revoked_at IS NOT NULL"),
       $N, "all $N revoked");
};

subtest 'a report aborted to break a deadlock: run again, revoked' => sub {
    my ($t1, $i1) = $env->token_create('alice', name => 'dl one', perms => ['REPO_READ']);
    my ($t2, $i2) = $env->token_create('alice', name => 'dl two', perms => ['REPO_READ']);
    my ($low, $high) = sort $i1, $i2;
    my $mark = BBT::Assert::log_mark($env->error_log_path);
    # The other session detects no deadlock (its timeout a minute): the
    # report, which waited first, finds it and is aborted.
    my $h = $env->pg_session('deadlock');
    $h->send("BEGIN; SET LOCAL deadlock_timeout = '60s'; SELECT 1 FROM bbtoken_tokens WHERE id = '$high' FOR UPDATE;");
    ok($h->done, 'another session holds the higher token');
    my $wait = BBT::Util::in_background($env->dir . '/run', sub {
        $env->rest(POST => $URL, noauth => 1, json => [$t1, $t2])->{status} });
    ok($env->pg_wait_backend('%', "usename = 'bbtoken_api' AND wait_event_type = 'Lock'"),
       'the report, holding the lower, waits for the higher');
    # The whole table, not the lower row: a lock the report's next try
    # queues behind, where a row's lock would go to whichever takes it
    # first once the report is aborted (and the next try could deadlock
    # again).
    $h->send("LOCK TABLE bbtoken_tokens IN ACCESS EXCLUSIVE MODE;");
    ok($h->done, 'the other session then locks the table the report holds a share of: the report is aborted, not it');
    $h->send('ROLLBACK;');
    ok($h->done, 'it rolls back');
    my $out = $h->finish;
    unlike($out, qr/ERROR/, '  without an error') or diag $out;
    is($wait->(), 202, 'the report: 202');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id IN ('$low', '$high') AND revoked_at IS NOT NULL"), 2,
       'both tokens revoked');
    my $said = join("\n", BBT::Assert::log_lines_since($env->error_log_path, $mark));
    like($said, qr/BBT295: .*revoking leaked tokens: .*40P01/, 'BBT295: run again after the deadlock');
    is(scalar(() = $said =~ /BBT295/g), 1, '  once');
};

done_testing;
