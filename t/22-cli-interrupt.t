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
use POSIX ();
use Time::HiRes qw(sleep);
use BBT::Env;
use BBT::Migrations qw(db_at);
use BBT::Util qw(slurp);

my $env = BBT::Env->new(httpd => 0)->start;
my $RUN = $env->dir . '/run';

# $n tokens of user $who, ids from $base + 1, made by one INSERT with the
# ordinary triggers off (the limit on live tokens would refuse them).
sub add_tokens {
    my ($who, $n, $base) = @_;
    $env->user_add($who);
    $env->psql("SET session_replication_role = replica;"
             . " INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
             . " SELECT lpad(($base + g)::text, 12, '0'), u.id, '$who ' || g, 'PROJECT_READ', 'REPO_READ',"
             . " md5('s' || g), md5('h' || g) || md5('k' || g)"
             . " FROM generate_series(1, $n) g, bbtoken_users u WHERE u.name = '$who'");
}

sub live {
    my ($who) = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                    . " WHERE u.name = '$who' AND t.revoked_at IS NULL");
}

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
# a shell shows it, 128 + N for signal N; stdout; stderr).
sub start {
    my ($app, $e, @args) = @_;
    my ($out, $err) = ("$RUN/int-$app.out", "$RUN/int-$app.err");
    unshift @args, '--db', $env->superuser_conninfo unless $args[0] eq '--db';
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        %ENV = (%ENV, %{ $env->_cli_san_env }, %$e, PGAPPNAME => "bbt-$app");
        open STDIN, '<', '/dev/null' or POSIX::_exit(126);
        open STDOUT, '>', $out or POSIX::_exit(126);
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
    add_tokens('ivan', 2500, 710000000000);
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
    is(live('ivan'), 1500, 'in the database: the 1000 it says revoked');
    is(audited('ivan'), 1000, '  and audited');
    $env->cli_is('run again', ['revoke', '--user', 'ivan'], 0, stdout => qr/\Arevoked 1500 tokens of ivan\n\z/);
    is(live('ivan'), 0, '  none left');
};

subtest 'list --all --revoke: SIGTERM while a batch\'s COMMIT waits for the standby' => sub {
    add_tokens('tess', 2500, 720000000000);
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
    is(live('tess'), 1500, 'in the database: the 1000 listed revoked');
    is(audited('tess'), 1000, '  and audited');
};

subtest 'revoke --user: a second SIGINT cancels the COMMIT\'s wait' => sub {
    add_tokens('ines', 1500, 730000000000);
    $env->pg_syncrep(1);
    my ($pid, $wait) = start('revoke-twice', {}, 'revoke', '--user', 'ines');
    ok($env->pg_wait_backend('bbt-revoke-twice', "wait_event = 'SyncRep' AND query = 'COMMIT'"),
       'its first COMMIT waits for the synchronous standby');
    signal('INT', $pid);
    signal('INT', $pid);
    my ($rc, $out, $err) = $wait->();
    $env->pg_syncrep(0);
    is($rc, 130, 'ended by SIGINT (130)') or diag $err;
    is($out, '', 'stdout: no summary');
    like($err, qr/\Abbtoken: revoking the tokens: not done: interrupted by SIGINT, so that transaction changed nothing, but 1000 tokens of ines were revoked before it \(running the command again revokes the rest\); the synchronous standby did not confirm 1 of the command's commits: a failover may lose what it did\n\z/,
         'stderr, one line: the batch revoked, not confirmed by the standby') or diag $err;
    is(live('ines'), 500, 'in the database: the 1000 it says revoked');
};

subtest 'revoke ID: SIGINT while it waits: nothing changed' => sub {
    add_tokens('ida', 1, 740000000000);
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
    is(live('ida'), 1, 'in the database: the token live');
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

# bbtoken @args with stdout /dev/full: (exit code, stderr).
sub full {
    my (@args) = @_;
    my $w = 'open STDOUT, ">", "/dev/full" or die "/dev/full: $!"; exec @ARGV or exit 127';
    my ($rc, $out, $err) = BBT::Util::run_cmd(cmd => ['perl', '-e', $w, $env->cli_path, '--db',
                                                      $env->superuser_conninfo, @args],
                                              tmp => $RUN, timeout => 120);
    return ($rc, $err);
}

SKIP: {
    skip 'no /dev/full', 3 unless -c '/dev/full';

    subtest 'revoke --user: its summary alone not written' => sub {
        add_tokens('sam', 5, 750000000000);
        my ($rc, $err) = full('revoke', '--user', 'sam');
        is($rc, 1, 'exit 1') or diag $err;
        like($err, qr/\Abbtoken: cannot write to stdout(?:: [^;\n]*)?; but all 5 tokens of sam were revoked: none is left to revoke\n\z/,
             'stderr, one line: every token revoked, no rest promised') or diag $err;
        unlike($err, qr/revokes the rest/, '  not "revokes the rest"');
        is(live('sam'), 0, 'in the database: all revoked');
    };

    subtest 'list --all --revoke --json: its listing not written' => sub {
        add_tokens('sue', 5, 760000000000);
        my ($rc, $err) = full('list', '--all', '--owner', 'sue', '--revoke', '--json');
        is($rc, 1, 'exit 1') or diag $err;
        like($err, qr/\Abbtoken: listing tokens: cannot write to stdout(?:: [^;\n]*)?; but 5 tokens were revoked before it, the last batch's too, not all of them listed\n\z/,
             'stderr, one line: the last batch revoked, not listed, no rest promised') or diag $err;
        unlike($err, qr/revokes the rest/, '  not "revokes the rest"');
        is(live('sue'), 0, 'in the database: all revoked');
    };

    subtest 'purge: its lines not written' => sub {
        add_tokens('pam', 3, 770000000000);
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
