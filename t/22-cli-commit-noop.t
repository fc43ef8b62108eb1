# A CLI write that changes nothing, whose COMMIT's answer the connection
# loses.  A rerun with the values the database holds already (a grant, a
# policy, a project's setting, a token's name, a user disabled again) or
# an ungrant of no grant still takes a transaction id (a row written over
# with its own values, a row locked FOR SHARE) but writes no record to the
# audit trail, the evidence the CLI asks for after such a loss, so it said
# "whether it took effect is not known ... does not hold its records in
# the audit trail", exit 1: the usual case, since "not done ... safe to
# run again" asks for such a rerun.  Now a transaction whose every change
# the audit trail records, and which recorded none, changed nothing: a
# lost COMMIT lost nothing, and the command ends as it would have, its
# no-op answer and all, having said that the connection was lost.  A
# real change cut so is still judged by its audit records.  The COMMIT is
# cut as a failover cuts it: it waits for a synchronous standby that never
# comes, and its backend is ended there, the transaction committed
# locally (BBT::Cli's cli_commit_cut).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;

$env->user_add('bob');
$env->user_add('carol');
$env->grant('bob', 'PROJECT_READ', 'PROJ');
$env->cli_ok('policy', '--max-tokens', '50');
$env->cli_ok('project', 'PROJ', '--repo-admins-manage-tokens', 'no');
$env->cli_ok('user', 'disable', 'carol');
my (undef, $id) = $env->token_create('bob', name => 'b1x');

sub audited { $env->psql('SELECT count(*) FROM bbtoken_audit') }

# The line a write that changed nothing says after its lost COMMIT.
sub unchanged_re {
    my ($what) = @_;
    return qr/^bbtoken: \Q$what\E: the connection was lost at its COMMIT \([^\n]*\), but it had changed nothing \(the audit trail records each of its changes, and it had recorded none\), so nothing was lost: connected again\n/m;
}

# bbtoken @args, cut: the checks every no-op shares; (rc, stdout, stderr).
sub noop {
    my ($what, @args) = @_;
    my $before = audited();
    my ($rc, $out, $err, $cut) = $env->cli_commit_cut(undef, @args);
    ok($cut, "@args: its COMMIT cut while it waited for the standby") or return;
    like($err, unchanged_re($what), '  it says nothing was lost') or diag $err;
    unlike($err, qr/not known|not done|done, though/, '  not "not known", nor "done" or "not done"') or diag $err;
    is(audited(), $before, '  the audit trail holds nothing more');
    return ($rc, $out, $err);
}

subtest 'a grant given again' => sub {
    my ($rc) = noop('granting', 'grant', 'bob', 'PROJECT_READ', 'PROJ');
    is($rc, 0, '  exit 0, as without the cut');
    is($env->psql("SELECT permission FROM bbtoken_project_grants WHERE project_key = 'PROJ'"), 'PROJECT_READ',
       '  the grant as it was');
};

subtest 'the policy set to what it is' => sub {
    my ($rc, $out) = noop('changing the policy', 'policy', '--max-tokens', '50');
    is($rc, 0, '  exit 0');
    like($out, qr/^max-tokens: 50$/m, '  and the policy shown, on the new connection');
};

subtest 'a project set to what it is' => sub {
    my ($rc, $out) = noop('changing the project', 'project', 'PROJ', '--repo-admins-manage-tokens', 'no');
    is($rc, 0, '  exit 0');
    like($out, qr/^repo-admins-manage-tokens: no$/m, '  and the project shown');
};

subtest 'a token given its own name' => sub {
    my ($rc) = noop('updating the token', 'update', $id, '--name', 'b1x');
    is($rc, 0, '  exit 0');
    is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$id' AND revoked_at IS NULL"), 'b1x',
       '  the token as it was');
};

subtest 'a user disabled again' => sub {
    my ($rc) = noop('changing the user', 'user', 'disable', 'carol');
    is($rc, 0, '  exit 0');
    is($env->psql("SELECT active FROM bbtoken_users WHERE name = 'carol'"), 'f', '  still disabled');
};

subtest 'an ungrant of no grant' => sub {
    my ($rc, $out, $err) = noop('removing the grant', 'ungrant', 'bob', 'OTHER');
    is($rc, 1, '  exit 1, as without the cut');
    like($err, qr/^bbtoken: bob has no grant on OTHER\n\z/m, '  saying what it says without it') or diag $err;
};

subtest 'a real change cut so: done, by its audit records' => sub {
    my $before = audited();
    my ($rc, $out, $err, $cut) = $env->cli_commit_cut(undef, 'grant', 'bob', 'PROJECT_WRITE', 'PROJ');
    ok($cut, 'its COMMIT cut while it waited for the standby') or return;
    is($rc, 0, 'exit 0') or diag $err;
    like($err, qr/^bbtoken: granting: done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds its records in the audit trail; but the synchronous standby did not confirm it: a failover may lose it\n/m,
         'done, by its audit records, the standby\'s wait cut said') or diag $err;
    unlike($err, qr/changed nothing/, '  not said to have changed nothing');
    is(audited(), $before + 1, '  the grant audited');
    is($env->psql("SELECT permission FROM bbtoken_project_grants WHERE project_key = 'PROJ'"), 'PROJECT_WRITE',
       '  and made');
};

is($env->psql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names is reset');
done_testing;
