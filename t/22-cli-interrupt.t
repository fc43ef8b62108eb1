# The CLI interrupted (SIGINT, SIGTERM) during a command of many
# transactions.  Nothing caught the signals: `revoke --user` ended mute
# (a shell's 130, stdout and stderr empty) with the batches it had
# committed revoked and audited, and `list --all --revoke` interrupted
# while a batch's COMMIT waited printed its header alone, though that
# batch was revoked.  Now the statement running is cancelled, a COMMIT
# is let finish (a second signal cancels its wait for the standby, which
# is then said), no further statement is sent, and the one line on
# stderr says what the command's transactions did before, as a failure's
# does; then the CLI ends by the signal.  db upgrade and notify stop so
# too, and a command of one transaction says that nothing was changed.
#
# A second signal only cancelled again, or was held back: the CLI could
# not be stopped but by SIGKILL when it waited for a reader of its output
# (`list --all` into a pipe nobody reads), for a backend that did not
# answer the cancel (stopped), or in PQcancel itself, for a postmaster
# that did not answer (its handler blocked the signals).  Now a second
# signal ends it at once, whatever it waits for.  notify went on mailing
# the next owners after an interrupt while its mailer hung (mailed, not
# recorded: mailed again by the next run); now it stops the mailer and
# mails nobody else.  And a statement the CLI sent without
# bbtoken_exec_once went out after the interrupt: a new token's row
# (printed, then said not valid), a COMMIT, a migration's script; now no
# statement is sent after it (t/dso/pqhold.c holds the CLI between two).
#
# And a bulk revocation whose summary alone could not be written (stdout
# /dev/full) said "(running the command again revokes the rest)" with
# every token revoked; purge the same.  Now no rest is promised after
# the last batch.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(sleep);
use BBT::Env;
use BBT::Migrations qw(db_at);
use BBT::Util qw(slurp run_cmd);

my $env = BBT::Env->new(httpd => 0)->start;
my $RUN = $env->dir . '/run';

sub audited {
    my ($who) = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_audit a JOIN bbtoken_tokens t ON t.id = a.token_id"
                    . " JOIN bbtoken_users u ON u.id = t.user_id"
                    . " WHERE u.name = '$who' AND a.event = 'revoked' AND a.source = 'cli'");
}

# A session of our own holding the row of token $id.
sub hold {
    my ($id) = @_;
    my $h = $env->pg_session("hold-$id");
    $h->send("BEGIN; SELECT id FROM bbtoken_tokens WHERE id = '$id' FOR UPDATE;");
    ok($h->done, "another session holds token $id") or diag $h->out;
    return $h;
}

sub let_go {
    my ($h) = @_;
    $h->send('ROLLBACK;');
    $h->done;
    $h->finish;
}

# bbtoken @args (--db <superuser conninfo> first unless they give one)
# started with %$e in its environment, its backend named bbt-$app: its
# pid, and a function that waits for it and returns (its exit status as
# a shell shows it, 128 + N for signal N; stdout; stderr).  $e->{-stdout},
# a handle: its stdout instead of a file (stdout is then '').
sub start {
    my ($app, $e, @args) = @_;
    my ($out, $err) = ("$RUN/int-$app.out", "$RUN/int-$app.err");
    my %e = %$e;
    my $to = delete $e{-stdout};
    unshift @args, '--db', $env->superuser_conninfo unless $args[0] eq '--db';
    BBT::Env::spew($out, '');
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        %ENV = (%ENV, %{ $env->_cli_san_env }, %e, PGAPPNAME => "bbt-$app");
        open STDIN, '<', '/dev/null' or POSIX::_exit(126);
        ($to ? open(STDOUT, '>&', $to) : open(STDOUT, '>', $out)) or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        exec $env->cli_path, @args or POSIX::_exit(127);
    }
    return ($pid, sub {
        my $st;
        for (1 .. 2400) {
            last if waitpid($pid, POSIX::WNOHANG()) == $pid && defined($st = $?);
            sleep 0.05;
        }
        if (!defined $st) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            $st = $?;
            diag "bbtoken @args: still running after two minutes, killed";
        }
        return (($st & 127) ? 128 + ($st & 127) : $st >> 8, slurp($out), slurp($err));
    });
}

