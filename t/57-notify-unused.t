# bbtoken notify and the policy's --revoke-unused-after: its values, and
# unused tokens warned first and revoked a week after the warning, only if
# not used since; the dry run changes and sends nothing; a warning given
# under a shorter policy, or before the policy was switched off and on
# again, does not stand for the revocation; an owner whose mail is refused
# keeps the token until their address goes; no token value in any
# message.  Mail goes through the stand-in sendmail (BBT::Notify,
# t/mail/sendmail); last use, creation and a warning's time are faked with
# SQL as the table's owner.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Notify;

my $env = BBT::Env->new(httpd => 0)->start;
notify_start($env);

subtest 'the policy: --revoke-unused-after' => sub {
    $env->cli_is('the default', ['policy'], 0, stdout => qr/^revoke-unused-after: none\n\z/m);
    is($env->cli_json('policy')->{revokeUnusedAfterSeconds}, undef, '--json: null');
    $env->cli_is('2160h', ['policy', '--revoke-unused-after', '2160h'], 0, stdout => qr/^revoke-unused-after: 90d$/m);
    is($env->cli_json('policy')->{revokeUnusedAfterSeconds}, 90 * 86400, '--json: seconds');
    like($env->psql("SELECT detail FROM bbtoken_audit WHERE event = 'policy_changed' ORDER BY id DESC LIMIT 1"),
         qr/, unused tokens revoked after 90 days\z/, 'policy_changed says so');
    $env->cli_is('200h', ['policy', '--revoke-unused-after', '200h'], 0, stdout => qr/^revoke-unused-after: 200h$/m);
    $env->cli_is('8d', ['policy', '--revoke-unused-after', '8d'], 0, stdout => qr/^revoke-unused-after: 8d$/m);
    # The warning comes 7 days before: a shorter policy would warn every
    # token the moment it is used.
    for my $bad ('7d', '191h', '1w', '36h', '12h', '0d', '36501d', 'x', '') {
        $env->cli_is("'$bad'", ['policy', '--revoke-unused-after', $bad], 1,
                     stderr => qr/--revoke-unused-after must be a duration from 8d to 36500d/);
    }
    my ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_policy SET revoke_unused_after = interval '191 hours'");
    ok($rc != 0 && $err =~ /bbtoken_policy_revoke_unused_after/, 'the database refuses less than 8 days') or diag $err;
    $env->cli_is('none', ['policy', '--revoke-unused-after', 'none'], 0, stdout => qr/^revoke-unused-after: none$/m);
};

