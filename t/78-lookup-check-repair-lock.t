# `bbtoken db check --repair` holds the four tables and bbtoken_lookup
# still (SHARE ROW EXCLUSIVE) for its whole transaction: a writer (a
# revocation, a rename, a grant) waits for it, so that what it writes
# again is what it compared, and no change of a token commits between
# its comparison and its write to be overwritten by a row computed
# before it.  httpd's reads do not wait.
#
# The repair is held in the middle, deterministically, by a session that
# holds the stale row of bbtoken_lookup FOR UPDATE (a ROW SHARE lock of
# the table, which the repair's lock lets through): the repair has taken
# its table locks and waits for that row.  Meanwhile a revocation of
# another token must wait for the repair, and a read must not.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my (undef, $stale) = $env->token_create('alice', name => 'stale');
my (undef, $other) = $env->token_create('alice', name => 'other');
$env->psql("UPDATE bbtoken_lookup SET token_name = 'wrong' WHERE id = '$stale'");

# The backends that backend bbt-$app waits for, by application name.
sub blockers_of {
    my ($app) = @_;
    return $env->psql("SELECT string_agg(b.application_name, ', ' ORDER BY b.application_name)"
                      . " FROM pg_stat_activity s CROSS JOIN unnest(pg_blocking_pids(s.pid)) p"
                      . " JOIN pg_stat_activity b ON b.pid = p WHERE s.application_name = 'bbt-$app'",
                      db => 'postgres') // '';
}

my $h = $env->pg_session('holder');
ok($h->send("BEGIN; SELECT 1 FROM bbtoken_lookup WHERE id = '$stale' FOR UPDATE;")->done,
   'a session holds the stale row of bbtoken_lookup');
my $wait = $env->cli_bg('repair', {}, 'db', 'check', '--repair');
ok($env->pg_wait_backend('bbt-repair', "wait_event_type = 'Lock'"), 'the repair waits');
is(blockers_of('repair'), 'bbt-holder', '  for the session holding the row');

my $r = $env->pg_session('reader');
is($r->send("SELECT token_name FROM bbtoken_lookup WHERE id = '$other';")->settled, 'done',
   'a read of bbtoken_lookup does not wait for the repair');

my $w = $env->pg_session('writer');
is($w->send("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$other';")->settled, 'blocked',
   'a revocation of another token waits');
is(blockers_of('writer'), 'bbt-repair', '  for the repair');

ok($h->send('COMMIT;')->done, 'the holder lets go');
my ($rc, $out, $err) = $wait->();
is($rc, 0, 'the repair: exit 0') or diag $err;
like($out, qr/^repaired 1 rows?$/m, '  repaired the stale row') or diag $out;
ok($w->done, 'then the revocation goes on');
my $wout = $w->finish . $r->finish . $h->finish;
unlike($wout, qr/ERROR/, 'no session failed') or diag $wout;

is($env->psql("SELECT token_name FROM bbtoken_lookup WHERE id = '$stale'"), 'stale', 'the stale row is true again');
my ($crc, undef, $cerr) = $env->cli('db', 'check');
is($crc, 0, 'db check: every row true, the revoked token\'s too') or diag $cerr;

done_testing();