# Send signal $sig to $pid, and wait until the process has taken it (it
# is no longer pending), or is gone.
sub signal {
    my ($sig, $pid) = @_;
    my $bit = 1 << ({ INT => 2, TERM => 15 }->{$sig} - 1);
    kill $sig, $pid or die "kill $sig $pid: $!";
    for (1 .. 1200) {
        my $status = eval { slurp("/proc/$pid/status") } // return;
        my %pend = $status =~ /^(SigPnd|ShdPnd):\s*([0-9a-f]+)$/mg;
        return unless grep { hex($_) & $bit } values %pend;
        sleep 0.05;
    }
}

subtest 'revoke --user: SIGINT while its second batch waits' => sub {
    $env->user_add_bulk_tokens('ivan', 2500, 710000000000);
    my $h = hold('710000001500');
    my ($pid, $wait) = start('revoke-int', {}, 'revoke', '--user', 'ivan');
    ok($env->pg_wait_backend('bbt-revoke-int', "wait_event_type = 'Lock'"),
       'its second batch waits for the token, the first committed');
    signal('INT', $pid);
    my ($rc, $out, $err) = $wait->();
    let_go($h);
    is($rc, 130, 'ended by SIGINT (130)') or diag $err;
    is($out, '', 'stdout: no summary');
    like($err, qr/\Abbtoken: revoking the tokens: not done: interrupted by SIGINT, so that transaction changed nothing, but 1000 tokens of ivan were revoked before it \(running the command again revokes the rest\)\n\z/,
         'stderr, one line: the batch under way cancelled, the 1000 before it revoked') or diag $err;
    is($env->user_live_tokens('ivan'), 1500, 'in the database: the 1000 it says revoked');
    is(audited('ivan'), 1000, '  and audited');
    $env->cli_is('run again', ['revoke', '--user', 'ivan'], 0, stdout => qr/\Arevoked 1500 tokens of ivan\n\z/);
    is($env->user_live_tokens('ivan'), 0, '  none left');
};

subtest 'list --all --revoke: SIGTERM while a batch\'s COMMIT waits for the standby' => sub {
    $env->user_add_bulk_tokens('tess', 2500, 720000000000);
    my $h = hold('720000000500');
    my ($pid, $wait) = start('list-term', {}, 'list', '--all', '--owner', 'tess', '--revoke');
    ok($env->pg_wait_backend('bbt-list-term', "wait_event_type = 'Lock'"), 'its first batch waits for the token');
    $env->pg_syncrep(1);
    let_go($h);
    ok($env->pg_wait_backend('bbt-list-term', "wait_event = 'SyncRep' AND query = 'COMMIT'"),
       'its COMMIT waits for the synchronous standby');
    signal('TERM', $pid);
    $env->pg_syncrep(0);
    my ($rc, $out, $err) = $wait->();
    is($rc, 143, 'ended by SIGTERM (143)') or diag $err;
    like($out, qr/\AID /, 'stdout: the header');
    is(scalar(() = $out =~ /\btess \d+\b/g), 1000, '  and the batch whose COMMIT was let finish');
    unlike($out, qr/^revoked \d/m, '  no summary');
    like($err, qr/\Abbtoken: listing tokens: not done: interrupted by SIGTERM, so that transaction changed nothing, but the 1000 tokens listed above were revoked before it \(running the command again revokes the rest\)\n\z/,
         'stderr, one line: those listed were revoked, the rest for a run again') or diag $err;
    is($env->user_live_tokens('tess'), 1500, 'in the database: the 1000 listed revoked');
    is(audited('tess'), 1000, '  and audited');
};

