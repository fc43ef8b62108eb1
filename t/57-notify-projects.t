# bbtoken notify: a project's and a repository's tokens, told to the
# project's active admins, once for all of them; one admin without an
# address does not settle a notice another admin's sendmail refused; a
# project with no active admin is reported and settled, so its unused
# tokens are still revoked; no token value in any message.  Mail goes
# through the stand-in sendmail (BBT::Notify, t/mail/sendmail); creation
# is faked with SQL as the table's owner (with the triggers off).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Notify;

my $env = BBT::Env->new(httpd => 0)->start;
notify_start($env);

$env->user_add('dave', '--email', 'dave@example.com');

subtest 'a project\'s and a repository\'s tokens: their project\'s admins are told' => sub {
    $env->user_add('pa1', '--email', 'pa1@example.com');
    $env->user_add('pa2', '--email', 'pa2@example.com');
    $env->user_add('pa3', '--email', 'pa3@example.com');
    $env->user_add('ra', '--email', 'ra@example.com');
    $env->grant('pa1', 'PROJECT_ADMIN', 'TEAM');
    $env->grant('pa2', 'PROJECT_ADMIN', 'TEAM');
    $env->grant('pa3', 'PROJECT_ADMIN', 'TEAM');
    $env->cli_ok('user', 'disable', 'pa3');
    $env->grant('ra', 'REPO_ADMIN', 'TEAM/app');
    $env->grant('dave', 'PROJECT_WRITE', 'TEAM');
    my %k;
    $k{pipeline} = mk_scoped('--project', 'TEAM', 'pipeline', '--expiry-days', 5);
    $k{deploy} = mk_scoped('--repo', 'TEAM/app', 'deploy', '--expiry-days', 5);
    # Made long ago (a token made inside its window gets no notice).
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET created_at = now() - "
               . "interval '100 days' WHERE user_id IS NULL");
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is($out, "mailed pa1 <pa1\@example.com>: 2 notices\nmailed pa2 <pa2\@example.com>: 2 notices\n",
       'each active project admin, once: not the disabled one, not a repository admin, not a writer');
    is_deeply([sort map { to_of($_) } @$m], ['pa1@example.com', 'pa2@example.com'], 'two messages');
    my $msg = $m->[0] or return;
    like($msg->{body}, qr/^this is about access tokens you own or whose project you administer\n\(user pa\d\)\.$/m,
         'the opening does not call them the reader\'s own');
    like($msg->{body}, qr/^Token "pipeline" \(id $k{pipeline}\) of project TEAM\n  expires on \S+Z, in less than 7 days\.$/m,
         'the project\'s token, named with its project');
    like($msg->{body}, qr/^Token "deploy" \(id $k{deploy}\) of repository TEAM\/app\n  expires on/m,
         'the repository\'s, with its repository');
    is_deeply(notices($k{pipeline}), { expires_7d => 'pa1@example.com, pa2@example.com' },
              'recorded once, with both addresses');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out eq '' && @$m == 0, 'run again: nothing') or diag "$rc $out $err";
    $env->cli_ok('revoke', '--repo', 'TEAM/app');
    ($rc, $out, $err, $m) = notify();
    is(scalar @$m, 2, 'revoked by the CLI: the admins are told') or return;
    like($m->[0]{subject}, qr/^Access token "deploy" was revoked by an administrator$/, 'the revocation');
};

subtest 'a shared token: an admin who cannot be mailed does not settle a notice another admin\'s sendmail refused' => sub {
    $env->user_add('sa1');                             # no address
    $env->user_add('sa2', '--email', 'sa2@example.com');
    $env->grant('sa1', 'PROJECT_ADMIN', 'SHARED');
    $env->grant('sa2', 'PROJECT_ADMIN', 'SHARED');
    my $id = mk_scoped('--project', 'SHARED', 'nightly', '--expiry-days', 5);
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET created_at = now() - "
               . "interval '100 days' WHERE id = '$id'");
    my ($rc, $out, $err, $m) = notify(env => { BBT_SENDMAIL_EXIT => 75 });
    is($rc, 1, 'sendmail refused: exit 1') or diag $err;
    like($out, qr/^not mailed: sa1 has no e-mail address \(1 notice\)$/m, 'the admin without an address: said');
    like($out, qr/^not mailed: sendmail failed for sa2 <sa2\@example\.com> \(1 notice kept for the next run\)$/m,
         'the admin whose mail failed: kept, it says');
    is_deeply(notices($id), {}, 'so nothing is recorded yet');
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'next run: exit 0') or diag $err;
    is_deeply([map { to_of($_) } @$m], ['sa2@example.com'], 'the admin with an address is told now');
    is_deeply(notices($id), { expires_7d => 'sa2@example.com' }, 'and it is recorded as mailed to them');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out eq '' && @$m == 0, 'then nothing') or diag "$rc $out $err";
};

subtest 'a project with no admin to tell: reported, settled, and the unused-token policy still applies' => sub {
    # LONE has a repository admin and no project admin: its tokens' notices
    # have nobody to go to, yet must not be left undecided for ever (the
    # policy's revocation waits for a recorded warning).
    $env->user_add('lra', '--email', 'lra@example.com');
    $env->grant('lra', 'REPO_ADMIN', 'LONE/app');
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    my %k = (LONE => mk_scoped('--project', 'LONE', 'lone pipeline'),
             'LONE/app' => mk_scoped('--repo', 'LONE/app', 'lone deploy'));
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET created_at = now() - "
               . "interval '40 days' WHERE project_key = 'LONE'");
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    like($out, qr/^not mailed: project LONE has no active project admin \(1 notice\)$/m, 'the project\'s: said')
        or diag $out;
    like($out, qr/^not mailed: repository LONE\/app has no active project admin \(1 notice\)$/m,
         'the repository\'s: said') or diag $out;
    ok(!grep({ to_of($_) eq 'lra@example.com' } @$m), 'the repository admin is not mailed (README: project admins)');
    is_deeply(notices($k{$_}), { unused => '' }, "$_: the warning counts as told, mailed to no one")
        for sort keys %k;
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out !~ /LONE/, 'not said again') or diag $out;
    $env->psql("UPDATE bbtoken_notices SET sent_at = now() - interval '8 days' WHERE kind = 'unused'"
               . " AND token_id IN ('$k{LONE}', '$k{'LONE/app'}')");
    ($rc, $out, $err, $m) = notify();
    my ($pid, $rid) = ($k{LONE}, $k{'LONE/app'});
    is($rc, 0, 'a week later: exit 0') or diag $err;
    like($out, qr/^revoked $pid of project:LONE \("lone pipeline"\): unused since \S+Z$/m,
         'the project\'s unused token is revoked') or diag $out;
    like($out, qr/^revoked $rid of repo:LONE\/app \("lone deploy"\): unused since \S+Z$/m,
         'the repository\'s too') or diag $out;
    isnt($env->token_row($k{$_})->{revoked_at}, '', "$_: revoked") for sort keys %k;
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
    notify();
};

no_secrets_mailed(5, 16);

done_testing;
