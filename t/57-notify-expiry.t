# bbtoken notify: owners mailed through the stand-in sendmail (BBT::Notify,
# t/mail/sendmail) about tokens 30 days, 7 days and 0 days from expiry
# (each stage ending at exactly 30 or 7 days), each notice once, one
# message per owner; owners without an address or disabled are reported,
# not mailed; addresses and a --from that would put more into a header are
# not used; the message's headers, each once, the sender from
# BBTOKEN_MAIL_FROM or this host's name; no token value in any message.
# Creation and expiry are faked with SQL as the table's owner (only with
# the triggers off).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Sys::Hostname ();
use BBT::Env;
use BBT::Notify;

my $env = BBT::Env->new(httpd => 0)->start;
notify_start($env);

$env->user_add('alice', '--email', 'alice@example.com', '--display-name', "Alice Lid\x{c3}\x{a9}n");
$env->user_add('bob');
$env->user_add('carol', '--email', 'carol@example.com');
$env->user_add('erin', '--email', 'erin@example.com');
$env->user_add('dana', '--email', 'dana@example.com');

subtest 'nothing due: nothing sent, nothing said' => sub {
    mk_cli('alice', 'fresh');
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is("$out$err", '', 'silent');
    is(scalar @$m, 0, 'no mail');
};

my %t;
subtest 'expiry: 30 days, 7 days, expired, each once, one message per owner' => sub {
    $t{a30} = mk('alice', 'deploy', created => "now() - interval '100 days'", expires => "now() + interval '20 days'");
    $t{a7} = mk('alice', 'laptop', created => "now() - interval '100 days'", expires => "now() + interval '3 days'");
    $t{a0} = mk('alice', 'old ci', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    $t{short} = mk_cli('alice', 'short', expiry_days => 20);
    $t{week} = mk_cli('alice', 'a week', expiry_days => 7);
    $t{far} = mk('alice', 'far', created => "now() - interval '100 days'", expires => "now() + interval '60 days'");
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is($err, '', 'nothing on stderr');
    is($out, "mailed alice <alice\@example.com>: 3 notices\n", 'says whom it mailed');
    is(scalar @$m, 1, 'one message') or return;
    my $msg = $m->[0];
    is(to_of($msg), 'alice@example.com', 'To: her address');
    is($msg->{subject}, '3 notices about your access tokens', 'Subject counts them');
    is($msg->{args}, "-f\n$FROM\n-t\n-oi\n", 'sendmail ran as -f FROM -t -oi: the envelope sender is --from');
    like($msg->{body}, qr/^Hello Alice Lid\x{c3}\x{a9}n,$/m, 'greets her by her display name');
    like($msg->{body}, qr/^Token "deploy" \(id $t{a30}\)\n  expires on \S+Z, in less than 30 days\.$/m,
         '30 days: deploy');
    like($msg->{body}, qr/^Token "laptop" \(id $t{a7}\)\n  expires on \S+Z, in less than 7 days\.$/m,
         '7 days: laptop');
    like($msg->{body}, qr/^Token "old ci" \(id $t{a0}\)\n  expired on \S+Z and no longer works\.$/m,
         'expired: old ci');
    ok($msg->{body} =~ /old ci.*laptop.*deploy/s, 'the expired one first, then by urgency');
    unlike($msg->{body}, qr/$t{short}|$t{week}|$t{far}/,
           'none for a token made inside its window (20 days, 7 days) or expiring in 60 days');
    is_deeply(notices($t{a30}), { expires_30d => 'alice@example.com' }, 'recorded, with the address');
    is_deeply(notices($t{a0}), { expired => 'alice@example.com' }, 'and the expired one');

    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out eq '' && @$m == 0, 'run again: nothing sent, nothing said') or diag "$rc $out $err";

    # Time passes for deploy: its expiry moves (the triggers, off, would
    # refuse it) into the 7-day window, then past.
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET expires_at = now() + "
               . "interval '2 days' WHERE id = '$t{a30}'");
    ($rc, $out, $err, $m) = notify();
    is(scalar @$m, 1, '7 days before: one message') or return;
    like($m->[0]{subject}, qr/\AAccess token "deploy" expires on \d{4}-\d\d-\d\d\z/, 'a single notice names the token');
    like($m->[0]{body}, qr/id $t{a30}\)\n  expires on \S+, in less than 7 days/, 'the 7-day notice');
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET expires_at = now() - "
               . "interval '1 minute' WHERE id = '$t{a30}'");
    ($rc, $out, $err, $m) = notify();
    is(scalar @$m, 1, 'expired: one message') or return;
    is($m->[0]{subject}, 'Access token "deploy" has expired', 'the expiry notice');
    is_deeply(notices($t{a30}), { map { $_ => 'alice@example.com' } qw(expires_30d expires_7d expired) },
              'each of the three recorded once');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && @$m == 0, 'and nothing more');
};

