# The token policy's limit holds whatever isolation level a session of
# SQL asks for.  The policy counts the holder's live tokens after taking
# the holder's lock: a READ COMMITTED statement reads after the lock, but a
# REPEATABLE READ or SERIALIZABLE transaction counts in the snapshot it
# took before the wait (PostgreSQL finds the conflict only when both are
# SERIALIZABLE, and the module's and the CLI's are READ COMMITTED), so the
# schema creates tokens under READ COMMITTED only.
# Each race: session one takes its snapshot, session two creates a token
# and holds the holder's lock, session one creates one too, then two
# commits.  Sessions of psql, as the table's owner (no sleep decides).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
$env->psql("UPDATE bbtoken_policy SET max_tokens_per_user = 2");
my $n = 0;

sub live {
    my ($user) = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                      . " WHERE u.name = '$user' AND t.revoked_at IS NULL");
}

# The race above for $user (holding one live token) with session one under
# $level: what session one printed, and the user's live tokens after.
sub race {
    my ($user, $level) = @_;
    $n++;
    my ($sql1) = $env->token_insert_sql($user, name => "one $n");
    my ($sql2) = $env->token_insert_sql($user, name => "two $n");
    my $one = $env->pg_session("one$n");
    $one->send("BEGIN ISOLATION LEVEL $level; SELECT count(*) FROM bbtoken_tokens;");
    ok($one->done, "$level: session one has its snapshot");
    my $two = $env->pg_session("two$n");
    $two->send("BEGIN; $sql2;");
    ok($two->done, 'session two made a token and holds the holder');
    $one->send("$sql1;");
    my $state = $one->settled;
    ok($state, "session one's creation waits or has ended ($state)");
    $two->send('COMMIT;');
    ok($two->done, 'session two commits');
    $one->send('COMMIT;');
    ok($one->done, 'session one ends');
    $two->finish;
    return ($one->finish, live($user));
}

subtest 'READ COMMITTED: the second creation counts the first' => sub {
    $env->user_add('rc');
    $env->token_insert('rc', name => 'first');
    my ($out, $live) = race('rc', 'READ COMMITTED');
    like($out, qr/already has 2 live tokens/, 'refused by the limit') or diag $out;
    is($live, 2, 'two live tokens, the limit');
};

for my $level ('REPEATABLE READ', 'SERIALIZABLE') {
    subtest "$level: no token is created under it" => sub {
        my $user = lc($level) =~ s/ //r;
        $env->user_add($user);
        $env->token_insert($user, name => 'first');
        my ($out, $live) = race($user, $level);
        like($out, qr/created under READ COMMITTED only.*under \Q$level\E/,
             'refused, and says why') or diag $out;
        is($live, 2, 'two live tokens, the limit');
        my ($sql) = $env->token_insert_sql($user, name => 'alone');
        $env->psql("UPDATE bbtoken_tokens t SET revoked_at = now() FROM bbtoken_users u"
                   . " WHERE u.id = t.user_id AND u.name = '$user' AND t.name = 'first'");
        my ($rc, undef, $err) = $env->psql_try("BEGIN ISOLATION LEVEL $level; $sql; COMMIT",
                                               user => 'postgres');
        isnt($rc, 0, 'refused without a race too, under the limit');
        like($err, qr/created under READ COMMITTED only/, 'and says why');
        is(live($user), 1, 'nothing made');
    };
}

done_testing;
