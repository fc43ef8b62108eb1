# bbtoken notify and a mailer that never answers (a queue directory on a
# hung NFS mount, an SMTP relay that accepts and then says nothing): each
# message has a deadline (--sendmail-timeout), after which the mailer and
# what it started are stopped and the message counts as refused, as a
# non-zero exit does.  The run ends, so its lock goes with it: the next
# run mails and revokes as usual.  A bad --sendmail-timeout is refused
# before anything is done.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
my $SENDMAIL = "$BBT::Env::ROOT/t/mail/sendmail";
my $MAILDIR = $env->dir . '/mail';
make_path($MAILDIR);
my $FROM = 'tokens@git.example.com';

# It reads the message and waits, and so does a child of its own (a
# wrapper's sendmail, Postfix's postdrop); their pids go to $BBT_HANG_PIDS.
my $HANG = $env->dir . '/hang-sendmail';
BBT::Env::spew($HANG, "#!/bin/sh\nsleep 600 &\necho \"\$\$ \$!\" > \"\$BBT_HANG_PIDS\"\n"
               . "cat > /dev/null\nwait\n", 0755);
my $PIDS = $env->dir . '/hang.pids';

# 1 once process $pid is gone, or dead and not yet reaped by whoever
# inherited it (a zombie), polling for up to a minute.
sub gone {
    my ($pid) = @_;
    for (1 .. 600) {
        open my $h, '<', "/proc/$pid/stat" or return 1;
        my $st = do { local $/; <$h> };
        return 1 if !defined $st || $st =~ /\)\s+[ZX]\s/;
        select undef, undef, undef, 0.1;
    }
    return 0;
}

sub notify {
    my ($mailer, @more) = @_;
    return $env->cli_env({ BBT_MAILDIR => $MAILDIR, BBT_HANG_PIDS => $PIDS }, '--db', $env->superuser_conninfo,
                         'notify', '--sendmail', $mailer, '--from', $FROM, @more);
}

$env->user_add('gina', '--email', 'gina@example.com');
$env->user_add('bob');    # no address: nothing to mail him
$env->cli_ok('policy', '--revoke-unused-after', '30d');
my (undef, $g) = $env->token_create('gina', name => 'g');
my (undef, $b) = $env->token_create('bob', name => 'b');
# gina's token falls idle: a warning to mail.
$env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '35 days' WHERE id = '$g'");

for my $bad ('0', '3601', 'x', '1.5', '') {
    my ($rc, $out, $err) = notify($HANG, '--sendmail-timeout', $bad);
    is($rc, 1, "--sendmail-timeout '$bad': exit 1");
    like($err, qr/\Abbtoken: --sendmail-timeout must be a whole number from 1 to 3600: /, '  saying why')
        or diag $err;
    is($out, '', '  nothing done');
}
ok(!-e $PIDS, 'the mailer never ran');

my ($rc, $out, $err) = notify($HANG, '--sendmail-timeout', '2');
is($rc, 1, 'a mailer that never answers: notify ends, exit 1') or diag "$rc $err";
is($out, "not mailed: sendmail failed for gina <gina\@example.com> (1 notice kept for the next run)\n",
   '  the owner said not mailed, as for a mailer that fails');
like($err, qr/\Abbtoken: sendmail \S+ failed for 1 message \(not done within 2 seconds: stopped\); their notices go out on the next run\n\z/,
     '  one line on stderr saying why') or diag $err;
my ($mailer, $child) = split ' ', BBT::Env::slurp($PIDS);
ok($mailer && gone($mailer), '  the mailer is stopped');
ok($child && gone($child), '  and what it started');
is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$g'"), 0, '  nothing recorded as told');

# bob's token is due for revocation now (warned 8 days ago): the next run
# is not stopped by the lock, revokes it and mails gina.
$env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '40 days' WHERE id = '$b'");
$env->psql("INSERT INTO bbtoken_notices (token_id, kind, sent_at) VALUES ('$b', 'unused', now() - interval '8 days')");
($rc, $out, $err) = notify($SENDMAIL);
is($rc, 0, 'the next run: exit 0') or diag $err;
unlike($err, qr/another bbtoken notify is running/, '  not stopped by the lock');
like($out, qr/^mailed gina <gina\@example\.com>: 1 notice$/m, '  gina mailed') or diag $out;
isnt($env->token_row($b)->{revoked_at}, '', '  bob\'s unused token revoked');
is($env->psql("SELECT kind FROM bbtoken_notices WHERE token_id = '$g'"), 'unused', '  gina\'s warning recorded');

done_testing;
