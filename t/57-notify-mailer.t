# bbtoken notify and the mailer it runs: notices kept for the next run
# after sendmail failed, and sent then; the mailer named by an absolute
# path only, handed no database password nor an ignored SIGPIPE; a run
# started with SIGCHLD ignored records what the mailer took, once; no
# --from or --sendmail value like a connection string repeated, and no
# empty one taken; no token value in any message.  Mail goes through the
# stand-in sendmail (BBT::Notify, t/mail/sendmail); creation and expiry
# are faked with SQL as the table's owner.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Notify;

my $env = BBT::Env->new(httpd => 0)->start;
notify_start($env);

$env->user_add('dave', '--email', 'dave@example.com');
$env->user_add('erin', '--email', 'erin@example.com');

subtest 'sendmail failing: notices kept for the next run' => sub {
    my $d = mk('dave', 'soon', created => "now() - interval '100 days'", expires => "now() + interval '5 days'");
    my $e = mk('erin', 'soon too', created => "now() - interval '100 days'", expires => "now() + interval '5 days'");
    my ($rc, $out, $err, $m) = notify(env => { BBT_SENDMAIL_EXIT => 1 });
    is($rc, 1, 'exit 1');
    like($err, qr/\Abbtoken: sendmail \S+ failed for 2 messages \(exit status 1\); their notices go out on the next run\n\z/,
         'one line on stderr');
    is($out, "not mailed: sendmail failed for dave <dave\@example.com> (1 notice kept for the next run)\n"
           . "not mailed: sendmail failed for erin <erin\@example.com> (1 notice kept for the next run)\n",
       'every owner tried, each said');
    is(scalar @$m, 0, 'nothing kept by the mailer');
    is_deeply(notices($d), {}, 'nothing recorded');
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'next run: exit 0') or diag $err;
    is(scalar @$m, 2, 'both sent now');
    is_deeply(notices($d), { expires_7d => 'dave@example.com' }, 'and recorded');
    ($rc, $out, $err) = notify(sendmail => $env->dir . '/no-such-sendmail');
    ok($rc == 1 && $err =~ /\Abbtoken: cannot run sendmail \S+no-such-sendmail: No such file/,
       'a sendmail that is not there: exit 1 before anything') or diag "$rc $err";
};

