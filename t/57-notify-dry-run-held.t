# bbtoken notify --dry-run into a stdout that nobody reads (a pager left
# open: `notify --dry-run | less`) holds no transaction while its output
# waits: the dry run revokes the unused tokens due in a transaction it
# rolls back, holding their rows (FOR UPDATE) until then, and writes its
# lines only once that transaction is over.  So a revocation of one of
# those tokens, and the disabling of its owner, go through while the dry
# run waits for its reader.  The reader is a pipe of one page that this
# test does not read until the end: the dry run's output is many times
# that, so once it has written to the pipe it waits there, and the test
# looks at its session then.  Last use, creation and the warnings are
# faked with SQL, the triggers off.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use BBT::Env;
use BBT::Util qw(run_cmd slurp spew);

my $env = BBT::Env->new(httpd => 0)->start;
my $FROM = 'tokens@git.example.com';
my $OWNERS = 200;

# Linux's fcntl(2) commands for a pipe's size, which Fcntl does not export.
use constant { F_SETPIPE_SZ => 1031, F_GETPIPE_SZ => 1032 };
my $FIONREAD = eval { require 'sys/ioctl.ph'; FIONREAD() } // 0x541B;

# Owners owner1 .. owner$OWNERS, each with an address and a token idle for
# a year whose warning went out 8 days ago: with the policy's 30 days,
# each is due for revocation.  Made as bench/bigsite.sql makes its rows:
# the triggers off, which would refuse a creation in the past.  The
# policy first: setting it forgets the warnings before it.
$env->cli_ok('policy', '--revoke-unused-after', '30d');
$env->psql("SET session_replication_role = replica; "
           . "INSERT INTO bbtoken_users (name, active, email) "
           . "SELECT 'owner' || g, true, 'owner' || g || '\@example.com' FROM generate_series(1, $OWNERS) g; "
           . "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash, "
           . "created_at, expires_at) "
           . "SELECT lpad((200000000000 + g)::text, 12, '0'), u.id, 'ci', 'PROJECT_READ', 'REPO_READ', "
           . "md5('s' || g), md5('h' || g) || md5('k' || g), now() - interval '1 year', NULL "
           . "FROM generate_series(1, $OWNERS) g JOIN bbtoken_users u ON u.name = 'owner' || g; "
           . "INSERT INTO bbtoken_notices (token_id, kind, sent_at) "
           . "SELECT id, 'unused', now() - interval '8 days' FROM bbtoken_tokens");
my $revoked = '200000000001';    # owner1's
my $disabled = 'owner2';

# A pipe that nobody reads, of one page.
pipe(my $r, my $w) or die "pipe: $!";
fcntl($w, F_SETPIPE_SZ, 4096);
my $cap = fcntl($w, F_GETPIPE_SZ, 0) or die "F_GETPIPE_SZ: $!";

# The dry run, its stdout that pipe, its backend bbt-dry.
my $err_file = $env->dir . '/run/dry.err';
my $dry = fork // die "fork: $!";
if (!$dry) {
    close $r;
    open STDOUT, '>&', $w or POSIX::_exit(126);
    open STDERR, '>', $err_file or POSIX::_exit(126);
    %ENV = (%ENV, %{ $env->_cli_san_env }, PGAPPNAME => 'bbt-dry');
    exec($env->cli_path, '--db', $env->superuser_conninfo, 'notify', '--dry-run', '--from', $FROM) or POSIX::_exit(127);
}
close $w;

# Bytes waiting in the pipe.
sub unread {
    my $n = pack 'i', 0;
    ioctl($r, $FIONREAD, $n) or die "FIONREAD: $!";
    return unpack 'i', $n;
}

# Wait (up to a minute, polling) until $cond holds: 1, or 0.
sub until_true {
    my ($cond) = @_;
    for (1 .. 1200) {
        return 1 if $cond->();
        select undef, undef, undef, 0.05;
    }
    return 0;
}

# The dry run's backend's state ('' once it has none).
sub dry_state {
    return $env->psql("SELECT COALESCE(max(state), '') FROM pg_stat_activity WHERE application_name = 'bbt-dry'",
                      db => 'postgres');
}

