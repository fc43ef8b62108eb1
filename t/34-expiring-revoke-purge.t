# Expiry warnings, revocation and cleanup (issue 3): bbtoken expiring (and
# its silence when there is nothing, for cron), revoke --user, disabling a
# user stopping all their tokens at once, purge --expired-before removing
# only dead rows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(settle);

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
$env->user_add($_) for qw(alice bob);
$env->grant($_, 'PROJECT_READ', 'PROJ') for qw(alice bob);

subtest 'expiring' => sub {
    my ($rc, $out, $err) = $env->cli('expiring');
    ok($rc == 0 && $out eq '' && $err eq '', 'nothing expiring: no output at all (cron sends no mail)')
        or diag "exit $rc: '$out' '$err'";
    is_deeply($env->cli_json('expiring'), [], '--json: []');
    my (undef, $soon) = $env->token_create('alice', name => 'soon', expiry_days => 3);
    my (undef, $later) = $env->token_create('bob', name => 'later', expiry_days => 10);
    my (undef, $never) = $env->token_create('alice', name => 'never');
    my (undef, $gone) = $env->token_create('alice', name => 'gone', expiry_days => 2);
    my ($dead_tok, $dead) = $env->token_create('bob', name => 'dead', expiry_days => 1);
    $env->expire_token($dead);
    $env->cli_ok('revoke', $gone);
    ($rc, $out, $err) = $env->cli('expiring', '--within', '7d');
    is($rc, 0, 'expiring --within 7d') or diag $err;
    my @l = split /\n/, $out;
    like($l[0], qr/^EXPIRES\s+STATUS\s+USER\s+ID\s+NAME\s+LAST USED$/, 'header');
    is(scalar @l, 3, 'two tokens') or diag $out;
    like($l[1], qr/^\S+Z\s+expired\s+bob\s+$dead\s+dead\s+never$/, 'the expired one first, marked expired');
    like($l[2], qr/^\S+Z\s+in [23] days\s+alice\s+$soon\s+soon\s+never$/, 'then the one expiring in 3 days');
    # The same tokens; how many whole days are left may tick over
    # between the two calls.
    my $days = sub { (my $t = shift) =~ s/in \d+ days/in N days/g; $t };
    is($days->($env->cli_ok('expiring')), $days->($out), 'the default is 7 days');
    my $j = $env->cli_json('expiring', '--within', '2w');
    is_deeply([map { $_->{id} } @$j], [$dead, $soon, $later], '--within 2w: ordered by expiry, with the 10-day one');
    is_deeply($j->[0]{user}, { name => 'bob', active => JSON::PP::true }, 'user {name, active}');
    ok($j->[0]{expired} && !$j->[1]{expired}, 'expired flags');
    ok($j->[1]{expiryDate} =~ /^\d{13}$/, 'expiryDate in epoch ms');
    is_deeply($j->[1]{permissions}, ['PROJECT_ADMIN', 'REPO_ADMIN'], 'permissions');
    is_deeply([map { $_->{id} } @{ $env->cli_json('expiring', '--within', '1h') }], [$dead],
              'within an hour: only the expired one, still listed');
    is_401($env->get($UP, auth_bearer($dead_tok)), 1, 'and it does not work');
    for my $bad ('7x', 'x', '-1d', '1.5d', '') {
        ($rc, $out, $err) = $env->cli('expiring', '--within', $bad);
        ok($rc == 1 && $err =~ /--within/, "--within '$bad': exit 1") or diag "$rc $err";
    }
    is(($env->cli('expiring', 'extra'))[0], 2, 'an operand: usage');
};

