# bbtoken notify on a big site: the notices due are read a group (an
# owner's, or a notice's recipients) at a time from cursors the server
# holds, and unused tokens are revoked in batches, so the CLI's peak memory
# does not grow with the notices due (a big site's first run), nor does
# the server's work on those cursors grow faster than the notices, nor its
# work finding each batch's tokens due faster than the tokens; an owner
# whose notices fill more than a batch still gets one message; a token
# whose use is being written while notify revokes is skipped, not waited
# for, and does not end the revoking; a second run while one is under way
# stops and mails nothing;
# and a run killed while sendmail takes a message neither loses a notice
# nor repeats more than that message.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Util qw(run_cmd slurp spew);
use POSIX ();
use BBT::Explain;

my $env = BBT::Env->new(httpd => 0)->start;
plan skip_all => "$BBT::Cli::TIME is not installed" unless -x $BBT::Cli::TIME;
my $SENDMAIL = "$BBT::Env::ROOT/t/mail/sendmail";
my $FROM = 'tokens@git.example.com';

# Owners owner$from .. owner$to, each with a token that expires in 3 days
# (one notice each), mailable (an address) or not.  Made as
# bench/bigsite.sql makes its rows: the triggers off, which would refuse a
# creation in the past.
sub add_owners {
    my ($from, $to, %o) = @_;
    my $email = $o{mailable} ? "'owner' || g || '\@example.com'" : 'NULL';
    $env->psql("SET session_replication_role = replica; "
               . "INSERT INTO bbtoken_users (name, active, email) "
               . "SELECT 'owner' || g, true, $email FROM generate_series($from, $to) g; "
               . "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash, "
               . "created_at, expires_at) "
               . "SELECT lpad((200000000000 + g)::text, 12, '0'), u.id, 'ci', 'PROJECT_READ', 'REPO_READ', "
               . "md5('s' || g), md5('h' || g) || md5('k' || g), now() - interval '100 days', "
               . "now() + interval '3 days' FROM generate_series($from, $to) g "
               . "JOIN bbtoken_users u ON u.name = 'owner' || g");
}

# (peak RSS in kB, exit code, stdout) of bbtoken notify @args; a hash
# before them adds to its environment.
sub peak {
    my ($maildir, @args) = @_;
    my %more = ref $args[0] ? %{ shift @args } : ();
    return ($env->cli_peak({ BBT_MAILDIR => $maildir, %more }, 'notify', '--from', $FROM,
                           '--sendmail', $SENDMAIL, @args))[0 .. 2];
}

# The run's statements as PostgreSQL ran them (auto_explain, with the rows
# each plan node made, and no timing: what is compared is work, not time).
my $EXPLAINED = BBT::Explain::pgoptions();

# The plans logged since byte $from of PostgreSQL's log whose statement
# starts with $prefix (BBT::Explain::plans_since).
sub plans_since {
    my ($from, $prefix) = @_;
    return grep { index($_->[0], $prefix) == 0 } BBT::Explain::plans_since($env, $from);
}

# Peak RSS $kb, against $small kB for a tenth of the notices: not twice
# as much.
sub rss_ok {
    my ($kb, $small, $what) = @_;
    $env->rss_below($kb, $small, 2, "$what, 10x the notices");
}

sub maildir {
    my ($name) = @_;
    my $d = $env->dir . "/mail-$name";
    make_path($d);
    return $d;
}

sub mails {
    my ($d) = @_;
    opendir my $h, $d or die "$d: $!";
    return [sort grep {/\.eml\z/} readdir $h];
}

my $told = "SELECT count(*) FROM bbtoken_notices";

# bbtoken notify @args started in the background, its backend's
# application_name bbt-$app, with %$env; returns a sub that waits for it
# and returns (exit code, stdout, stderr).
sub notify_bg {
    my ($app, $env_of, @args) = @_;
    my $f = $env->dir . "/run/notify-$app";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # A run that waits for a test's locks: its time is the test's.
        local $env->{cli_timeout} = 600;
        my ($rc, $out, $err) = $env->cli_env({ %$env_of, PGAPPNAME => "bbt-$app" }, '--db',
                                             $env->superuser_conninfo, 'notify', '--from', $FROM,
                                             '--sendmail', $SENDMAIL, @args);
        spew($f, "$rc\n$out\0$err");
        POSIX::_exit(0);
    }
    return sub {
        waitpid($pid, 0);
        my ($rc, $rest) = split /\n/, slurp($f), 2;
        return ($rc, split(/\0/, $rest, 2));
    };
}