subtest 'unused tokens: warned, then revoked' => sub {
    $env->user_add('gina', '--email', 'gina@example.com');
    my %u;
    $u{never} = mk('gina', 'never used', created => "now() - interval '40 days'");
    $u{old} = mk('gina', 'used long ago', created => "now() - interval '40 days'");
    $u{recent} = mk('gina', 'used yesterday', created => "now() - interval '40 days'");
    $u{young} = mk('gina', 'young', created => "now() - interval '20 days'");
    $u{edge} = mk('gina', 'nearly', created => "now() - interval '25 days'");
    $u{expiring} = mk('gina', 'expiring', created => "now() - interval '40 days'", expires => "now() + interval '2 days'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '35 days' WHERE id = '$u{old}'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '1 day' WHERE id = '$u{recent}'");
    my ($rc, $out, $err, $m) = notify();
    ok(!grep({ to_of($_) eq 'gina@example.com' && $_->{body} =~ /unused/i } @$m), 'policy off: no warnings')
        or diag explain $m;
    $env->cli_ok('policy', '--revoke-unused-after', '30d');

    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    unlike($out, qr/^revoked/m, 'nothing revoked without a warning first');
    my ($g) = grep { to_of($_) eq 'gina@example.com' } @$m;
    ok($g, 'gina is warned') or return;
    like($g->{body}, qr/^Token "never used" \(id $u{never}\)\n  has never been used since it was created on \S+Z\.\n  Tokens unused for 30 days are revoked: this one will be revoked\n  on or after \S+Z unless it is used before then\.$/m,
         'never used: warned');
    like($g->{body}, qr/^Token "used long ago" \(id $u{old}\)\n  has not been used since \S+Z\./m, 'used long ago: warned');
    like($g->{body}, qr/^Token "nearly" \(id $u{edge}\)/m, '25 days idle (revoked in 5, so warned now)');
    unlike($g->{body}, qr/$u{recent}|$u{young}|id $u{expiring}\)\n  has/, 'not the used, the young, nor one expiring first');
    ok($env->token_row($u{never})->{revoked_at} eq '', 'not revoked yet');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && !grep({ to_of($_) eq 'gina@example.com' } @$m), 'warned once') or diag $out;

    # A week later (the warning's time moved back): due ones go.  "nearly",
    # warned just now, is idle 25 days, not 30: it stays.
    $env->psql("UPDATE bbtoken_notices SET sent_at = now() - interval '8 days' WHERE kind = 'unused'"
               . " AND token_id = '$u{never}'");
    # "used long ago" was used after its warning, then fell idle again.
    $env->psql("UPDATE bbtoken_notices SET sent_at = now() - interval '30 days' WHERE kind = 'unused'"
               . " AND token_id = '$u{old}'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '25 days' WHERE id = '$u{old}'");

    ($rc, $out, $err, $m) = notify(args => ['--dry-run']);
    is($rc, 0, 'dry run: exit 0') or diag $err;
    like($out, qr/^would revoke $u{never} of gina \("never used"\): unused since \S+Z$/m, 'dry run: would revoke');
    like($out, qr/^would mail gina <gina\@example\.com>: 2 notices\nFrom: tokens\@git\.example\.com\nTo: gina\@example\.com\n/m,
         'dry run: prints the message');
    like($out, qr/^Token "never used" \(id $u{never}\)\n  was revoked on \S+Z because it had not been used for 40 days\.$/m,
         'dry run: the revocation told in it');
    is(scalar @$m, 0, 'dry run: nothing sent');
    is($env->token_row($u{never})->{revoked_at}, '', 'dry run: nothing revoked');
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$u{old}' AND sent_at > now() - interval '1 day'"),
       0, 'dry run: nothing recorded');

    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    like($out, qr/^revoked $u{never} of gina \("never used"\): unused since \S+Z$/m, 'revoked, and said');
    unlike($out, qr/revoked ($u{edge}|$u{old})/, 'not the one idle 25 days, nor the one used after its warning');
    isnt($env->token_row($u{never})->{revoked_at}, '', 'the token is revoked');
    my $aud = $env->psql("SELECT event || '|' || source || '|' || actor || '|' || detail FROM bbtoken_audit"
                         . " WHERE token_id = '$u{never}' AND event LIKE 'revoked%'");
    my $me = getpwuid($<);
    like($aud, qr/\Arevoked_unused\|cli\|\Q$me\E[^|]*\|name 'never used', unused since \S+Z\z/,
         "the audit: revoked_unused by the CLI's user") or diag $aud;
    ($g) = grep { to_of($_) eq 'gina@example.com' } @$m;
    ok($g, 'gina is mailed') or return;
    like($g->{body}, qr/^Token "never used" \(id $u{never}\)\n  was revoked on \S+Z because it had not been used for 40 days\.$/m,
         'told it was revoked for not being used');
    like($g->{body}, qr/^Token "used long ago" \(id $u{old}\)\n  has not been used since /m,
         'warned again: it was used after the first warning');
    is($env->psql("SELECT sent_at > now() - interval '1 hour' FROM bbtoken_notices WHERE token_id = '$u{old}'"
                  . " AND kind = 'unused'"), 't', 'its warning rewritten');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out eq '' && @$m == 0, 'then nothing') or diag $out;
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

