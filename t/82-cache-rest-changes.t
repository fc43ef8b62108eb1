# A change made through the access-tokens REST API is seen at once by the
# server that made it, with the cache on, not when PostgreSQL's
# notification arrives: the handler forgets the token's entries itself
# once the change has committed.  A leak report (revoke-by-value) above
# all, whose reporter holds a token someone else may be using right now;
# and a revocation, a permission lowered, a rotation.  The notifications
# are kept from the listener: its backend frozen (SIGSTOP) while it waits
# for its client, and httpd's boot clock stopped first, so that the last
# heartbeat stays as young as it was and the listener does not give the
# silent connection up.  The cache is believed throughout (another token
# is answered from it after the changes), so each refusal is the
# handler's forgetting, not a cache distrusted.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(served_from_cache settle wait_log log_mark log_since listener_pid freeze_idle);
use BBT::Clock qw(clock_preload stopped);
use BBT::Rest qw(rest_env);

clock_preload();
my $env = rest_env(revoke_by_value => 1, passwords => [alice => 'alice-Pa55-word'], users => ['alice'],
                   repos => [[PROJ => 'repo']], grants => [[alice => PROJECT_WRITE => 'PROJ']]);
my $A = '/rest/access-tokens/1.0/users/alice';
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

my %t;
for my $name (qw(leaked deleted lowered rotated other)) {
    @{ $t{$name} }{qw(tok id)} = $env->token_create('alice', name => $name, perms => ['PROJECT_READ', 'REPO_WRITE']);
}
settle();

# The listener kept from hearing anything while the API changes tokens:
# its backend and httpd's boot clock are let go when this ends, whatever
# happens (PostgreSQL could not stop with the backend frozen).
sub held_back {
    my ($changes) = @_;
    my $frozen;
    my $thaw = BBT::Cache::Guard->new(sub { kill 'CONT', $frozen if $frozen; stopped($env, 0) });
    stopped($env, 1);
    for my $name (sort keys %t) {
        ok(served_from_cache($env, $UP, auth_bearer($t{$name}{tok}), $t{$name}{id}),
           "httpd's clock stopped: $name answered from the cache");
    }
    ok(served_from_cache($env, $RP, auth_bearer($t{lowered}{tok}), $t{lowered}{id}), '  lowered may push');
    my $pid = listener_pid($env);
    like($pid, qr/^\d+$/, "the listener's backend: $pid") or return;
    # Named before it is stopped: a die while freeze_idle waits on its
    # psql (a SIGTERM, which BBT::Env makes one) must thaw it too.
    $frozen = $pid;
    my $tries = freeze_idle($env, $pid);
    ok($tries, "frozen: the listener hears nothing more ($tries tries)") or return;
    ok(served_from_cache($env, $UP, auth_bearer($t{leaked}{tok}), $t{leaked}{id}), 'the cache is still believed');
    my $mark = log_mark($env);
    $changes->();
    ok(served_from_cache($env, $UP, auth_bearer($t{other}{tok}), $t{other}{id}),
       'another token is still answered from the cache: it was believed all along');
    unlike(log_since($env, $mark), qr/BBT312: [^\n]*heartbeat is not fresh/, '  never distrusted meanwhile');
    is(listener_pid($env), $pid, '  and the listener kept its frozen connection');
}

held_back(sub {
    subtest 'a leak report: the reported token refused at once' => sub {
        my $res = $env->rest(POST => '/rest/access-tokens/latest/revoke-by-value', noauth => 1,
                             json => [$t{leaked}{tok}]);
        is($res->{status}, 202, 'reported: 202') or diag res_summary($res);
        is($env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$t{leaked}{id}'"), 't',
           '  revoked');
        is_401($env->get($UP, auth_bearer($t{leaked}{tok})), 1, 'the very next fetch: 401');
    };

    subtest 'a revocation (DELETE): refused at once' => sub {
        is_status($env->rest(DELETE => "$A/$t{deleted}{id}", as => 'alice'), 204, 'revoked: 204');
        is_401($env->get($UP, auth_bearer($t{deleted}{tok})), 1, 'the very next fetch: 401');
    };

    subtest 'a permission lowered: its push refused at once' => sub {
        is_ok_res($env->rest(POST => "$A/$t{lowered}{id}", as => 'alice', json => { permissions => ['REPO_READ'] }),
                  'lowered to REPO_READ: 200');
        is($env->get($RP, auth_bearer($t{lowered}{tok}))->{status}, 403, 'the very next push: 403');
        is_ok_res($env->get($UP, auth_bearer($t{lowered}{tok})), '  a fetch still works');
    };

    subtest 'a rotation: the old token refused at once' => sub {
        my $res = $env->rest(POST => "$A/$t{rotated}{id}/rotate", as => 'alice',
                             headers => { 'X-Atlassian-Token' => 'no-check' });
        is_ok_res($res, 'rotated: 200');
        is_401($env->get($UP, auth_bearer($t{rotated}{tok})), 1, 'the very next fetch with the old one: 401');
        is_ok_res($env->get($UP, auth_bearer($res->{json}{token} // '')), '  the new one works');
    };
});

settle();
is_401($env->get($UP, auth_bearer($t{$_}{tok})), 1, "the listener going on: $_ stays refused") for qw(leaked deleted rotated);
is($env->get($RP, auth_bearer($t{lowered}{tok}))->{status}, 403, '  lowered still may not push');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