# bbtoken notify, its mail kept in $maildir: (exit code, stdout, stderr).
# Killed after five minutes: a run that waits for a test's locks fails.
sub notify_run {
    my ($maildir) = @_;
    local $env->{cli_timeout} = 300;
    return $env->cli_env({ BBT_MAILDIR => $maildir }, '--db', $env->superuser_conninfo, 'notify', '--from', $FROM,
                         '--sendmail', $SENDMAIL);
}

# Every token idle for a year and warned 8 days ago, and the policy 90
# days: each is due for revocation.
sub all_due {
    # The policy first: setting it forgets the warnings before it.
    $env->cli_ok('policy', '--revoke-unused-after', '90d');
    $env->psql("SET session_replication_role = replica; "
               . "UPDATE bbtoken_tokens SET created_at = now() - interval '1 year', expires_at = NULL; "
               . "INSERT INTO bbtoken_notices (token_id, kind, sent_at) "
               . "SELECT id, 'unused', now() - interval '8 days' FROM bbtoken_tokens");
}

# Every owner, token and notice gone, for the next subtest.
sub clear {
    $env->psql('SET session_replication_role = replica; DELETE FROM bbtoken_notices; '
               . 'DELETE FROM bbtoken_audit; DELETE FROM bbtoken_tokens; DELETE FROM bbtoken_users');
}

subtest 'peak memory: the same for 10x the notices due' => sub {
    add_owners(1, 5_000);
    my ($small, $rc) = peak(maildir('dry'), '--dry-run');
    is($rc, 0, 'dry run of 5,000 notices');
    add_owners(5_001, 50_000);
    my ($kb, $out);
    ($kb, $rc, $out) = peak(maildir('dry'), '--dry-run');
    is($rc, 0, 'dry run of 50,000 notices');
    my @lines = split /\n/, $out;
    is(scalar @lines, 50_000, 'a line per owner');
    is(scalar(grep { /^not mailed: owner\d+ has no e-mail address \(1 notice\)$/ } @lines), 50_000,
       'each says why it was not mailed');
    is($env->psql($told), 0, 'the dry run settled nothing');
    rss_ok($kb, $small, 'dry run');

    my $from = length $env->pg_log_text;
    ($kb, $rc, $out) = peak(maildir('real'), { PGOPTIONS => $EXPLAINED });
    is($rc, 0, 'the run of 50,000 notices');
    is(scalar(my @l = split /\n/, $out), 50_000, 'a line per owner');
    is($env->psql($told), 50_000, 'every notice settled');
    rss_ok($kb, $small, 'the run');
    # Read whole at their COMMIT, the two cursors of the notices due are
    # planned for every row: planned for a fast start, one was a nested
    # loop reading all 50,000 notices again for each of the 50,000 tokens
    # (minutes of a backend's time for seconds' work).
    my @plans = plans_since($from, 'DECLARE bbtoken_');
    is(scalar(@plans), 2, 'the cursors of the notices due were explained') or diag(explain(\@plans));
    for my $p (@plans) {
        my ($name) = $p->[0] =~ /^DECLARE (\w+)/;
        cmp_ok($p->[1], '<=', 10 * 50_000, "$name: no node of its plan made more than ten rows a token");
    }
    # No revoke_unused_after (the default): no token is due for revocation,
    # and the revoking pass looks at none (its batches walked all 50,000).
    is($env->psql('SELECT count(*) FROM bbtoken_policy WHERE revoke_unused_after IS NULL'), 1, 'the policy is off');
    my @batches = grep { index($_->[0], "SELECT set_config('bbtoken.revoke_reason'") == 0 } plans_since($from, '');
    is(scalar(@batches), 0, 'the policy off: no batch of tokens looked at for revocation');
    ($kb, $rc, $out) = peak(maildir('real'));
    is("$rc $out", '0 ', 'the next run: nothing due, nothing said');
    clear();
};