# The stages end at exactly 7 and 30 days: half a day either side of each
# bound tells which notice a token is due, and that one alone is recorded.
subtest 'the 7-day and 30-day stages end at 7 and 30 days' => sub {
    my %b;
    for (['in 7d12h', '7 days 12 hours'], ['in 6d12h', '6 days 12 hours'], ['in 30d12h', '30 days 12 hours'],
         ['in 29d12h', '29 days 12 hours']) {
        my ($name, $left) = @$_;
        $b{$name} = mk('dana', $name, created => "now() - interval '100 days'",
                       expires => "now() + interval '$left'");
    }
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is(scalar @$m, 1, 'one message') or return;
    my $body = $m->[0]{body};
    like($body, qr/^Token "in 7d12h" \(id $b{'in 7d12h'}\)\n  expires on \S+Z, in less than 30 days\.$/m,
         '7 days 12 hours: still the 30-day notice');
    like($body, qr/^Token "in 6d12h" \(id $b{'in 6d12h'}\)\n  expires on \S+Z, in less than 7 days\.$/m,
         '6 days 12 hours: the 7-day notice');
    like($body, qr/^Token "in 29d12h" \(id $b{'in 29d12h'}\)\n  expires on \S+Z, in less than 30 days\.$/m,
         '29 days 12 hours: the 30-day notice');
    unlike($body, qr/"in 30d12h"/, '30 days 12 hours: no notice yet');
    is_deeply(notices($b{'in 7d12h'}), { expires_30d => 'dana@example.com' }, '7 days 12 hours: recorded as 30-day');
    is_deeply(notices($b{'in 6d12h'}), { expires_7d => 'dana@example.com' }, '6 days 12 hours: recorded as 7-day');
    is_deeply(notices($b{'in 30d12h'}), {}, '30 days 12 hours: nothing recorded');
};

subtest 'owners who cannot be mailed: reported, settled' => sub {
    my $b = mk('bob', 'bob ci', created => "now() - interval '100 days'", expires => "now() + interval '3 days'");
    my $c = mk('carol', 'carol ci', created => "now() - interval '100 days'", expires => "now() + interval '3 days'");
    $env->cli_ok('user', 'disable', 'carol');
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is($out, "not mailed: bob has no e-mail address (1 notice)\nnot mailed: carol is disabled (1 notice)\n",
       'both said on stdout');
    is(scalar @$m, 0, 'no mail');
    is_deeply(notices($b), { expires_7d => '' }, "bob's notice counts as told, mailed to no one");
    is_deeply(notices($c), { expires_7d => '' }, "carol's too");
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out eq '', 'not said again') or diag $out;
    $env->cli_ok('user', 'enable', 'carol');
};