# Whether backend(s) named bbt-$app are gone, polling for up to a minute.
sub backend_gone {
    my ($app) = @_;
    for (1 .. 1200) {
        return 1 if $env->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bbt-$app'",
                               db => 'postgres') == 0;
        sleep 0.05;
    }
    return 0;
}

subtest 'revoke --user: a second SIGINT ends it at once, during a COMMIT too' => sub {
    $env->user_add_bulk_tokens('ines', 1500, 730000000000);
    $env->pg_syncrep(1);
    my ($pid, $wait) = start('revoke-twice', {}, 'revoke', '--user', 'ines');
    ok($env->pg_wait_backend('bbt-revoke-twice', "wait_event = 'SyncRep' AND query = 'COMMIT'"),
       'its first COMMIT waits for the synchronous standby');
    signal('INT', $pid);
    signal('INT', $pid);
    my ($rc, $out, $err) = $wait->();
    $env->pg_syncrep(0);
    is($rc, 130, 'ended by SIGINT (130)') or diag $err;
    is($out, '', 'stdout: nothing');
    is($err, '', 'stderr: nothing, ended at once');
    ok(backend_gone('revoke-twice'), 'its backend, its COMMIT let go by the standby, is gone');
    is($env->user_live_tokens('ines'), 500, 'in the database: the batch whose COMMIT it sent revoked');
};

subtest 'revoke ID: SIGINT while it waits: nothing changed' => sub {
    $env->user_add_bulk_tokens('ida', 1, 740000000000);
    my $h = hold('740000000001');
    my ($pid, $wait) = start('revoke-one', {}, 'revoke', '740000000001');
    ok($env->pg_wait_backend('bbt-revoke-one', "wait_event_type = 'Lock'"), 'it waits for the token');
    signal('INT', $pid);
    my ($rc, $out, $err) = $wait->();
    let_go($h);
    is($rc, 130, 'ended by SIGINT (130)') or diag $err;
    is($out, '', 'stdout: nothing');
    like($err, qr/\Abbtoken: revoking the token: not done: interrupted by SIGINT, so nothing was changed \(safe to run again\)\n\z/,
         'stderr, one line: nothing changed') or diag $err;
    is($env->user_live_tokens('ida'), 1, 'in the database: the token live');
};

# The other commands of many transactions stop so too.
subtest 'db upgrade: SIGINT while its second migration waits' => sub {
    db_at($env, 'interrupted', 59);
    my $h = $env->pg_session('policy');
    $h->send("\\c interrupted");
    $h->send('BEGIN; LOCK TABLE bbtoken_policy IN ROW EXCLUSIVE MODE;');
    ok($h->done, 'another session holds bbtoken_policy') or diag $h->out;
    my ($pid, $wait) = start('upgrade-int', {}, '--db', $env->superuser_conninfo('interrupted'), 'db', 'upgrade');
    ok($env->pg_wait_backend('bbt-upgrade-int', "wait_event_type = 'Lock'"), 'its second migration waits');
    signal('INT', $pid);
    my ($rc, $out, $err) = $wait->();
    let_go($h);
    is($rc, 130, 'ended by SIGINT (130)') or diag $err;
    is($out, "applied 0060_schema_one_row\n", 'stdout: the first applied');
    like($err, qr/\Abbtoken: applying migration 0061_max_expiry_applies: not done: interrupted by SIGINT, so that transaction changed nothing, but the migration listed above as applied was committed before it \(running db upgrade again applies the rest\)\n\z/,
         'stderr, one line: the migration applied') or diag $err;
    is($env->psql('SELECT max(version) FROM bbtoken_schema', db => 'interrupted'), 60, 'in the database: version 60');
};