subtest 'an owner with notices over several batches: one message' => sub {
    add_owners(1, 3, mailable => 1);
    # owner2's token and 2,499 more: more than two batches of rows.
    $env->psql("SET session_replication_role = replica; "
               . "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash, "
               . "created_at, expires_at) "
               . "SELECT lpad((300000000000 + g)::text, 12, '0'), u.id, 'ci ' || g, 'PROJECT_READ', "
               . "'REPO_READ', md5('s' || g), md5('h' || g) || md5('k' || g), "
               . "now() - interval '100 days', now() + interval '3 days' "
               . "FROM generate_series(1, 2499) g, bbtoken_users u WHERE u.name = 'owner2'");
    my $d = maildir('big');
    my ($kb, $rc, $out) = peak($d);
    is($rc, 0, 'exit 0');
    is($out, "mailed owner1 <owner1\@example.com>: 1 notice\n"
             . "mailed owner2 <owner2\@example.com>: 2500 notices\n"
             . "mailed owner3 <owner3\@example.com>: 1 notice\n", 'one message per owner');
    my $m = mails($d);
    is(scalar @$m, 3, 'three messages');
    my $body = slurp("$d/$m->[1]");
    is(scalar(() = $body =~ /^Token "ci[ "]/mg), 2500, "owner2's message names every token");
    is($env->psql($told), 2502, 'every notice recorded');
    clear();
};

subtest 'unused tokens revoked in batches, each told' => sub {
    add_owners(1, 10_000);
    all_due();
    my ($kb, $rc, $out) = peak(maildir('unused'), '--dry-run');
    is($rc, 0, 'dry run');
    my @would = grep {/^would revoke /} split /\n/, $out;
    is(scalar @would, 10_000, 'would revoke each');
    my $from = length $env->pg_log_text;
    ($kb, $rc, $out) = peak(maildir('unused'), { PGOPTIONS => $EXPLAINED });
    is($rc, 0, 'the run') or diag $out;
    my @ids = map { /^revoked (\d+) of owner\d+ \("ci"\): unused since \S+$/ ? $1 : () } split /\n/, $out;
    is(scalar @ids, 10_000, 'a line per token revoked');
    is_deeply(\@ids, [sort @ids], 'lowest id first');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL"), 0, 'all revoked');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'revoked_unused'"), 10_000,
       'each in the audit trail');
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE kind = 'revoked'"), 10_000,
       'each revocation told (settled: nobody has an address) in the same run');
    # Each batch's candidates are found by the statement after the one that
    # sets its reason, among the next thousand tokens, and revoked by a
    # WITH r AS (UPDATE ...): over the batches, each reads rows as the
    # tokens grow.  The thousand due next were found by a rule whose bound on the
    # ids did not reach the warnings, and every batch read the warnings
    # from the lowest id (ten batches, 55,000), or every token after its
    # last; the revocation, planned for some 1,500 policy rows, hashed
    # every warning for each batch.
    my @plans = plans_since($from, '');
    my ($finds, $found, $revoked) = (0, 0, 0);
    for my $i (1 .. $#plans) {
        my $read = $plans[$i][2];
        if (index($plans[$i - 1][0], "SELECT set_config('bbtoken.revoke_reason'") == 0) {
            $finds++;
            $found += ($read->{$_} // 0) for 'bbtoken_tokens', 'bbtoken_notices';
        }
        $revoked += $read->{bbtoken_notices} // 0 if index($plans[$i][0], 'WITH r AS (UPDATE bbtoken_tokens') == 0;
    }
    cmp_ok($finds, '>=', 10, 'each batch\'s search was explained') or diag(explain(\@plans));
    cmp_ok($found, '<=', 4 * 10_000, 'the searches read at most four tokens and warnings a token due');
    cmp_ok($revoked, '<=', 2 * 10_000, 'the revocations read at most two warnings a token');
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
    clear();
};

subtest 'unused tokens whose use is being written: skipped, not waited for, the rest still revoked' => sub {
    add_owners(1, 2_500);
    all_due();
    # The first batch's thousand tokens are used (their last use written)
    # in a transaction left open: their rows are held until it ends.  A
    # use is written as httpd's lookup role may write it, and leave it so.
    my $lowest = "SELECT id FROM bbtoken_tokens ORDER BY id LIMIT 1000";
    my $h = $env->pg_session('use');
    $h->send("BEGIN; UPDATE bbtoken_tokens SET last_authenticated = now() WHERE id IN ($lowest);");
    ok($h->done, 'a session has used the lowest thousand, not committed yet');
    my ($rc, $out, $err) = notify_run(maildir('race'));
    is($rc, 0, 'the run, meanwhile') or diag $err;
    is(scalar(() = $out =~ /^revoked \d+ of /mg), 1_500, 'a line per token revoked');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NOT NULL"), 1_500,
       'the 1,500 nobody held revoked, after a batch that revoked none');
    is($env->psql("SELECT count(*) FROM ($lowest) l JOIN bbtoken_tokens t USING (id)"
                  . " WHERE t.revoked_at IS NOT NULL"), 0, 'none of the thousand held');
    $h->send('COMMIT;');
    ok($h->done, 'they are used');
    $h->finish;
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NOT NULL"
                  . " AND last_authenticated IS NOT NULL"), 0, 'none of the tokens revoked was used');
    ($rc, $out, $err) = notify_run(maildir('race'));
    is($rc, 0, 'the next run') or diag $err;
    unlike($out, qr/^revoked /m, '  revokes none of the thousand: they were used');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL"), 1_000, '  all live');
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
    clear();
};

