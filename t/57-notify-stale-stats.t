# bbtoken notify on statistics that call its tables empty: ANALYZE ran
# after every row was deleted and before VACUUM, so PostgreSQL reckons a
# table of many pages holds no rows however many come back, and plans
# nested loops that read a whole table again for each row of another (a
# CI run's notify sat 600 s on 2,500 tokens so).  notify brings the
# statistics up to date first: counted in rows read (PostgreSQL's own
# counters), not in time.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;

# Autovacuum off: its ANALYZE would mend the statistics this test spoils.
my $env = BBT::Env->new(httpd => 0, pg_conf => { autovacuum => 'off' })->start;
my $SENDMAIL = "$BBT::Env::ROOT/t/mail/sendmail";
my $N = 300;

# Owners owner1 .. owner$n, each with a token.
sub fill {
    my ($n) = @_;
    $env->psql("SET session_replication_role = replica; "
               . "INSERT INTO bbtoken_users (name, active, email) "
               . "SELECT 'owner' || g, true, 'owner' || g || '\@example.com' FROM generate_series(1, $n) g; "
               . "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash, "
               . "created_at, expires_at) "
               . "SELECT lpad((200000000000 + g)::text, 12, '0'), u.id, 'ci', 'PROJECT_READ', 'REPO_READ', "
               . "md5('s' || g), md5('h' || g) || md5('k' || g), now() - interval '100 days', "
               . "now() + interval '3 days' FROM generate_series(1, $n) g "
               . "JOIN bbtoken_users u ON u.name = 'owner' || g");
}

# The site: the odd owners' tokens expire in 3 days (a notice due each);
# the even ones' are idle for a year and were warned 8 days ago, and the
# policy revokes them (a revocation, and its notice, each).
fill($N);
$env->psql("SET session_replication_role = replica; "
           . "UPDATE bbtoken_tokens SET created_at = now() - interval '1 year', expires_at = NULL "
           . "WHERE right(id, 1)::int % 2 = 0; "
           . "INSERT INTO bbtoken_notices (token_id, kind, sent_at) "
           . "SELECT id, 'unused', now() - interval '8 days' FROM bbtoken_tokens WHERE expires_at IS NULL");
$env->cli_ok('policy', '--revoke-unused-after', '90d');

# The statistics as ANALYZE leaves them when it runs after every row was
# deleted and before VACUUM (pages, but no rows), which is how a CI run
# came by them: written here, so that no dead rows are read besides.
my @tables = qw(bbtoken_tokens bbtoken_users bbtoken_notices bbtoken_audit bbtoken_notice_copies);
$env->psql('VACUUM ANALYZE');
$env->psql("UPDATE pg_class SET reltuples = 0 WHERE oid = '$_'::regclass") for @tables;
for my $t (qw(bbtoken_tokens bbtoken_users bbtoken_notices)) {
    is($env->psql("SELECT reltuples = 0 AND relpages > 0 FROM pg_class WHERE oid = '$t'::regclass"), 't',
       "$t: the statistics say no rows in its pages");
}
like($env->psql('EXPLAIN SELECT * FROM bbtoken_tokens'), qr/\brows=1\b/, '... so the planner reckons one row');

# Rows read from the tables notify joins, and their indexes, since the
# counters were reset, once the runs' sessions have ended (a session's
# counts are written as it ends).  Bounded by $N squared: where a table
# spans a few pages the planner may fairly read it whole for each of a few
# hundred rows, which costs up to that here and stops with those pages;
# the loops that such statistics set off read a table whole for each row
# of a loop that itself runs for each row (millions here, hours at a few
# thousand tokens).
my $joined = "relname IN ('bbtoken_tokens', 'bbtoken_notices', 'bbtoken_notice_copies', 'bbtoken_audit')";
sub rows_read {
    for (1 .. 300) {
        last unless $env->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bbtoken'");
        select undef, undef, undef, 0.1;
    }
    my $by = $env->psql("SELECT relname || ' ' || COALESCE(seq_tup_read, 0) + (SELECT COALESCE(sum(idx_tup_read), 0)"
                        . " FROM pg_stat_user_indexes i WHERE i.relid = s.relid)"
                        . " FROM pg_stat_user_tables s WHERE $joined ORDER BY 1");
    my $sum = 0;
    $sum += $_ for $by =~ /(\d+)$/mg;
    return ($sum, $by =~ tr/\n/,/r);
}

sub notify {
    my ($dir, @args) = @_;
    make_path($dir);
    return $env->cli_env({ BBT_MAILDIR => $dir }, '--db', $env->superuser_conninfo, 'notify', '--from',
                         'tokens@git.example.com', '--sendmail', $SENDMAIL, @args);
}

my $half = $N / 2;
$env->psql('SELECT pg_stat_reset()');
my ($rc, $out, $err) = notify($env->dir . '/mail-dry', '--dry-run');
is($rc, 0, 'dry run') or diag $err;
is(scalar(() = $out =~ /^would revoke \d+ of owner\d+ /mg), $half, 'would revoke each idle token');
is(scalar(() = $out =~ /^would mail owner\d+ <\S+>: 1 notice$/mg), $half, 'would tell each expiry');
my ($read, $by) = rows_read();
cmp_ok($read, '<', $N * $N, "dry run: $read rows read for $N tokens ($by)");

$env->psql('SELECT pg_stat_reset()');
($rc, $out, $err) = notify($env->dir . '/mail');
is($rc, 0, 'the run') or diag $err;
is(scalar(() = $out =~ /^revoked \d+ of owner\d+ /mg), $half, 'revokes each idle token');
is(scalar(() = $out =~ /^mailed owner\d+ /mg), $N, 'mails each owner');
is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE kind IN ('revoked', 'expires_7d')"), $N,
   'every notice recorded');
($read, $by) = rows_read();
cmp_ok($read, '<', $N * $N, "the run: $read rows read for $N tokens ($by)");

done_testing;