subtest 'an address that would put more into a header is not used' => sub {
    # The schema accepts a comma before the @; sendmail -t would read two
    # recipients from it.
    $env->user_add('frank', '--email', 'root,frank@example.com');
    my $f = mk('frank', 'f', created => "now() - interval '100 days'", expires => "now() + interval '3 days'");
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is($out, "not mailed: frank's address cannot go into a mail header: root,frank\@example.com (1 notice)\n",
       'reported');
    is(scalar @$m, 0, 'nothing sent');
    ($rc, $out, $err) = $env->cli('notify', '--dry-run', '--from', "x\@example.com\nBcc: y\@example.net");
    ok($rc == 1 && $err =~ /\Abbtoken: the sender: not an address for a From: header/, 'a --from with a newline: refused')
        or diag "$rc $err";
    ($rc, $out, $err) = $env->cli('notify', '--dry-run', '--from', 'a@b, c@d');
    ok($rc == 1 && $err =~ /From: header/, 'a --from with a comma: refused') or diag "$rc $err";
    # An address that reads like an option is only ever a header's value:
    # sendmail's arguments are fixed (but -f's, the sender), and -t reads
    # the recipients.
    $env->user_add('hank', '--email', '-oQ/tmp/q@example.com');
    mk('hank', 'h', created => "now() - interval '100 days'", expires => "now() + interval '3 days'");
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'an address starting with "-": mailed') or diag $err;
    is(scalar @$m, 1, '  one message') or return;
    is($m->[0]{args}, "-f\n$FROM\n-t\n-oi\n", '  sendmail run with -f FROM -t -oi alone');
    is(to_of($m->[0]), '-oQ/tmp/q@example.com', '  the address in To: only');
    # Gone, token and all, so that the later runs have no news of hank.
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'hank'");
};

subtest 'headers' => sub {
    my $id = mk('alice', 'hdr', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    my $ex = mk('erin', 'hdr', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    my $host = Sys::Hostname::hostname();
    my ($rc, $out, $err, $m) = notify(no_from => 1, args => ['--dry-run'], env => { BBTOKEN_MAIL_FROM => undef });
    is($rc, 0, 'dry run without --from') or diag $err;
    like($out, qr/^From: bbtoken\@\Q$host\E$/m, "the sender is bbtoken\@ this host's name ($host)");
    ($rc, $out, $err, $m) = notify(no_from => 1, sendmail_env => 1,
                                   env => { BBTOKEN_MAIL_FROM => 'noreply@example.org',
                                            BBTOKEN_SENDMAIL => $SENDMAIL });
    is($rc, 0, 'BBTOKEN_MAIL_FROM and BBTOKEN_SENDMAIL instead of the options') or diag $err;
    is(scalar @$m, 2, 'two messages, through the BBTOKEN_SENDMAIL') or return;
    for my $msg (@$m) {
        my $h = $msg->{headers};
        is_deeply([sort keys %$h], [sort qw(from to subject date message-id mime-version content-type
                                             content-transfer-encoding auto-submitted)], 'these headers, each once')
            or diag explain $h;
        ok(!grep({ @$_ != 1 } values %$h), 'none twice');
        is($h->{from}[0], 'noreply@example.org', 'From: BBTOKEN_MAIL_FROM');
        is($msg->{args}, "-f\nnoreply\@example.org\n-t\n-oi\n", 'and the envelope sender');
        like($h->{date}[0], qr/\A(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000\z/,
             'Date: RFC 5322');
        like($h->{'message-id'}[0], qr/\A<bbtoken\.\d+\.[0-9a-f]{24}\@example\.org>\z/, 'Message-ID at the sender\'s domain');
        is($h->{'mime-version'}[0], '1.0', 'MIME-Version');
        is($h->{'content-type'}[0], 'text/plain; charset=UTF-8', 'Content-Type');
        is($h->{'auto-submitted'}[0], 'auto-generated', 'Auto-Submitted: no auto-replies');
    }
    isnt($m->[0]{headers}{'message-id'}[0], $m->[1]{headers}{'message-id'}[0], 'Message-IDs differ');
};

no_secrets_mailed(6, 40);

done_testing;