subtest 'notify: SIGTERM while it records a message mailed' => sub {
    $env->user_add('nell', '--email', 'nell@example.com');
    $env->cli_ok('create', 'nell', '--name', 'old');
    my $id = $env->psql("SELECT t.id FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                      . " WHERE u.name = 'nell' AND t.name = 'old'");
    $env->cli_ok('revoke', $id);
    my $md = "$RUN/mail-nell";
    make_path($md);
    my $h = $env->pg_session('copies');
    $h->send('BEGIN; LOCK TABLE bbtoken_notice_copies IN EXCLUSIVE MODE;');
    ok($h->done, 'another session holds bbtoken_notice_copies') or diag $h->out;
    my ($pid, $wait) = start('notify-term', { BBT_MAILDIR => $md }, 'notify', '--from', 'bbtoken@example.com',
                             '--sendmail', "$BBT::Env::ROOT/t/mail/sendmail");
    ok($env->pg_wait_backend('bbt-notify-term', "wait_event_type = 'Lock'"), 'its record waits');
    signal('TERM', $pid);
    my ($rc, $out, $err) = $wait->();
    let_go($h);
    is($rc, 143, 'ended by SIGTERM (143)') or diag $err;
    like($out, qr/^mailed nell <nell\@example\.com>: 1 notice\n\z/m, 'stdout: nell mailed, last');
    like($err, qr/\Abbtoken: recording the notices: not done: interrupted by SIGTERM, so that transaction changed nothing, but the message to nell <nell\@example\.com> listed above was mailed before it, and without that transaction's record the next run mails it again\n\z/,
         'stderr, one line: mailed, not recorded') or diag $err;
    is(scalar(() = glob("$md/*.eml")), 1, 'nell was mailed');
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$id' AND kind = 'revoked'"), 0,
       'in the database: not recorded');
};

# 1 once process $pid waits writing into a pipe (its wchan; where the
# kernel does not show it, once the pipe $r is full), polling for up to
# a minute.
sub blocked_writing {
    my ($pid, $r) = @_;
    for (1 .. 1200) {
        my $wchan = eval { slurp("/proc/$pid/wchan") } // return 0;
        return 1 if $wchan =~ /pipe/;
        if ($wchan =~ /\A0?\z/) {
            my $n = pack('L', 0);
            # Linux's FIONREAD: what the pipe holds.
            return 1 if ioctl($r, 0x541B, $n) && unpack('L', $n) >= 65536;
        }
        sleep 0.05;
    }
    return 0;
}

subtest 'list --all: into a pipe nobody reads, a second SIGTERM ends it' => sub {
    $env->user_add_bulk_tokens('lena', 3000, 780000000000);
    pipe(my $r, my $w) or die "pipe: $!";
    my ($pid, $wait) = start('list-pipe', { -stdout => $w }, 'list', '--all', '--owner', 'lena');
    close $w;
    ok(blocked_writing($pid, $r), 'it waits, writing into the pipe');
    signal('TERM', $pid);
    ok(blocked_writing($pid, $r), 'the first SIGTERM taken, it still waits for its reader');
    signal('TERM', $pid);
    my ($rc, $out, $err) = $wait->();
    close $r;
    is($rc, 143, 'the second SIGTERM ends it (143)') or diag $err;
    is($err, '', '  at once, saying nothing');
};

# A session's backend stopped (SIGSTOP), let go (SIGCONT) when this goes.
package BBT::Test::Stopped {
    sub new { my ($c, $pid) = @_; kill('STOP', $pid) or die "kill STOP $pid: $!"; bless \$pid, $c }
    sub DESTROY { kill 'CONT', ${ $_[0] } }
}

subtest 'revoke ID: its backend stopped, a second SIGINT ends it' => sub {
    $env->user_add_bulk_tokens('bea', 1, 790000000000);
    my $h = hold('790000000001');
    my ($pid, $wait) = start('revoke-stop', {}, 'revoke', '790000000001');
    ok($env->pg_wait_backend('bbt-revoke-stop', "wait_event_type = 'Lock'"), 'it waits for the token');
    my $bpid = $env->psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'bbt-revoke-stop'",
                          db => 'postgres');
    my ($rc, $out, $err);
    {
        my $stopped = BBT::Test::Stopped->new($bpid);
        signal('INT', $pid);
        signal('INT', $pid);
        ($rc, $out, $err) = $wait->();
    }
    let_go($h);
    is($rc, 130, 'ended by SIGINT (130): the cancel its backend did not answer not waited for') or diag $err;
    is($out, '', 'stdout: nothing');
    is($err, '', 'stderr: nothing, ended at once');
    is($env->user_live_tokens('bea'), 1, 'in the database: the token live');
};