# A warning promises a date: the policy raised since, that warning no
# longer stands for the revocation the new policy gives, a year on.  The
# owner is warned again in the week before it, and only then revoked.
subtest 'unused tokens: a warning under a shorter policy does not stand for a longer one' => sub {
    $env->user_add('hal', '--email', 'hal@example.com');
    my $id = mk('hal', 'nightly', created => "now() - interval '400 days'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '31 days' WHERE id = '$id'");
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    my ($rc, $out, $err, $m) = notify();
    ok(grep({ to_of($_) eq 'hal@example.com' && $_->{body} =~ /id $id\)\n  has not been used since/ } @$m),
       'warned under 30 days') or diag explain $m;
    $env->cli_ok('policy', '--revoke-unused-after', '365d');
    ($rc, $out, $err, $m) = notify();
    ok(!grep({ to_of($_) eq 'hal@example.com' } @$m), 'raised to 365 days: nothing yet') or diag $out;
    # 340 days on: idle 371 days, the warning 340 days old.
    my $back = "interval '340 days'";
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = last_authenticated - $back WHERE id = '$id'");
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - $back WHERE token_id = '$id'");
    ($rc, $out, $err, $m) = notify(args => ['--dry-run']);
    unlike($out, qr/^would revoke $id/m, 'idle 371 days: not revoked on the old warning (dry run)') or diag $out;
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    unlike($out, qr/^revoked $id/m, '  nor for real');
    my ($h) = grep { to_of($_) eq 'hal@example.com' } @$m;
    like($h && $h->{body}, qr/id $id\)\n  has not been used since .*\n  Tokens unused for 365 days are revoked/,
         '  warned again, of 365 days') or diag explain $m;
    is($env->token_row($id)->{revoked_at}, '', '  still live');
    # A week after that warning: revoked.
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - interval '8 days' WHERE token_id = '$id'");
    ($rc, $out, $err, $m) = notify();
    like($out, qr/^revoked $id of hal/m, 'a week after it: revoked') or diag "$out$err";

    # Switched off after a warning, and on again 100 days later: that
    # warning's date is long past, and does not stand for a revocation the
    # day the policy is back.
    my $id2 = mk('hal', 'weekly', created => "now() - interval '400 days'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '31 days' WHERE id = '$id2'");
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    ($rc, $out, $err, $m) = notify();
    ok(grep({ to_of($_) eq 'hal@example.com' && $_->{body} =~ /id $id2\)/ } @$m), 'warned under 30 days again')
        or diag explain $m;
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
    $back = "interval '100 days'";
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = last_authenticated - $back WHERE id = '$id2'");
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - $back WHERE token_id = '$id2'");
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    ($rc, $out, $err, $m) = notify();
    unlike($out, qr/^revoked $id2/m, 'off, and on 100 days later: not revoked on the old warning') or diag $out;
    ok(grep({ to_of($_) eq 'hal@example.com' && $_->{body} =~ /id $id2\)\n  has not been used since/ } @$m),
       '  warned again') or diag explain $m;
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - interval '8 days' WHERE token_id = '$id2'");
    ($rc, $out, $err, $m) = notify();
    like($out, qr/^revoked $id2 of hal/m, '  a week after it: revoked') or diag "$out$err";
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

# A warning counts once received: a mailer refusing an owner's message (a
# mailbox gone, a relay down) leaves their unused tokens alive, notify
# failing each run; without an address the warning is told to nobody and
# the token goes a week later.
subtest 'unused tokens of an owner whose mail is refused: kept until the address goes' => sub {
    $env->user_add('ivy', '--email', 'ivy@example.com');
    my $id = mk('ivy', 'forgotten', created => "now() - interval '400 days'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '40 days' WHERE id = '$id'");
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    for my $run (1, 2) {
        my ($rc, $out, $err, $m) = notify(env => { BBT_SENDMAIL_REFUSE => 'ivy@example.com' });
        isnt($rc, 0, "run $run: the mailer refuses ivy's message: notify fails") or diag $out;
        is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$id'"), 0, '  nothing recorded');
        $env->psql("UPDATE bbtoken_tokens SET last_authenticated = last_authenticated - interval '30 days'"
                   . " WHERE id = '$id'");
    }
    is($env->token_row($id)->{revoked_at}, '', 'idle 100 days, never warned: not revoked');
    $env->cli_ok('user', 'set', 'ivy', '--no-email');
    my ($rc, $out, $err, $m) = notify();
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$id' AND kind = 'unused'"), 1,
       'without an address: the warning told to nobody') or diag "$out$err";
    is($env->token_row($id)->{revoked_at}, '', '  not revoked yet');
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - interval '8 days' WHERE token_id = '$id'");
    ($rc, $out, $err, $m) = notify();
    like($out, qr/^revoked $id of ivy/m, 'a week on: revoked') or diag "$out$err";
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

no_secrets_mailed(13, 30);

done_testing;
