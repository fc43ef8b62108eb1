# The CLI's commands over many tokens on statistics that call their tables
# empty, as t/57-notify-stale-stats writes them (ANALYZE after every row
# was deleted and before VACUUM, then the rows back): PostgreSQL reckons a
# table of many pages holds one row and plans loops that read a table
# whole for each row of another, in the statement or in the triggers of
# its change.  Each command brings the statistics up to date first
# (bbtoken_analyze): counted in rows read (PostgreSQL's own counters), not
# in time.  On a hot standby, which cannot ANALYZE, they make none.
#
# Which loop such statistics set off depends on the tables' pages, so two
# sites: list --all, expiring and db check read a table whole per token
# on the first (1,200 owners); purge only on the second (2,100 owners),
# where each deleted token read the tokens whole (3 million rows, over a
# second; 4 million and 2.8 s at 2,500).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::BigSite qw(stale_site_fill spoil_stats);

# The site of BBT::BigSite's stale_site_fill, with two audit records a
# token and a notice for one token in five.
sub site {
    my ($n) = @_;
    # Autovacuum off: its ANALYZE would mend the statistics this test spoils.
    my $env = BBT::Env->new(httpd => 0, pg_conf => { autovacuum => 'off' })->start;
    stale_site_fill($env, $n);
    $env->psql(<<"EOS");
SET session_replication_role = replica;
INSERT INTO bbtoken_audit (at, event, token_id, user_name, actor, db_role, source)
SELECT now() - interval '300 days' + k * interval '1 day', CASE WHEN k = 0 THEN 'created' ELSE 'renamed' END, t.id,
       COALESCE(u.name, bbtoken_scope_name(t.project_key, t.repo_slug)), 'root', 'postgres', 'cli'
  FROM bbtoken_tokens t LEFT JOIN bbtoken_users u ON u.id = t.user_id, generate_series(0, 1) k;
INSERT INTO bbtoken_notices (token_id, kind, sent_at)
SELECT id, 'expires_7d', now() - interval '2 days' FROM bbtoken_tokens WHERE right(id, 1) IN ('1', '2');
EOS
    return $env;
}

# Rows read from the schema's tables and their indexes since the counters
# were reset, once the command's session has ended (a session's counts are
# written as it ends): the sum, and the tables that read more than a few
# hundred.
sub rows_read {
    my ($env) = @_;
    for (1 .. 300) {
        last unless $env->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bbtoken'");
        select undef, undef, undef, 0.1;
    }
    my $by = $env->psql("SELECT relname || ' ' || COALESCE(seq_tup_read, 0) + (SELECT COALESCE(sum(idx_tup_read), 0)"
                        . " FROM pg_stat_user_indexes i WHERE i.relid = s.relid)"
                        . " FROM pg_stat_user_tables s WHERE relname LIKE 'bbtoken%' ORDER BY 1");
    my ($sum, @big) = (0);
    for (split /\n/, $by) {
        my ($t, $rows) = split / /;
        $sum += $rows;
        push @big, "$t $rows" if $rows > 500;
    }
    return ($sum, join(', ', @big));
}

# The statistics spoilt again before each command (the one before may have
# mended them), after a VACUUM ANALYZE: pages, but no rows.
sub spoil {
    my ($env) = @_;
    $env->psql('VACUUM ANALYZE');
    spoil_stats($env);
}

# bbtoken @args on spoilt statistics reads fewer than $limit rows, and
# prints what $out_re matches.  A healthy plan reads each table once, or
# by key: a few rows for each of the site's; the loops such statistics set
# off read a table whole for each row of another (ten to a thousand times
# as many here, and growing with the square of the site).
sub reads_few {
    my ($env, $limit, $out_re, @args) = @_;
    spoil($env);
    # This session's own counts (the site's rows, made through the lookup
    # trigger) are written a second after its statements at the latest:
    # now, so that they are not counted after the reset.
    $env->psql('SELECT pg_stat_force_next_flush()');
    $env->psql('SELECT pg_stat_reset()');
    my ($rc, $out, $err) = $env->cli(@args);
    is($rc, 0, "bbtoken @args") or diag $err;
    like($out, $out_re, "bbtoken @args: its output");
    my ($read, $by) = rows_read($env);
    cmp_ok($read, '<', $limit, "bbtoken @args: $read rows read ($by)");
}

{
    my $n = 1200;
    my $env = site($n);
    my $rows = $env->psql('SELECT (SELECT count(*) FROM bbtoken_tokens) + (SELECT count(*) FROM bbtoken_users)');
    my $limit = 10 * $rows;
    $env->psql('ANALYZE');
    is($env->psql("SELECT count(*) FROM pg_class WHERE relname IN ('bbtoken_tokens', 'bbtoken_users')"
                  . " AND reltuples > 1000"), 2, 'the statistics know the rows');
    spoil($env);
    like($env->psql('EXPLAIN SELECT * FROM bbtoken_tokens'), qr/\brows=1\b/, 'spoilt: the planner reckons one row');

    my $live = $env->psql('SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL');
    reads_few($env, $limit, qr/\A(?:.*\n){$live}.*\n\z/, 'list', '--all');
    reads_few($env, $limit, qr/\A\[.*\]\s*\z/s, 'list', '--all', '--json');
    reads_few($env, $limit, qr/"key": *"P1"/, 'list', '--all', '--project', 'P1', '--json');
    reads_few($env, $limit, qr/^would revoke \d+ tokens$/m, 'list', '--all', '--never-used', '--revoke', '--dry-run');
    reads_few($env, $limit, qr/^revoked \d+ tokens$/m, 'list', '--all', '--project', 'P3', '--revoke');
    reads_few($env, $limit, qr/\(expired\)|\bexpired\b/, 'expiring');
    reads_few($env, $limit, qr/\A\[.*\]\s*\z/s, 'expiring', '--within', '30d', '--json');
    reads_few($env, $limit, qr/^bbtoken_lookup: \d+ tokens, 0 rows wrong; \d+ lookup triggers, 0 not firing always$/m,
              'db', 'check');

    # A hot standby refuses ANALYZE: the reports still run there, on the
    # primary's statistics.
    my $port = $env->pg_standby;
    ok($env->pg_standby_caught_up, 'the standby caught up');
    for my $args (['list', '--all'], ['expiring'], ['db', 'check']) {
        my ($rc, $out, $err) = $env->cli_raw('--db', "host=127.0.0.1 port=$port dbname=bbtoken user=postgres", @$args);
        is($rc, 0, "bbtoken @$args on a hot standby") or diag $err;
    }
    $env->pg_standby_stop;
}

{
    my $n = 2100;
    my $env = site($n);
    my $rows = $env->psql('SELECT (SELECT count(*) FROM bbtoken_tokens) + (SELECT count(*) FROM bbtoken_users)');
    my $dead = $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at < now() - interval '1 day'"
                          . " OR expires_at < now() - interval '1 day'");
    reads_few($env, 10 * $rows, qr/^purged $dead tokens$/m, 'purge', '--expired-before', '1d');
}

done_testing;