subtest 'revoke ID: the postmaster stopped, a second SIGINT ends it in PQcancel' => sub {
    $env->user_add_bulk_tokens('pia', 1, 800000000000);
    my $h = hold('800000000001');
    my ($pid, $wait) = start('revoke-pm', {}, 'revoke', '800000000001');
    ok($env->pg_wait_backend('bbt-revoke-pm', "wait_event_type = 'Lock'"), 'it waits for the token');
    my ($pm) = slurp("$env->{pgdata}/postmaster.pid") =~ /\A(\d+)/;
    my ($rc, $out, $err);
    {
        # The first SIGINT's cancel request waits for the postmaster's
        # answer, which does not come.
        my $stopped = BBT::Test::Stopped->new($pm);
        signal('INT', $pid);
        signal('INT', $pid);
        ($rc, $out, $err) = $wait->();
    }
    let_go($h);
    is($rc, 130, 'ended by SIGINT (130)') or diag $err;
    is($err, '', 'stderr: nothing, ended at once');
    is($env->user_live_tokens('pia'), 1, 'in the database: the token live');
};

subtest 'notify: SIGINT while the mailer hangs: nobody else is mailed' => sub {
    my $md = "$RUN/mail-settle";
    make_path($md);
    my ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $md }, '--db', $env->superuser_conninfo, 'notify',
                                         '--from', 'bbtoken@example.com', '--sendmail', "$BBT::Env::ROOT/t/mail/sendmail");
    is($rc, 0, 'the notices due so far sent and settled') or diag $err;
    for my $who (qw(amy bert cleo)) {
        $env->user_add($who, '--email', "$who\@example.com");
        my (undef, $id) = $env->token_create($who, name => 'gone');
        $env->cli_ok('revoke', $id);
    }
    # Each call's recipient appended to $BBT_CALLS; the first call, once it
    # has the message, waits for good (its pid in $BBT_HUNG).
    my ($calls, $hung, $mailer) = ("$RUN/hang-calls", "$RUN/hang-pid", "$RUN/hang-first-sendmail");
    BBT::Env::spew($mailer, <<'EOS', 0755);
#!/usr/bin/perl
use Fcntl qw(O_WRONLY O_CREAT O_EXCL);
my $msg = do { local $/; <STDIN> };
my ($to) = $msg =~ /^To: (.*)$/m;
open my $c, '>>', $ENV{BBT_CALLS} or die "$ENV{BBT_CALLS}: $!";
print $c "$to\n";
close $c;
if (sysopen my $f, "$ENV{BBT_HUNG}.first", O_WRONLY | O_CREAT | O_EXCL) {
    open my $p, '>', "$ENV{BBT_HUNG}.tmp" or die;
    print $p "$$\n";
    close $p;
    rename "$ENV{BBT_HUNG}.tmp", $ENV{BBT_HUNG} or die;
    sleep 1 while 1;
}
exit 0;
EOS
    my ($pid, $wait) = start('notify-hang', { BBT_CALLS => $calls, BBT_HUNG => $hung }, 'notify',
                             '--from', 'bbtoken@example.com', '--sendmail', $mailer, '--sendmail-timeout', '30');
    my $mpid;
    for (1 .. 1200) {
        last if -e $hung && ($mpid = slurp($hung) =~ s/\s+//gr);
        sleep 0.05;
    }
    ok($mpid, 'the mailer has the first message, and waits') or diag slurp("$RUN/int-notify-hang.err");
    signal('INT', $pid);
    ($rc, $out, $err) = $wait->();
    is($rc, 130, 'ended by SIGINT (130)') or diag $err;
    is(slurp($calls), "amy\@example.com\n", 'the mailer was run once: nobody after amy was mailed');
    unlike($out, qr/^mailed /m, 'stdout: nobody mailed');
    like($err, qr/\Abbtoken: mailing amy <amy\@example\.com>: not done: interrupted by SIGINT, so that message was not mailed and nothing was changed \(safe to run again\)\n\z/,
         'stderr, one line: that message not mailed') or diag $err;
    ok($mpid && !kill(0, $mpid), '  the mailer stopped') or diag "mailer $mpid";
    $md = "$RUN/mail-after";
    make_path($md);
    ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $md }, '--db', $env->superuser_conninfo, 'notify',
                                      '--from', 'bbtoken@example.com', '--sendmail', "$BBT::Env::ROOT/t/mail/sendmail");
    is($rc, 0, 'run again') or diag $err;
    like($out, qr/\Amailed amy \S+: 1 notice\nmailed bert \S+: 1 notice\nmailed cleo \S+: 1 notice\n\z/,
         '  it mails the three, once each') or diag $out;
};

