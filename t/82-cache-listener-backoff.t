# The cache's listener backs off while its connection subscribes and every
# heartbeat fails, as between `bbtoken db upgrade` to 59 and grants.sql
# (permission denied for table bbtoken_notify_skips, which the heartbeat
# reads): its backoff starts again only once a heartbeat has come back,
# not at each subscription, which made it connect again every few tenths
# of a second, a PostgreSQL session each time, and say BBT307 at notice
# each time.  Over a fixed wait of 20 s the backoff (0.25 s doubling to
# 8 s) allows seven connections; the count asserted is ten at most, where
# the listener that started again at each subscription made some sixty.
# BBT307 is said at notice once, and at debug while the same reason
# repeats; once grants.sql has run the cache is believed again, and the
# same loss after a heartbeat came back is news again (notice).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(served_from_cache wait_log log_mark log_since);

my $env = BBT::Env->new(pg_conf => { log_connections => 'on' })->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my ($tok, $id) = $env->token_create('alice', name => 'backoff');
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');

my $WHY = qr/BBT307: the token cache's listener lost its connection to PostgreSQL \([^)]*permission denied for table bbtoken_notify_skips\)/;
# The listener's connections PostgreSQL let in after byte $from of its log.
sub listener_connections {
    my ($from) = @_;
    my $log = substr($env->pg_log_text, $from);
    return scalar(() = $log =~ /connection authorized: user=bbtoken_httpd database=bbtoken application_name=mod_bbtoken listener/g);
}
sub lost_lines {
    my ($mark, $level) = @_;
    return scalar grep { /\[bbtoken:$level\]/ && /$WHY/ } split /\n/, log_since($env, $mark);
}

my $mark = log_mark($env);
my $pg_from = length $env->pg_log_text;
$env->psql('REVOKE SELECT ON bbtoken_notify_skips FROM bbtoken_httpd');
ok(wait_log($env, $mark, $WHY), 'BBT307 says why the heartbeat fails');
# A fixed wait, whatever happens in it: what is counted is how often the
# listener connected meanwhile.
sleep 20;
my $lost = lost_lines($mark, 'notice') + lost_lines($mark, 'debug');
my $conns = listener_connections($pg_from);
cmp_ok($lost, '>=', 3, "the heartbeat failed again and again ($lost times)");
cmp_ok($lost, '<=', 10, '  at most ten times in 20 s: the backoff grew');
cmp_ok($conns, '<=', 11, "  the listener connected $conns times, at most eleven");
is(lost_lines($mark, 'notice'), 1, '  BBT307 at notice once, then at debug');
is($env->get($UP, auth_bearer($tok))->{status}, 200, 'the token works meanwhile (read from the database)');

# grants.sql, as README says after an upgrade.
$mark = log_mark($env);
$env->grants_apply;
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/),
   'grants.sql run: the listener hears PostgreSQL again');
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), '  and the cache is believed again');

# The same reason after a heartbeat came back: at notice again.
$mark = log_mark($env);
$env->psql('REVOKE SELECT ON bbtoken_notify_skips FROM bbtoken_httpd');
ok(wait_log($env, $mark, qr/\[bbtoken:notice\][^\n]*$WHY/),
   'the same loss after a heartbeat came back: BBT307 at notice again');
$env->grants_apply;
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/), '  and back');

is_deeply([$env->crash_lines], [], 'no httpd child crashed');
done_testing;
