# A throttled write tried and not made is held for the retry (5 s) apart
# from the others: a token's last use given up on (a lock, BBT085) just
# before the token expired does not hold back the audit of its first
# expired refusal (expired_refused), which a client that stops at its
# first 401, as a CI job does, never gives a second chance.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env;
use BBT::Cache qw(log_mark wait_log served_from_cache);

my $U = '/dumb/PROJ/repo.git/HEAD';
my $env = BBT::Env->new(
    extra_conf => "$BBT::Env::DUMB_CONF\nBBTokenLastUseInterval 3600\nLogLevel bbtoken:debug\n",
    mpm_conf => BBT::Util::one_child_mpm(4))->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($warm, $wid) = $env->token_create('alice', name => 'warm');
BBT::Cache::settle();
ok(served_from_cache($env, $U, { Authorization => "Bearer $warm" }, $wid), 'the cache is in service');

# Made with an expiry a few seconds off, first used while its table is
# held: the last use is given up on, and the entry the cache keeps
# remembers that try.
my ($soon, $sid) = $env->token_insert('alice', name => 'soon', expires => "now() + interval '5 seconds'");
my $exp = $env->psql("SELECT extract(epoch FROM expires_at) FROM bbtoken_tokens WHERE id = '$sid'");
# Its creation's notification heard first: an entry made from a lookup
# that began before it is not believed, and the refusal below would not
# come from the cache.
BBT::Cache::settle();
my $hold = $env->pg_session('hold');
$hold->send('BEGIN; LOCK TABLE bbtoken_tokens IN SHARE ROW EXCLUSIVE MODE;');
ok($hold->done, 'bbtoken_tokens held');
my $mark = log_mark($env);
is($env->get($U, { Authorization => "Bearer $soon" })->{status}, 200, 'used while its table is held');
ok(wait_log($env, $mark, qr/BBT085: recording last use: not made/), 'its last use given up on (BBT085)');
$hold->send('ROLLBACK;');
ok($hold->done, 'released');
$hold->finish;

sleep 0.1 while time <= $exp + 0.2;
my $audited = sub {
    $env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$sid' AND event = 'expired_refused'");
};
is($audited->(), 0, 'no expired refusal audited yet');
$mark = log_mark($env);
is($env->get($U, { Authorization => "Bearer $soon" })->{status}, 401, 'refused once expired, once');
ok(wait_log($env, $mark, qr/BBT035: token \Q$sid\E refused: token expired \(from the cache\)/),
   '  from the cache');
my $n = 0;
for (1 .. 200) {
    last if ($n = $audited->()) >= 1;
    sleep 0.05;
}
is($n, 1, 'that one refusal is audited: the last use given up on does not hold it back');

done_testing;
