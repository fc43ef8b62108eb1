# The listener's probe (a NOTIFY from a pooled connection) refused for
# good: EXECUTE on pg_notify revoked from the pool's role.  The listener
# says so once (BBT714, a warning), the cache is not believed (it was,
# before) and the probe is tried again every ten seconds, not every
# second; given back, the probe comes back, the listener says it is in
# service again (BBT309, at notice) and tokens are answered from the
# cache again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(served_from_cache wait_log log_mark log_since);
use Time::HiRes qw(sleep time);

my $env = BBT::Env->new(extra_conf => <<'EOC')->start;
<Location /metrics>
    SetHandler bbtoken-metrics
    Require all granted
</Location>
EOC
ok(wait_log($env, 0, qr/\[bbtoken:notice\] .*BBT309: the token cache's listener hears PostgreSQL/),
   'the listener is up (BBT309, at notice)');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 't');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

sub listeners {
    my $c = HTTP::Tiny->new(timeout => 30)->get($env->url('/metrics'))->{content} // '';
    return $c =~ /^bbtoken_cache_listeners (\S+)$/m ? $1 : -1;
}

# The gauge polled until it reads $want: 1, or 0 after a generous limit.
sub listeners_become {
    my ($want) = @_;
    my $until = time + 60;
    while (time < $until) {
        return 1 if listeners() == $want;
        sleep 0.1;
    }
    return 0;
}

ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token is answered from the cache');
is(listeners(), 1, 'bbtoken_cache_listeners is 1');

my $mark = log_mark($env);
my $t0 = time;
$env->psql('REVOKE EXECUTE ON FUNCTION pg_catalog.pg_notify(text, text) FROM PUBLIC');
ok(wait_log($env, $mark, qr/BBT714: /, 60), 'the listener says its probe cannot be sent (BBT714)');
my @told = grep { /BBT714: / } split /\n/, log_since($env, $mark);
like($told[0] // '', qr/\[bbtoken:warn\] .*BBT714: .*pg_notify/, '  a warning, saying why');
ok(listeners_become(0), 'the cache is not believed (bbtoken_cache_listeners 0)');
my $r = $env->get($UP, auth_bearer($tok));
is($r->{status}, 200, 'the token is served');
unlike(log_since($env, $mark), qr/BBT037: token \Q$id\E .*\(from the cache\)/, '  read from the database');
# Once every ten seconds at most: two more tries, then look.
ok(wait_lines_n(3), 'the probe is tried again');
my $log = log_since($env, $mark);
@told = grep { /BBT714: / } split /\n/, $log;
is(scalar(grep { /\[bbtoken:warn\]/ } @told), 1, 'BBT714 is a warning once, then debug');
unlike($log, qr/BBT713: /, 'not said as a passing failure (BBT713)');
cmp_ok(scalar(@told), '<=', 2 + (time - $t0) / 5, 'tried again every ten seconds, not every second')
    or diag scalar(@told) . ' in ' . int(time - $t0) . ' s';

$mark = log_mark($env);
$env->psql('GRANT EXECUTE ON FUNCTION pg_catalog.pg_notify(text, text) TO PUBLIC');
ok(wait_log($env, $mark, qr/BBT309: /, 60), 'given back, the probe comes back');
like((grep { /BBT309: / } split /\n/, log_since($env, $mark))[0] // '',
     qr/\[bbtoken:notice\] .*BBT309: the token cache's listener hears PostgreSQL again/,
     '  and the listener says it hears PostgreSQL again (BBT309, at notice)');
ok(listeners_become(1), 'the cache is believed again (bbtoken_cache_listeners 1)');
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token is answered from the cache again');
unlike(log_since($env, $mark), qr/BBT714: /, 'BBT714 is not said again');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;

# Wait until BBT714 has been said $n times since $mark.
sub wait_lines_n {
    my ($n) = @_;
    my $until = time + 90;
    while (time < $until) {
        return 1 if (() = log_since($env, $mark) =~ /BBT714: /g) >= $n;
        sleep 0.2;
    }
    return 0;
}
