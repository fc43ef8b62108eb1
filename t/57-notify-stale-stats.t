# bbtoken notify on statistics that call its tables empty: ANALYZE ran
# after every row was deleted and before VACUUM, so PostgreSQL reckons a
# table of many pages holds no rows however many come back, and plans
# nested loops that read a whole table again for each row of another (a
# CI run's notify sat 600 s on 2,500 tokens so).  notify brings stale
# statistics up to date first, and leaves fresh ones alone: counted in rows
# read and ANALYZEs run (PostgreSQL's own counters), not in time.
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
# policy revokes them (a revocation, and its notice, each).  Any site
# before it is cleared.
sub site {
    $env->psql("SET session_replication_role = replica; DELETE FROM bbtoken_notice_copies; "
               . "DELETE FROM bbtoken_notices; DELETE FROM bbtoken_audit; DELETE FROM bbtoken_lookup; "
               . "DELETE FROM bbtoken_tokens; DELETE FROM bbtoken_users");
    fill($N);
    $env->psql("SET session_replication_role = replica; "
               . "UPDATE bbtoken_tokens SET created_at = now() - interval '1 year', expires_at = NULL "
               . "WHERE right(id, 1)::int % 2 = 0; "
               . "INSERT INTO bbtoken_notices (token_id, kind, sent_at) "
               . "SELECT id, 'unused', now() - interval '8 days' FROM bbtoken_tokens WHERE expires_at IS NULL");
    # The rows changed are counted before ANALYZE, which sets their count
    # to none.
    ended();
    $env->psql('VACUUM ANALYZE');
}
$env->cli_ok('policy', '--revoke-unused-after', '90d');

# The tables a site's rows are in, and (for these) the statistics'
# reckoning of their rows, written.
my @tables = qw(bbtoken_tokens bbtoken_users bbtoken_notices);
sub reckon {
    my ($rows) = @_;
    $env->psql("UPDATE pg_class SET reltuples = $rows WHERE oid = '$_'::regclass") for @tables;
}

# Rows read from the tables notify joins, and their indexes, so far, by
# table, once every session but this one has ended, and this one's counts
# are written (a session writes them as it ends, or a second after a
# statement).  Not reset: that would reset the rows changed too.
my $joined = "relname IN ('bbtoken_tokens', 'bbtoken_notices', 'bbtoken_notice_copies', 'bbtoken_audit')";
sub ended {
    for (1 .. 300) {
        last unless $env->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bbtoken'");
        select undef, undef, undef, 0.1;
    }
    $env->psql('SELECT pg_stat_force_next_flush()');
    $env->psql('SELECT 1');
}
sub reads {
    ended();
    return { split /[|\n]/, $env->psql("SELECT relname, COALESCE(seq_tup_read, 0) + (SELECT COALESCE(sum(idx_tup_read), 0)"
                                       . " FROM pg_stat_user_indexes i WHERE i.relid = s.relid)"
                                       . " FROM pg_stat_user_tables s WHERE $joined") };
}