# Its first write: the rest (many times the pipe's size) waits for the
# reader.
ok(until_true(sub { unread() > 0 }), "the dry run wrote to the pipe ($cap bytes): it waits for its reader");
# Blocked in a write, or between statements: not running one.
ok(until_true(sub { dry_state() ne 'active' }), '  its backend not running a statement');
isnt(dry_state(), 'idle in transaction', '  its session is not in a transaction');
is($env->psql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
              . " WHERE a.application_name = 'bbt-dry' AND l.locktype = 'transactionid'"),
   0, '  and holds no transaction\'s lock (no row)');

# bbtoken @args in the background, its backend bbt-$app: whether it ended
# before its backend waited for a lock (a wait is seen as it starts), and
# a function that waits for it (one held ends once the dry run's reader
# reads) and returns (exit code, stderr).
sub not_held {
    my ($app, @args) = @_;
    my $f = $env->dir . "/run/held-$app";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my ($rc, $out, $err) = $env->cli_env({ PGAPPNAME => "bbt-$app" }, '--db', $env->superuser_conninfo, @args);
        spew($f, "$rc\n$err");
        POSIX::_exit(0);
    }
    my $ended;
    until_true(sub {
        $ended = waitpid($pid, POSIX::WNOHANG()) == $pid;
        return $ended || $env->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bbt-$app'"
                                    . " AND wait_event_type = 'Lock'", db => 'postgres');
    });
    return ($ended, sub {
        waitpid($pid, 0) unless $ended;
        return split /\n/, slurp($f), 2;
    });
}

my ($ended, $revoke) = not_held('revoke', 'revoke', $revoked);
ok($ended, "bbtoken revoke of a token the dry run revoked ($revoked): not held");
($ended, my $disable) = not_held('disable', 'user', 'disable', $disabled);
ok($ended, "bbtoken user disable of such a token's owner ($disabled): not held");

# The reader reads.
my $out = do { local $/; <$r> };
close $r;
waitpid($dry, 0);
is($? >> 8, 0, 'the dry run, once read: exit 0') or diag slurp($err_file);
cmp_ok(length $out, '>', 4 * $cap, '  its output many times the pipe\'s size: it waited');
is(scalar(() = $out =~ /^would revoke \d{12} of owner\d+ \("ci"\): unused since \S+Z$/mg), $OWNERS,
   '  every token due, would revoke');
is(scalar(() = $out =~ /^would mail owner\d+ <owner\d+\@example\.com>: 1 notice$/mg), $OWNERS,
   '  every owner\'s message');

my ($rc, $err) = $revoke->();
is($rc, 0, 'the revocation: exit 0') or diag $err;
($rc, $err) = $disable->();
is($rc, 0, 'the disabling: exit 0') or diag $err;
is($env->psql("SELECT string_agg(id, ',') FROM bbtoken_tokens WHERE revoked_at IS NOT NULL"), $revoked,
   'the revocation made, the dry run\'s rolled back');
is($env->psql("SELECT active FROM bbtoken_users WHERE name = '$disabled'"), 'f', 'the owner disabled');

# Where the output cannot go: said, exit 1, nothing changed.
my @dry = ($env->cli_path, '--db', $env->superuser_conninfo, 'notify', '--dry-run', '--from', $FROM);
my $live = "SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL";
my $before = $env->psql($live);
($rc, undef, $err) = run_cmd(cmd => ['sh', '-c', 'exec "$@" >/dev/full', 'sh', @dry], tmp => $env->dir . '/run',
                             timeout => 60, env => $env->_cli_san_env);
is($rc, 1, 'stdout a full disk: exit 1');
is($err, "bbtoken: cannot write to stdout: No space left on device\n", '  saying why');
# Descriptors 0 to 2 and the database's socket: none left for the file.
($rc, my $out2, $err) = run_cmd(cmd => ['sh', '-c', 'ulimit -n 4 && exec "$@"', 'sh', @dry], tmp => $env->dir . '/run',
                                timeout => 60, env => $env->_cli_san_env);
is($rc, 1, 'no temporary file to be had: exit 1');
like($err, qr/\Abbtoken: notify --dry-run: cannot make a temporary file for its output: Too many open files\n\z/,
     '  saying why');
is($out2, '', '  nothing shown');
is($env->psql($live), $before, 'neither revoked anything');

done_testing;
