# bbtoken notify: a project's token has several recipients (its project's
# admins), and each of them is told.  Each copy of a notice is recorded on
# its own, so a run killed between two admins' copies, or a sendmail that
# takes one admin's copy and refuses another's, leaves the admin not yet
# told to the next run, which sends exactly the copies not yet recorded; and
# a copy from an earlier idle spell does not count for a new unused-token
# warning, while one of this spell starts the week before the revocation,
# whatever the other admins' mail does; a recipient deleted while the run
# mails is skipped, not the end of the run.  Mail goes through the stand-in
# sendmail (t/mail/sendmail).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use POSIX ();
use BBT::Util qw(slurp);

my $env = BBT::Env->new(httpd => 0)->start;
my $SENDMAIL = "$BBT::Env::ROOT/t/mail/sendmail";
my $FROM = 'tokens@git.example.com';

sub maildir {
    my ($name) = @_;
    my $d = $env->dir . "/mail-$name";
    make_path($d);
    return $d;
}

# The addresses of the messages in $d from the $from'th on, in order.
sub mailed_to {
    my ($d, $from) = @_;
    opendir my $h, $d or die "$d: $!";
    my @m = sort grep {/\.eml\z/} readdir $h;
    return [map { slurp("$d/$_") =~ /^To: (\S+)$/m ? $1 : '?' } @m[($from // 0) .. $#m]];
}

sub notify {
    my ($d, %env) = @_;
    return $env->cli_env({ BBT_MAILDIR => $d, %env }, '--db', $env->superuser_conninfo, 'notify', '--from',
                         $FROM, '--sendmail', $SENDMAIL);
}

# A project's token named $name on $key, made long ago, expiring in 5 days;
# its id.
sub project_token {
    my ($key, $name) = @_;
    $env->cli_ok('create', '--project', $key, '--name', $name, '--expiry-days', 5);
    my $id = $env->psql("SELECT id FROM bbtoken_tokens WHERE name = '$name' AND user_id IS NULL");
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET created_at = now() - "
               . "interval '100 days' WHERE id = '$id'");
    return $id;
}

# The copies recorded of a token's notice: "kind user" each, sorted.
sub copies {
    my ($id) = @_;
    return [split /\n/, $env->psql("SELECT c.kind || ' ' || u.name FROM bbtoken_notice_copies c"
                                   . " JOIN bbtoken_users u ON u.id = c.user_id"
                                   . " WHERE c.token_id = '$id' ORDER BY 1")];
}

# No bbtoken session left in the database (a killed run's backend ends
# once it sees the connection closed).
sub gone {
    my $left = 1;
    for (1 .. 300) {
        last unless $left = $env->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bbtoken'");
        select undef, undef, undef, 0.1;
    }
    return !$left;
}

# Users are numbered in the order they are made, and mailed in that order:
# pa1, then o1, then pa2.
$env->user_add('pa1', '--email', 'pa1@example.com');
$env->user_add('o1', '--email', 'o1@example.com');
$env->user_add('pa2', '--email', 'pa2@example.com');
$env->grant('pa1', 'PROJECT_ADMIN', 'TEAM');
$env->grant('pa2', 'PROJECT_ADMIN', 'TEAM');

subtest 'killed between two admins\' copies: the next run sends the second, and not the first again' => sub {
    my $id = project_token('TEAM', 'pipeline');
    $env->token_insert('o1', name => 'laptop', created => "now() - interval '100 days'",
                       expires => "now() + interval '5 days'");
    my $d = maildir('kill');
    # pa1's message is taken and recorded; the run is killed once o1's is
    # taken, before pa2's is composed.
    my ($rc, $out, $err) = notify($d, BBT_SENDMAIL_KILL => 2);
    isnt($rc, 0, "killed (exit $rc)");
    is_deeply(mailed_to($d), ['pa1@example.com', 'o1@example.com'], 'pa1, then o1 (in flight)');
    ok(gone(), 'the killed run has left the database');
    is_deeply(copies($id), ['expires_7d pa1'], 'pa1\'s copy is recorded');
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$id'"), 0, 'the notice not yet told');
    ($rc, $out, $err) = notify($d);
    is($rc, 0, 'the next run') or diag $err;
    is_deeply(mailed_to($d, 2), ['o1@example.com', 'pa2@example.com'],
              'sends o1\'s again (in flight when killed) and pa2\'s copy, not pa1\'s again');
    is($env->psql("SELECT mailed_to FROM bbtoken_notices WHERE token_id = '$id'"),
       'pa1@example.com, pa2@example.com', 'the notice is told, to both');
    is_deeply(copies($id), [], 'its copies are gone with it');
    ($rc, $out, $err) = notify($d);
    ok($rc == 0 && $out eq '' && @{ mailed_to($d, 4) } == 0, 'then nothing') or diag "$rc $out $err";
};

subtest 'sendmail refuses one admin\'s copy: the next run sends that one alone' => sub {
    my $id = project_token('TEAM', 'nightly');
    my $d = maildir('refuse');
    my ($rc, $out, $err) = notify($d, BBT_SENDMAIL_REFUSE => 'pa2@example.com');
    is($rc, 1, 'exit 1') or diag $err;
    like($out, qr/^not mailed: sendmail failed for pa2 <pa2\@example\.com> \(1 notice kept for the next run\)$/m,
         'pa2\'s copy: kept for the next run, it says');
    is_deeply(mailed_to($d), ['pa1@example.com'], 'pa1 was mailed');
    is_deeply(copies($id), ['expires_7d pa1'], 'pa1\'s copy recorded');
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$id'"), 0, 'the notice not yet told');
    ($rc, $out, $err) = notify($d);
    is($rc, 0, 'the next run') or diag $err;
    is_deeply(mailed_to($d, 1), ['pa2@example.com'], 'mails pa2 alone');
    is($env->psql("SELECT mailed_to FROM bbtoken_notices WHERE token_id = '$id'"),
       'pa1@example.com, pa2@example.com', 'the notice is told, to both');
};

# Under a 30-day policy, a project's token named $name on TEAM, never
# expiring, made 40 days ago and never used, warned as unused by a run
# whose sendmail refuses pa2's copy: pa1's alone is recorded.  Its id and
# the run's maildir.
sub warned_pa1 {
    my ($name) = @_;
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    my $id = project_token('TEAM', $name);
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET expires_at = NULL,"
               . " created_at = now() - interval '40 days' WHERE id = '$id'");
    my $d = maildir($name);
    my ($rc, $out, $err) = notify($d, BBT_SENDMAIL_REFUSE => 'pa2@example.com');
    is($rc, 1, 'pa2 refused: exit 1') or diag $err;
    is_deeply(copies($id), ['unused pa1'], 'pa1 warned');
    return ($id, $d);
}

# Whether token $_[0] is revoked: 't' or 'f'.
sub revoked { return $env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$_[0]'") }

subtest 'an unused-token warning: a copy from an earlier idle spell does not count' => sub {
    my ($id, $d) = warned_pa1('idle');
    my ($rc, $out, $err);
    # pa1's warning was 30 days ago; the token was used after it, and has
    # been idle again for 25 days: due for a warning again.
    $env->psql("UPDATE bbtoken_notice_copies SET sent_at = now() - interval '30 days' WHERE token_id = '$id'");
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET last_authenticated"
               . " = now() - interval '25 days' WHERE id = '$id'");
    ($rc, $out, $err) = notify($d);
    is($rc, 0, 'the next run') or diag $err;
    is_deeply([sort @{ mailed_to($d, 1) }], ['pa1@example.com', 'pa2@example.com'],
              'warns both admins: pa1\'s old copy was for the earlier idle spell');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$id' AND revoked_at IS NULL"), 1,
       'and does not revoke it');
    is($env->psql("SELECT sent_at > now() - interval '1 hour' FROM bbtoken_notices"
                  . " WHERE token_id = '$id' AND kind = 'unused'"), 't', 'the warning is told as of now');
    # Used now: not warned again when a later subtest turns the policy on
    # (which forgets every live token's warning).
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET last_authenticated = now()"
               . " WHERE id = '$id'");
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