# Rows read since $before (reads), in all and by table.  Bounded by 4 *
# $N squared: where a table spans a few pages the planner may fairly read
# it whole for each of a few hundred rows, which costs up to $N squared a
# table here and stops with those pages; the loops that such statistics
# set off read a table whole for each row of a loop that itself runs for
# each row (over 10 million here, hours at a few thousand tokens).
sub read_since {
    my ($before) = @_;
    my $after = reads();
    my %d = map { $_ => $after->{$_} - ($before->{$_} // 0) } keys %$after;
    my $sum = 0;
    $sum += $_ for values %d;
    return ($sum, join(', ', map {"$_ $d{$_}"} sort keys %d));
}

# The site's tables ANALYZE has run on, as names and times.
sub analyzed {
    return $env->psql("SELECT string_agg(relname || ' ' || analyze_count, ',' ORDER BY relname)"
                      . " FROM pg_stat_user_tables WHERE relname IN ("
                      . join(', ', map {"'$_'"} @tables) . ")");
}

sub notify {
    my ($dir, @args) = @_;
    make_path($dir);
    return $env->cli_env({ BBT_MAILDIR => $dir }, '--db', $env->superuser_conninfo, 'notify', '--from',
                         'tokens@git.example.com', '--sendmail', $SENDMAIL, @args);
}

my $half = $N / 2;

# A dry run, then the run, each reading under 4 * $N squared rows.
sub runs_ok {
    my ($what) = @_;
    my $before = reads();
    my ($rc, $out, $err) = notify($env->dir . "/mail-dry-$what", '--dry-run');
    is($rc, 0, 'dry run') or diag $err;
    is(scalar(() = $out =~ /^would revoke \d+ of owner\d+ /mg), $half, 'would revoke each idle token');
    is(scalar(() = $out =~ /^would mail owner\d+ <\S+>: 1 notice$/mg), $N, 'would tell each expiry and revocation');
    my ($read, $by) = read_since($before);
    cmp_ok($read, '<', 4 * $N * $N, "dry run: $read rows read for $N tokens ($by)");

    $before = reads();
    ($rc, $out, $err) = notify($env->dir . "/mail-$what");
    is($rc, 0, 'the run') or diag $err;
    is(scalar(() = $out =~ /^revoked \d+ of owner\d+ /mg), $half, 'revokes each idle token');
    is(scalar(() = $out =~ /^mailed owner\d+ /mg), $N, 'mails each owner');
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE kind IN ('revoked', 'expires_7d')"), $N,
       'every notice recorded');
    ($read, $by) = read_since($before);
    cmp_ok($read, '<', 4 * $N * $N, "the run: $read rows read for $N tokens ($by)");
}

subtest 'statistics of no rows in many pages' => sub {
    # As ANALYZE leaves them when it runs after every row was deleted and
    # before VACUUM, which is how a CI run came by them: written here, so
    # that no dead rows are read besides.
    site();
    reckon(0);
    for my $t (@tables) {
        is($env->psql("SELECT reltuples = 0 AND relpages > 0 FROM pg_class WHERE oid = '$t'::regclass"), 't',
           "$t: the statistics say no rows in its pages");
    }
    like($env->psql('EXPLAIN SELECT * FROM bbtoken_tokens'), qr/\brows=1\b/, '... so the planner reckons one row');
    runs_ok('empty');
};

subtest 'statistics of a few rows, and many changed since' => sub {
    # As ANALYZE leaves them when it ran with 2 rows left, and the rest
    # came back since: autovacuum's rule calls them stale.
    site();
    reckon(2);
    $env->psql('SET session_replication_role = replica; UPDATE bbtoken_tokens SET name = name; '
               . 'UPDATE bbtoken_users SET email = email; UPDATE bbtoken_notices SET sent_at = sent_at');
    my $changed = '';
    for (1 .. 300) {
        $changed = $env->psql("SELECT min(n_mod_since_analyze) FROM pg_stat_user_tables WHERE relname IN ("
                              . join(', ', map {"'$_'"} @tables) . ")");
        last if $changed >= $half;
        select undef, undef, undef, 0.1;
    }
    cmp_ok($changed, '>=', $half, 'the statistics count the rows changed since');
    like($env->psql('EXPLAIN SELECT * FROM bbtoken_tokens'), qr/\brows=[1-9]\b/, '... and reckon a few rows');
    my %was = split /[ ,]/, analyzed();
    runs_ok('few');
    is(analyzed(), join(',', map {"$_ " . ($was{$_} + 1)} sort @tables), 'each of their tables analyzed once');
};

subtest 'fresh statistics: no ANALYZE' => sub {
    site();
    ended();
    my $before = analyzed();
    my ($rc, $out, $err) = notify($env->dir . '/mail-fresh', '--dry-run');
    is($rc, 0, 'dry run') or diag $err;
    ended();
    is(analyzed(), $before, "no table analyzed ($before)");
    # ... where stale ones are: the same run on the statistics of the
    # first subtest.
    reckon(0);
    ($rc, $out, $err) = notify($env->dir . '/mail-fresh', '--dry-run');
    is($rc, 0, 'dry run on stale statistics') or diag $err;
    ended();
    my %was = split /[ ,]/, $before;
    is(analyzed(), join(',', map {"$_ " . ($was{$_} + 1)} sort @tables), 'each of their tables analyzed once');
};

subtest 'a table locked by another: skipped, not waited for' => sub {
    # As autovacuum holds a table it vacuums: a lock ANALYZE's conflicts
    # with.
    site();
    reckon(0);
    ended();
    my %was = split /[ ,]/, analyzed();
    my $h = $env->pg_session('hold');
    $h->send('BEGIN; LOCK TABLE bbtoken_users IN SHARE UPDATE EXCLUSIVE MODE;');
    ok($h->done, 'another session holds the owners');
    my ($rc, $out, $err) = notify($env->dir . '/mail-locked', '--dry-run');
    is($rc, 0, 'dry run, not waiting') or diag $err;
    is($err, '', '... nothing on stderr (no warning of the table skipped)');
    ended();
    is(analyzed(), join(',', map {"$_ " . ($was{$_} + ($_ eq 'bbtoken_users' ? 0 : 1))} sort @tables),
       'the other tables analyzed, the owners not');
    $h->send('COMMIT;');
    ok($h->done, 'the owners released');
    $h->finish;
};

done_testing;
