# A site's session settings, on httpd's connections (DBDParams options)
# and the CLI's (PGTZ, PGDATESTYLE, PGOPTIONS): a time zone far from UTC
# with DST, another DateStyle and IntervalStyle.  Times leave the database
# as numbers (microseconds or milliseconds since the epoch) or as UTC text
# made by the statement itself, so no answer changes: the lookup serves a
# live token and refuses one expired a minute ago, the REST API's dates are
# the database's instants, expiryDays is what was asked (a DST change in
# the session's zone moves the expiry by an hour, not the days), and the
# CLI's JSON and text agree with both.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env qw(auth_bearer);
use BBT::Rest qw(rest_env);

my $OPTS = '-cstatement_timeout=5000 -cTimeZone=America/St_Johns -cDateStyle=SQL,DMY'
    . ' -cIntervalStyle=sql_standard';
my $env = rest_env(env => { dbd_options => "'$OPTS'" }, passwords => [alice => 'alice-Pa55-word'],
                   repos => [[PROJ => 'repo']], users => ['alice'], grants => [[alice => PROJECT_WRITE => 'PROJ']]);
$env->httpd_restart(graceful => 1, extra_conf => $env->{extra_conf} . $BBT::Env::DUMB_CONF);
my $UP = '/dumb/PROJ/repo.git/HEAD';
my $BASE = '/rest/access-tokens/1.0/users';

my $res = $env->rest(PUT => "$BASE/alice", as => 'alice',
                     json => { name => 'tz', permissions => ['REPO_READ'], expiryDays => 180 });
is($res->{status}, 200, 'created over REST') or diag $res->{content};
my $t = $res->{json} || {};

# The database's own instants, read in UTC.
my ($created_ms, $expires_ms) = split /\|/, $env->psql(
    "SELECT (extract(epoch FROM created_at) * 1000)::bigint, (extract(epoch FROM expires_at) * 1000)::bigint"
    . " FROM bbtoken_tokens WHERE id = '$t->{id}'", sep => '|');
is($t->{createdDate}, $created_ms, 'createdDate: the database\'s instant');
is($t->{expiryDate}, $expires_ms, 'expiryDate: the database\'s instant');
is($t->{expiryDays}, 180, 'expiryDays: 180');
# 180 days as the session's zone counts them: an hour less or more than
# in UTC when one end is in summer time and the other is not (that it is
# so shows the setting took effect).
my $hours = ($expires_ms - $created_ms) / 3600000;
my %want;
for my $zone ('America/St_Johns', 'UTC') {
    ($want{$zone}) = grep { /^\d/ } split /\n/, $env->psql(
        "SET TimeZone = '$zone'; SELECT extract(epoch FROM c + interval '180 days' - c)::bigint / 3600"
        . " FROM (SELECT created_at AS c FROM bbtoken_tokens WHERE id = '$t->{id}') x", user => 'postgres');
}
is($hours, $want{'America/St_Johns'}, "180 days in the session's zone ($hours h; in UTC $want{UTC} h)");

my $list = $env->rest(GET => "$BASE/alice", as => 'alice');
my ($l) = grep { $_->{id} eq $t->{id} } @{ $list->{json}{values} || [] };
ok($l && $l->{createdDate} == $created_ms && $l->{expiryDate} == $expires_ms && $l->{expiryDays} == 180,
   'the list says the same') or diag explain $l;

is($env->get($UP, auth_bearer($t->{token}))->{status}, 200, 'the token is served');
my ($gone, $gone_id) = $env->token_create('alice', name => 'gone', expiry_days => 1);
$env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET created_at = now() - interval '1 day',"
           . " expires_at = now() - interval '1 minute' WHERE id = '$gone_id'");
is($env->get($UP, auth_bearer($gone))->{status}, 401, 'one expired a minute ago is refused');
my ($last_ms) = $env->psql("SELECT (extract(epoch FROM last_authenticated) * 1000)::bigint FROM bbtoken_tokens"
                           . " WHERE id = '$t->{id}'");
ok($last_ms && abs($last_ms / 1000 - time) < 120, 'its last use is now, as an instant');
$list = $env->rest(GET => "$BASE/alice", as => 'alice');
($l) = grep { $_->{id} eq $t->{id} } @{ $list->{json}{values} || [] };
is($l && $l->{lastAuthenticated}, $last_ms, 'lastAuthenticated: the database\'s instant');

my %cli_env = (PGTZ => 'Asia/Kathmandu', PGDATESTYLE => 'German', PGOPTIONS => '-cIntervalStyle=iso_8601',
               TZ => 'Pacific/Kiritimati', LC_TIME => 'C');
my ($rc, $out, $err) = $env->cli_env(\%cli_env, '--db', $env->superuser_conninfo, 'list', 'alice', '--json');
is($rc, 0, 'the CLI under PGTZ, PGDATESTYLE, PGOPTIONS and TZ') or diag $err;
my $j = eval { JSON::PP::decode_json($out) } || [];
my ($c) = grep { $_->{id} eq $t->{id} } @{ ref $j eq 'ARRAY' ? $j : $j->{tokens} || [] };
ok($c && $c->{createdDate} == $created_ms && $c->{expiryDate} == $expires_ms && $c->{expiryDays} == 180
   && $c->{lastAuthenticated} == $last_ms, 'list --json: the same instants, expiryDays 180') or diag $out;
my $utc = $env->psql("SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                     . " FROM bbtoken_tokens WHERE id = '$t->{id}'");
($rc, $out, $err) = $env->cli_env(\%cli_env, '--db', $env->superuser_conninfo, 'list', 'alice');
my ($line) = grep { /^\Q$t->{id}\E\b/ } split /\n/, $out;
like($line // '', qr/\Q$utc\E/, "list: the expiry in UTC ($utc)") or diag $out;

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