# A project's token warned as unused: revoked on time once any admin's copy
# of the warning went out, even while another admin's sendmail keeps
# refusing it (that copy is retried meanwhile), and the week runs from the
# first copy, also once the notice is told.
subtest 'an unused-token warning counts once one admin\'s copy went out' => sub {
    my ($id, $d) = warned_pa1('forgotten');
    my ($rc, $out, $err) = notify($d, BBT_SENDMAIL_REFUSE => 'pa2@example.com');
    like($out, qr/^not mailed: sendmail failed for pa2 <pa2\@example\.com> \(1 notice kept/m,
         'pa2\'s copy is retried') or diag $out;
    is(revoked($id), 'f', 'not revoked within the week');
    # A week later, pa2's mailbox still dead.
    $env->psql("UPDATE bbtoken_notice_copies SET sent_at = now() - interval '8 days' WHERE token_id = '$id'");
    ($rc, $out, $err) = notify($d, BBT_SENDMAIL_REFUSE => 'pa2@example.com');
    like($out, qr/^revoked $id of project:TEAM \("forgotten"\)/m, 'revoked: pa1 was warned a week ago') or diag $out;
    is(revoked($id), 't', 'the token is revoked');
    ($rc, $out, $err) = notify($d);
    is($rc, 0, 'pa2\'s mailbox back') or diag $err;
    is($env->psql("SELECT mailed_to FROM bbtoken_notices WHERE token_id = '$id' AND kind = 'revoked'"),
       'pa1@example.com, pa2@example.com', 'both told of the revocation');
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

subtest 'an unused-token warning told late: the week runs from the first copy' => sub {
    my ($id, $d) = warned_pa1('slow');
    my ($rc, $out, $err);
    # Five days later pa2's copy goes out too.
    $env->psql("UPDATE bbtoken_notice_copies SET sent_at = now() - interval '5 days' WHERE token_id = '$id'");
    ($rc, $out, $err) = notify($d);
    is($rc, 0, 'pa2 warned') or diag $err;
    # The date pa2 is given is the revocation's: a week after pa1's copy.
    opendir my $h, $d or die "$d: $!";
    my ($last) = reverse sort grep {/\.eml\z/} readdir $h;
    my ($on) = slurp("$d/$last") =~ /^To: pa2\@example\.com\n.*revoked\s+on or after (\S+Z) unless/ms;
    ok($on, "pa2's warning names a date") or return;
    is($env->psql("SELECT '$on'::timestamptz BETWEEN now() + interval '1 day' AND now() + interval '3 days'"), 't',
       "pa2 is told the token goes in 2 days, a week after pa1's warning: $on");
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$id' AND kind = 'unused'"), 1, 'told');
    # Three days later: a week and a day after pa1's warning.
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - interval '3 days' WHERE token_id = '$id'");
    ($rc, $out, $err) = notify($d);
    is(revoked($id), 't', 'revoked a week after the first copy') or diag $out;
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

subtest 'a recipient deleted while the run mails: the run goes on, and the notice is told to the rest' => sub {
    $env->user_add('pa3', '--email', 'pa3@example.com');
    $env->user_add('pa4', '--email', 'pa4@example.com');
    $env->grant('pa3', 'PROJECT_ADMIN', 'GONE');
    $env->grant('pa4', 'PROJECT_ADMIN', 'GONE');
    my $id = project_token('GONE', 'deploy-gone');
    my $d = maildir('gone');
    my $go = $env->dir . '/run/sendmail-go-gone';
    my $out_f = $env->dir . '/run/notify-gone';
    # The run is held by sendmail on pa3's message, before its copy is
    # recorded; meanwhile pa3 is deleted, as the README deletes a user.
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        local $env->{cli_timeout} = 600;
        my ($rc, $out, $err) = notify($d, BBT_SENDMAIL_WAIT => $go);
        BBT::Util::spew($out_f, "$rc\n$out\0$err");
        POSIX::_exit(0);
    }
    my $held = 0;
    for (1 .. 1200) {
        last if $held = @{ mailed_to($d) };
        select undef, undef, undef, 0.05;
    }
    is_deeply(mailed_to($d), ['pa3@example.com'], 'the run is in sendmail with pa3\'s message');
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'pa3'");
    BBT::Util::spew($go, '');
    waitpid($pid, 0);
    my ($rc, $rest) = split /\n/, slurp($out_f), 2;
    my ($out, $err) = split /\0/, $rest // '', 2;
    is($rc, 0, 'the run ends well') or diag "$out$err";
    unlike($err // '', qr/refused|rule of the schema/, '  refusing nothing');
    is_deeply(mailed_to($d), ['pa3@example.com', 'pa4@example.com'], '  and mails pa4 after pa3');
    is_deeply(copies($id), ['expires_7d pa4'], "pa4's copy recorded, none for the deleted pa3");
    ($rc, $out, $err) = notify($d);
    is($rc, 0, 'the next run') or diag $err;
    is_deeply(mailed_to($d, 2), [], '  mails nobody');
    is($env->psql("SELECT mailed_to FROM bbtoken_notices WHERE token_id = '$id'"), 'pa4@example.com',
       '  and tells the notice, to pa4, its one recipient left');
};

done_testing;