# The CLI held (t/dso/pqhold.c) after the statement holding $after and
# $later more, SIGINT sent, and let go: ($rc, $out, $err, the statements
# it sent after).
my $PQHOLD;
sub held_int {
    my ($app, $after, $later, @args) = @_;
    if (!$PQHOLD) {
        $PQHOLD = tempdir('bbt-pqhold-XXXXXX', TMPDIR => 1, CLEANUP => 1) . '/pqhold.so';
        my ($rc, $out, $err) = run_cmd(cmd => ['cc', '-shared', '-fPIC', '-O2', '-o', $PQHOLD,
                                               "$BBT::Env::ROOT/t/dso/pqhold.c", '-ldl']);
        die "cc pqhold.c: $out$err" if $rc;
    }
    my ($mark, $gate, $log) = map {"$RUN/pqhold-$app.$_"} qw(mark gate log);
    unlink $mark, $gate, $log;
    my ($pid, $wait) = start($app, { LD_PRELOAD => $PQHOLD, BBT_PQHOLD_AFTER => $after, BBT_PQHOLD_LATER => $later,
                                     BBT_PQHOLD_MARK => $mark, BBT_PQHOLD_GATE => $gate, BBT_PQHOLD_LOG => $log },
                             @args);
    for (1 .. 1200) {
        last if -e $mark || waitpid($pid, POSIX::WNOHANG()) != 0;
        sleep 0.05;
    }
    ok(-e $mark, "held after the statement holding \"$after\"" . ($later ? " and $later more" : ''));
    signal('INT', $pid);
    BBT::Env::spew($gate, '');
    my ($rc, $out, $err) = $wait->();
    return ($rc, $out, $err, -e $log ? slurp($log) : '');
}

sub tokens_of {
    my ($who) = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                    . " WHERE u.name = '$who'");
}

