# The reports that stream (audit, list --all, expiring) into a stdout that
# nobody reads (`bbtoken audit | less`, the pager left open) hold no
# transaction while their output waits.  They read their rows from a
# cursor in one read-only snapshot, and held that cursor's transaction
# open between batches: blocked in a write, the CLI's session sat "idle in
# transaction" with AccessShareLock on the tables it read, so a
# migration's ALTER TABLE waited behind it and every write queued behind
# that, and its snapshot held back vacuum.  Now the snapshot's rows are
# kept by the server (a cursor WITH HOLD) and its transaction is over
# before the first line is written.  The reader is a pipe that this test
# does not read until the CLI waits writing into it; the reports are many
# times the pipe's size, and each is still whole once read.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use BBT::Env;
use BBT::Util qw(slurp);

my $env = BBT::Env->new(httpd => 0)->start;
my $N = 2500;    # rows of each report: more than two batches

# ann's $N tokens, each expiring within the week (expiring's default);
# $N audit records of her tokens, old enough to come before any the CLI
# writes itself.  The triggers off, as bench/bigsite.sql loads its rows.
$env->user_add_bulk_tokens('ann', $N, 330000000000);
$env->psql("SET session_replication_role = replica;"
           . " UPDATE bbtoken_tokens SET expires_at = now() + interval '1 day' + id::bigint % 100000 * interval '1 s';"
           . " INSERT INTO bbtoken_audit (at, event, token_id, user_name, actor, db_role, source, detail)"
           . " SELECT now() - interval '1 day' + g * interval '1 ms', 'renamed', lpad((330000000000 + g)::text, 12, '0'),"
           . " 'ann', 'loader', 'postgres', 'sql', 'name ' || repeat('x', 60) || ' -> ' || g"
           . " FROM generate_series(1, $N) g");

# 1 once process $pid waits writing into a pipe (its wchan; where the
# kernel does not show it, once the pipe $r holds 64 KiB, its default
# size), polling for up to two minutes.
sub blocked_writing {
    my ($pid, $r) = @_;
    for (1 .. 2400) {
        my $wchan = eval { slurp("/proc/$pid/wchan") } // return 0;
        return 1 if $wchan =~ /pipe/;
        if ($wchan =~ /\A0?\z/) {
            my $n = pack('L', 0);
            # Linux's FIONREAD: what the pipe holds.
            return 1 if ioctl($r, 0x541B, $n) && unpack('L', $n) >= 65536;
        }
        select undef, undef, undef, 0.05;
    }
    return 0;
}

# What the report's backend (bbt-report) holds, from pg_stat_activity
# and pg_locks.
sub backend {
    my ($what) = @_;
    return $env->psql("SELECT $what FROM pg_stat_activity a WHERE application_name = 'bbt-report'",
                      db => 'postgres');
}

# bbtoken @args into a pipe that is read only once the CLI waits writing
# into it; what its session holds meanwhile; then its output, which must
# be what the same report gives read at once.
sub held {
    my ($tables, @args) = @_;
    my $want = $env->cli_ok(@args);
    cmp_ok(length $want, '>', 4 * 65536, "@args: many times a pipe's size");
    my $err_file = $env->dir . '/run/report.err';
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $r;
        open STDOUT, '>&', $w or POSIX::_exit(126);
        open STDERR, '>', $err_file or POSIX::_exit(126);
        %ENV = (%ENV, %{ $env->_cli_san_env }, PGAPPNAME => 'bbt-report');
        exec($env->cli_path, '--db', $env->superuser_conninfo, @args) or POSIX::_exit(127);
    }
    close $w;
    ok(blocked_writing($pid, $r), '  it waits, writing into the pipe');
    is(backend('state'), 'idle', '  its session is idle, in no transaction');
    is(backend('backend_xmin IS NULL'), 't', '  and holds no snapshot (none that holds back vacuum)');
    is(backend("(SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'relation')"), 0,
       '  and no lock on a table or an index');
    my ($rc, undef, $err) = $env->psql_try("BEGIN; LOCK TABLE $tables IN ACCESS EXCLUSIVE MODE NOWAIT; ROLLBACK");
    is($rc, 0, "  a migration's ALTER TABLE of $tables would not wait for it") or diag $err;
    my $out = do { local $/; <$r> };
    close $r;
    waitpid($pid, 0);
    is($? >> 8, 0, '  once read: exit 0') or diag slurp($err_file);
    is(slurp($err_file), '', '  nothing on stderr');
    ok($out eq $want, '  the whole report, as it is read at once')
        or diag length($out) . ' bytes, not ' . length($want);
}

held('bbtoken_audit', 'audit');
held('bbtoken_audit', 'audit', '--json');
held('bbtoken_tokens, bbtoken_users', 'list', '--all');
held('bbtoken_tokens, bbtoken_users', 'expiring', '--json');

done_testing;