subtest 'revoke --user, and disabling a user stops all their tokens at once' => sub {
    my @a = map { [$env->token_create('alice', name => "r$_")] } 1 .. 3;
    my ($bt) = $env->token_create('bob', name => 'b1');
    is_ok_res($env->get($UP, auth_bearer($_->[0])), "alice's token works") for @a;
    my ($rc, $out, $err) = $env->cli('revoke', '--user', 'ALICE');
    is($rc, 0, 'revoke --user ALICE') or diag $err;
    like($out, qr/^revoked [45] tokens of alice\n\z/, 'says how many');
    settle();    # the token cache's bound: half a second
    is_401($env->get($UP, auth_bearer($_->[0])), 1, "alice's token refused") for @a;
    is_ok_res($env->get($UP, auth_bearer($bt)), "bob's token untouched");
    is($env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id "
                  . "WHERE u.name = 'alice' AND revoked_at IS NULL"), 0, 'none of alice\'s left');
    ($rc, $out) = $env->cli('revoke', '--user', 'alice');
    ok($rc == 0 && $out eq "revoked 0 tokens of alice\n", 'again: none, not a failure');
    ($rc, $out, $err) = $env->cli('revoke', '--user', 'nobody');
    ok($rc == 1 && $err =~ /nobody/, 'unknown user: exit 1');
    is(($env->cli('revoke'))[0], 2, 'neither ID nor --user: usage');
    is(($env->cli('revoke', '--user'))[0], 2, '--user without a value: usage');

    my ($b2) = $env->token_create('bob', name => 'b2');
    my ($b3) = $env->token_create('bob', name => 'b3', perms => ['REPO_READ']);
    is_ok_res($env->get($UP, auth_bearer($_)), "bob's token works") for $bt, $b2, $b3;
    $env->cli_ok('user', 'disable', 'bob');
    settle();
    is_401($env->get($UP, auth_bearer($_)), 1, "bob disabled: token refused at once") for $bt, $b2, $b3;
    $env->cli_ok('user', 'enable', 'bob');
    settle();
    is_ok_res($env->get($UP, auth_bearer($_)), 'enabled again: it works again') for $bt, $b2, $b3;
};

subtest 'purge --expired-before: dead rows only, audit kept' => sub {
    $env->user_add('carol');
    $env->grant('carol', 'PROJECT_READ', 'PROJ');
    my %id;
    (undef, $id{expired_long}) = $env->token_insert('carol', name => 'expired long ago',
        created => "now() - interval '40 days'", expires => "now() - interval '30 days'");
    (undef, $id{expired_recent}) = $env->token_insert('carol', name => 'expired recently',
        created => "now() - interval '10 days'", expires => "now() - interval '1 day'");
    (undef, $id{revoked_long}) = $env->token_insert('carol', name => 'revoked long ago',
        created => "now() - interval '40 days'", revoked => "now() - interval '20 days'");
    (undef, $id{revoked_now}) = $env->token_create('carol', name => 'revoked now', expiry_days => 1);
    $env->cli_ok('revoke', $id{revoked_now});
    my $live_tok;
    ($live_tok, $id{live}) = $env->token_create('carol', name => 'live', expiry_days => 5);
    (undef, $id{never}) = $env->token_create('carol', name => 'never');
    my $exists = sub { $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$_[0]'") };
    my ($rc, $out, $err) = $env->cli('purge', '--expired-before', '7d');
    is($rc, 0, 'purge --expired-before 7d') or diag $err;
    is($out, "purged 2 tokens\npurged 0 ended leak report counts\n", 'two');
    ok(!$exists->($id{expired_long}) && !$exists->($id{revoked_long}), 'dead for more than 7 days: gone');
    ok($exists->($id{expired_recent}) && $exists->($id{revoked_now}), 'dead for less: kept');
    ($rc, $out, $err) = $env->cli('purge', '--expired-before', '2099-01-01');
    is($rc, 0, 'purge --expired-before 2099-01-01') or diag $err;
    ok(!$exists->($id{expired_recent}) && !$exists->($id{revoked_now}), 'every dead token gone');
    ok($exists->($id{live}) && $exists->($id{never}), 'a live token is never purged, whatever the date');
    is_ok_res($env->get($UP, auth_bearer($live_tok)), 'and still works');
    for my $k (qw(expired_long revoked_long expired_recent revoked_now)) {
        my $ev = $env->psql("SELECT string_agg(event, ',' ORDER BY id) FROM bbtoken_audit WHERE token_id = '$id{$k}'");
        like($ev, qr/^created,.*deleted$/, "$k: its audit records are kept, ending with deleted") or diag $ev;
    }
    ($rc, $out, $err) = $env->cli('purge');
    is($rc, 2, 'purge without --expired-before: usage');
    for my $bad ('soon', '2026-02-30', '2026-01-01T25:00') {
        ($rc, $out, $err) = $env->cli('purge', '--expired-before', $bad);
        ok($rc == 1 && $err =~ /\Abbtoken: [^\n]+\n\z/, "--expired-before '$bad': exit 1") or diag "$rc $err";
    }
};

done_testing;