SKIP: {
    skip 'LD_PRELOAD beside the sanitizers', 3 if $ENV{BBT_SANITIZE};

    subtest 'create: SIGINT before its token\'s row is sent' => sub {
        $env->user_add('tim');
        my ($rc, $out, $err, $sent) = held_int('create-store', "set_config('lock_timeout'", 0,
                                               'create', 'tim', '--name', 'held');
        is($rc, 130, 'ended by SIGINT (130)') or diag $err;
        is($out, '', 'stdout: no token');
        like($err, qr/\Abbtoken: creating the token: not done: interrupted by SIGINT, so nothing was changed \(safe to run again\)\n\z/,
             'stderr, one line: nothing changed') or diag $err;
        is($sent, '', 'no statement sent after the signal') or diag $sent;
        is(tokens_of('tim'), 0, 'in the database: no token');
    };

    subtest 'create: SIGINT once its token is printed, before the COMMIT' => sub {
        $env->user_add('tom');
        my ($rc, $out, $err, $sent) = held_int('create-commit', 'pg_current_xact_id_if_assigned', 0,
                                               'create', 'tom', '--name', 'held');
        is($rc, 130, 'ended by SIGINT (130)') or diag $err;
        like($out, qr/\A\S+\n\z/, 'stdout: the token');
        like($err, qr/\Abbtoken: committing the token \(the token printed is not valid\): not done: interrupted by SIGINT, so nothing was changed \(safe to run again\)\n\z/,
             'stderr, one line: the token printed is not valid') or diag $err;
        is($sent, '', 'no statement sent after the signal, no COMMIT') or diag $sent;
        is(tokens_of('tom'), 0, 'in the database: no token');
    };

    subtest 'db upgrade: SIGINT before a migration\'s script' => sub {
        db_at($env, 'held', 59);
        my ($rc, $out, $err, $sent) = held_int('upgrade-held', 'LOCK TABLE bbtoken_schema', 2,
                                               '--db', $env->superuser_conninfo('held'), 'db', 'upgrade');
        is($rc, 130, 'ended by SIGINT (130)') or diag $err;
        is($out, '', 'stdout: nothing applied');
        like($err, qr/\Abbtoken: applying migration 0060_schema_one_row: not done: interrupted by SIGINT, so nothing was changed \(safe to run again\)\n\z/,
             'stderr, one line: nothing changed') or diag $err;
        is($sent, '', 'no statement sent after the signal: not its script') or diag $sent;
        is($env->psql('SELECT max(version) FROM bbtoken_schema', db => 'held'), 59, 'in the database: version 59');
    };
}

# bbtoken @args with stdout /dev/full: (exit code, stderr).
sub full {
    local $env->{cli_timeout} = 120;
    my ($rc, undef, $err) = $env->cli_to_full(@_);
    return ($rc, $err);
}

SKIP: {
    skip 'no /dev/full', 3 unless -c '/dev/full';

    subtest 'revoke --user: its summary alone not written' => sub {
        $env->user_add_bulk_tokens('sam', 5, 750000000000);
        my ($rc, $err) = full('revoke', '--user', 'sam');
        is($rc, 1, 'exit 1') or diag $err;
        like($err, qr/\Abbtoken: cannot write to stdout(?:: [^;\n]*)?; but all 5 tokens of sam were revoked: none is left to revoke\n\z/,
             'stderr, one line: every token revoked, no rest promised') or diag $err;
        unlike($err, qr/revokes the rest/, '  not "revokes the rest"');
        is($env->user_live_tokens('sam'), 0, 'in the database: all revoked');
    };

    subtest 'list --all --revoke --json: its listing not written' => sub {
        $env->user_add_bulk_tokens('sue', 5, 760000000000);
        my ($rc, $err) = full('list', '--all', '--owner', 'sue', '--revoke', '--json');
        is($rc, 1, 'exit 1') or diag $err;
        like($err, qr/\Abbtoken: listing tokens: cannot write to stdout(?:: [^;\n]*)?; but 5 tokens were revoked before it, the last batch's too, not all of them listed\n\z/,
             'stderr, one line: the last batch revoked, not listed, no rest promised') or diag $err;
        unlike($err, qr/revokes the rest/, '  not "revokes the rest"');
        is($env->user_live_tokens('sue'), 0, 'in the database: all revoked');
    };

    subtest 'purge: its lines not written' => sub {
        $env->user_add_bulk_tokens('pam', 3, 770000000000);
        $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens"
                 . " SET revoked_at = now() - interval '10 days' WHERE id LIKE '7700000000%'");
        my ($rc, $err) = full('purge', '--expired-before', '1d');
        is($rc, 1, 'exit 1') or diag $err;
        like($err, qr/\Abbtoken: cannot write to stdout(?:: [^;\n]*)?; but 3 tokens were purged: none is left to purge\n\z/,
             'stderr, one line: the tokens purged, no rest promised') or diag $err;
        is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id LIKE '7700000000%'"), 0,
           'in the database: purged');
    };
}

is($env->psql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names is reset');
done_testing;
