# A request that read a token's row before a change, and keeps what it
# read only after the change's notification has moved the cache's
# generation, leaves no entry that is believed: what it keeps is stamped
# with the generation it read before its lookup.  The request is held
# between its lookup and its keeping in the write of its token's first
# address group (after the lookup), which this test has wait on a gate: the
# database's bbtoken_note_net, moved aside, is called by a stand-in that
# loops while a row of the test's says so (a lock would not do: the module
# gives a throttled write's lock up after 100 ms).  Meanwhile the token is
# revoked, or its owner's grant taken away, and the listener hears of it
# (its counter of notifications moves).  Then the gate opens, the request
# keeps its row (and the owner's level), and the next request must be
# refused.  Nothing is timed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(wait_log settle log_mark log_since);

my $env = BBT::Env->new(dbd_options => '',
                        extra_conf => "<Location /metrics>\n    SetHandler bbtoken-metrics\n</Location>\n")->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

sub notifications {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    return ($r->{content} // '') =~ /^bbtoken_cache_notifications_total (\d+)$/m ? $1 : -1;
}

# The gate, shut: bbtoken_note_net waits while bbt_test_gate.held.
$env->psql(<<'EOS');
DO $do$
DECLARE
    ns text := (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE p.proname = 'bbtoken_note_net');
BEGIN
    EXECUTE format('ALTER FUNCTION %I.bbtoken_note_net(text, text, text) RENAME TO bbtoken_note_net_gated', ns);
    EXECUTE format('CREATE TABLE %I.bbt_test_gate (held boolean NOT NULL)', ns);
    EXECUTE format('INSERT INTO %I.bbt_test_gate VALUES (false)', ns);
    EXECUTE format($f$CREATE FUNCTION %1$I.bbtoken_note_net(p_id text, p_net text, p_addr text)
        RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = %1$I, pg_temp AS $b$
        BEGIN
            WHILE (SELECT held FROM bbt_test_gate) LOOP
                PERFORM pg_sleep(0.05);
            END LOOP;
            RETURN bbtoken_note_net_gated(p_id, p_net, p_addr);
        END $b$$f$, ns);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %I.bbtoken_note_net(text, text, text) TO bbtoken_httpd', ns);
END $do$;
EOS

sub held_at_gate {
    return $env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'"
                      . " AND state = 'active' AND query LIKE '%bbtoken_note_net(%'");
}

sub change_in_flight {
    my ($name, $change) = @_;
    my ($tok, $id) = $env->token_create('alice', name => $name);
    settle();
    $env->psql('UPDATE bbt_test_gate SET held = true');
    my $done = $env->get_bg($UP, auth_bearer($tok));
    my $waits = 0;
    for (1 .. 600) { last if ($waits = held_at_gate()) >= 1; sleep 0.1 }
    ok($waits >= 1, 'a first request read the row and waits to record its address group');
    my $before = notifications();
    $change->($id);
    my $heard = 0;
    for (1 .. 600) { last if ($heard = notifications() > $before); sleep 0.05 }
    ok($heard, 'the change committed and the listener heard of it');
    is(held_at_gate(), 1, '  the request still held');
    $env->psql('UPDATE bbt_test_gate SET held = false');
    is($done->(), 200, 'the request in flight, let in before the change, is answered');
    my $mark = log_mark($env);
    my $st = $env->get($UP, auth_bearer($tok))->{status};
    return ($st, log_since($env, $mark), $id);
}

subtest 'revoked while a request that read it live is in flight' => sub {
    my ($st, $log, $id) = change_in_flight('revoked', sub { $env->cli_ok('revoke', $_[0]) });
    is($st, 401, 'the next request is refused');
    like($log, qr/BBT035: token \Q$id\E refused: token revoked$/m, 'by the database, not the cache');
};

subtest "the owner's grant taken away while a request in flight read it" => sub {
    my ($st, $log) = change_in_flight('ungranted', sub { $env->cli_ok('ungrant', 'alice', 'PROJ') });
    isnt($st, 200, "the next request is refused ($st)");
    unlike($log, qr/\(from the cache\)/, 'not from the cache');
    $env->grant('alice', 'PROJECT_WRITE', 'PROJ');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