# notify runs from cron or under sudo as root: the mailer it runs is the
# one named, never one that the working directory happens to hold, and it
# is not handed the database password that PGPASSWORD gave bbtoken.  Nor
# the CLI's own ignored SIGPIPE (an ignored signal is inherited across
# exec): the mailer has the default, as from a shell.
subtest 'the mailer: an absolute path, and no database password' => sub {
    my $wrap = $env->dir . '/env-sendmail';
    BBT::Env::spew($wrap, "#!/bin/sh\nenv > \"\$BBT_MAILDIR/env\"\n"
                   . "grep '^SigIgn:' /proc/\$\$/status > \"\$BBT_MAILDIR/sigign\"\n"
                   . "exec '$SENDMAIL' \"\$@\"\n", 0755);
    mk('dave', 'pw', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    my ($rc, $out, $err, $m) = notify(sendmail => $wrap, env => { PGPASSWORD => 'pg-S3cret-pw' });
    is($rc, 0, 'mailed with PGPASSWORD set') or diag $err;
    is(scalar @$m, 1, '  one message');
    my $seen = BBT::Env::slurp("$MAILDIR/env");
    like($seen, qr/^BBT_MAILDIR=/m, '  the mailer has the rest of the environment');
    ok(index($seen, 'pg-S3cret-pw') < 0, '  but not PGPASSWORD');
    my ($ign) = BBT::Env::slurp("$MAILDIR/sigign") =~ /^SigIgn:\s*([0-9a-f]+)$/m;
    # SIGPIPE is signal 13: bit 12 of the mask, in its last hex digits (the
    # whole mask is 64 bits, more than hex() reads without a warning).
    ok(defined $ign && !(hex(substr($ign, -8)) & (1 << (13 - 1))), '  SIGPIPE not ignored in the mailer')
        or diag "SigIgn: " . ($ign // 'none');

    my $cwd = $env->dir . '/cwd';
    make_path($cwd);
    BBT::Env::spew("$cwd/sendmail", "#!/bin/sh\ntouch '$cwd/ran'\ncat >/dev/null\n", 0755);
    mk('erin', 'pw', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    for my $how ('--sendmail', 'BBTOKEN_SENDMAIL') {
        my @args = ('--db', $env->superuser_conninfo, 'notify', '--from', $FROM);
        my %e = (BBT_MAILDIR => $MAILDIR);
        if ($how eq '--sendmail') { push @args, '--sendmail', 'sendmail' } else { $e{BBTOKEN_SENDMAIL} = 'sendmail' }
        for my $dry (0, 1) {
            ($rc, $out, $err) = BBT::Util::run_cmd(cmd => [$env->cli_path, @args, $dry ? '--dry-run' : ()],
                                                   cwd => $cwd, tmp => $env->dir . '/run', timeout => 60, env => \%e);
            is($rc, 1, "$how sendmail" . ($dry ? ' --dry-run' : '') . ': exit 1');
            like($err, qr/\Abbtoken: sendmail: not an absolute path: sendmail \(give --sendmail \/PATH\)\n\z/,
                 '  saying why') or diag $err;
            is($out, '', '  nothing done');
        }
        ok(!-e "$cwd/ran", '  the working directory\'s sendmail did not run');
    }
    is(scalar @{ new_mails() }, 0, 'nothing mailed');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && @$m == 1, 'the notice goes out through an absolute path') or diag "$rc $err";
};

# A scheduler or a wrapper may start notify with SIGCHLD ignored, which
# its children inherit: the kernel then reaps the mailer itself, and a
# message sendmail took must still count as sent, once.
subtest 'started with SIGCHLD ignored: a message taken is recorded, once' => sub {
    my $id = mk('dave', 'sigchld', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    my @args = ('--db', $env->superuser_conninfo, 'notify', '--sendmail', $SENDMAIL, '--from', $FROM);
    for my $run (1, 2) {
        my ($rc, $out, $err) = BBT::Util::run_cmd(
            cmd => ['perl', '-e', '$SIG{CHLD} = "IGNORE"; exec @ARGV or die $!', $env->cli_path, @args],
            tmp => $env->dir . '/run', timeout => 60, env => { BBT_MAILDIR => $MAILDIR });
        is($rc, 0, "run $run: exit 0") or diag $err;
        is(scalar @{ new_mails() }, 2 - $run, $run == 1 ? '  one message' : '  nothing sent again');
        is_deeply(notices($id), { expired => 'dave@example.com' }, '  recorded as mailed');
    }
};

# notify's own values are repeated in its errors, but never one that looks
# like a connection string given in the wrong place (README: The CLI).
subtest 'a connection string as --from or --sendmail: not repeated' => sub {
    my $hidden = qr/\(not repeated: a connection string without its --db\?\)/;
    for my $c ([['--from', 'host=db password=hunter2']],
               [['--sendmail', 'postgresql://u:hunter2@h/db']],
               [[], { BBTOKEN_SENDMAIL => 'postgres://u:hunter2@h/db' }],
               [['--sendmail', '/x password=hunter2']],
               [['--from', 'tokens@example.com', '--sendmail', $env->dir . '/x password=hunter2']]) {
        my ($more, $e) = @$c;
        my @args = ('--db', $env->superuser_conninfo, 'notify');
        push @args, '--from', $FROM unless grep { $_ eq '--from' } @$more;
        my ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $MAILDIR, %{ $e || {} } }, @args, @$more);
        my $what = join(' ', @$more) || join(' ', %$e);
        is($rc, 1, "$what: exit 1");
        unlike($err, qr/hunter2/, '  the password is not repeated');
        like($err, $hidden, '  says why') or diag $err;
    }
};

# An empty --sendmail or --from is refused: taken as none, it would pass
# over BBTOKEN_SENDMAIL / BBTOKEN_MAIL_FROM to the built-in defaults (cron's
# `notify --sendmail "$SM"` with SM unset mailing through the system's
# sendmail, not the site's wrapper).
subtest 'an empty --sendmail or --from: refused, the environment\'s not passed over' => sub {
    my $id = mk('erin', 'empty-opt', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    my %e = (BBT_MAILDIR => $MAILDIR, BBTOKEN_SENDMAIL => $SENDMAIL, BBTOKEN_MAIL_FROM => $FROM);
    for my $c (['--sendmail', '--dry-run'], ['--from', '--dry-run'], ['--from']) {
        my ($opt, @more) = @$c;
        my ($rc, $out, $err) = $env->cli_env(\%e, '--db', $env->superuser_conninfo, 'notify', $opt, '', @more);
        is($rc, 1, "notify $opt '' @more: exit 1") or diag $out;
        is($err, "bbtoken: $opt must not be empty\n", '  saying why');
        is($out, '', '  nothing done');
    }
    is(scalar @{ new_mails() }, 0, 'nothing mailed');
    my ($rc, $out, $err) = $env->cli_env(\%e, '--db', $env->superuser_conninfo, 'notify');
    my $m = new_mails();
    ok($rc == 0 && @$m == 1, 'without them, the environment\'s mailer and sender') or diag "$rc $err";
    is($m->[0]{headers}{from}[0], $FROM, '  From: BBTOKEN_MAIL_FROM') if @$m;
};

no_secrets_mailed(6, 20);

done_testing;