subtest 'two runs at once: the second stops, each notice goes out once' => sub {
    add_owners(1, 30, mailable => 1);
    my ($d1, $d2) = (maildir('first'), maildir('second'));
    my $go = $env->dir . '/run/sendmail-go';
    # The first run holds its snapshot of the notices due, and is held by
    # sendmail on its first message, before it records it.
    my $wait = notify_bg('first', { BBT_MAILDIR => $d1, BBT_SENDMAIL_WAIT => $go });
    my $held = 0;
    for (1 .. 1200) {
        last if $held = @{ mails($d1) };
        select undef, undef, undef, 0.05;
    }
    is($held, 1, 'the first run is in sendmail with its first message');
    my ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $d2 }, '--db', $env->superuser_conninfo, 'notify',
                                         '--from', $FROM, '--sendmail', $SENDMAIL);
    is($rc, 1, 'a second run meanwhile: exit 1');
    like($err, qr/another bbtoken notify is running/, '... and says why');
    is($out, '', '... and nothing on stdout');
    is(scalar @{ mails($d2) }, 0, '... and mails nothing');
    spew($go, '');
    ($rc, $out, $err) = $wait->();
    is($rc, 0, 'the first run') or diag $err;
    my @to = map { slurp("$d1/$_") =~ /^To: (\S+)$/m ? $1 : '?' } @{ mails($d1) };
    my %n;
    $n{$_}++ for @to;
    is(scalar(grep { $n{$_} == 1 } keys %n), 30, 'each of 30 owners mailed once');
    is($env->psql($told), 30, 'all 30 recorded');
    ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $d2 }, '--db', $env->superuser_conninfo, 'notify',
                                      '--from', $FROM, '--sendmail', $SENDMAIL);
    is("$rc $out", '0 ', 'a run after it: nothing due, nothing said');
    clear();
};

subtest 'killed while sendmail takes a message: nothing lost, that message alone repeated' => sub {
    add_owners(1, 30, mailable => 1);
    my $d = maildir('kill');
    my ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $d, BBT_SENDMAIL_KILL => 10 }, '--db',
                                         $env->superuser_conninfo, 'notify',
                                         '--from', $FROM, '--sendmail', $SENDMAIL);
    isnt($rc, 0, "killed (exit $rc)");
    my $m = mails($d);
    is(scalar @$m, 10, 'ten messages handed over');
    my @to = map { slurp("$d/$_") =~ /^To: (\S+)$/m ? $1 : '?' } @$m;
    my %recorded = map { $_ => 1 } split /\n/, $env->psql("SELECT mailed_to FROM bbtoken_notice_copies");
    is(scalar keys %recorded, 9, 'nine recorded');
    ok((!grep { !$recorded{$_} } @to[0 .. 8]), 'the nine whose mail was taken before');
    ok(!$recorded{ $to[9] }, 'not the one in flight');
    # Its backend ends, and with it the notify lock, once it sees the
    # connection closed.
    my $left = 1;
    for (1 .. 300) {
        last unless $left = $env->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bbtoken'");
        select undef, undef, undef, 0.1;
    }
    is($left, 0, 'the killed run has left the database');

    ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $d }, '--db', $env->superuser_conninfo, 'notify',
                                      '--from', $FROM,
                                      '--sendmail', $SENDMAIL);
    is($rc, 0, 'the next run') or diag $err;
    my @all = @{ mails($d) };
    my @again = map { slurp("$d/$_") =~ /^To: (\S+)$/m ? $1 : '?' } @all[10 .. $#all];
    is(scalar @again, 21, 'sends 21');
    my %n;
    $n{$_}++ for @to, @again;
    is(scalar(grep { $n{$_} == 1 } keys %n), 29, 'once to 29 owners');
    is_deeply([grep { $n{$_} > 1 } keys %n], [$to[9]], 'twice to the one in flight alone');
    is($env->psql($told), 30, 'all 30 recorded');
};

done_testing;
