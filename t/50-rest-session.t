# The access-tokens API's writes set, for their transaction, every setting
# the schema's triggers read, and session_replication_role to origin,
# whatever the pooled session was given when it connected (ALTER ROLE
# bbtoken_api ... SET, DBDParams' options, PGOPTIONS in httpd's
# environment).  The API set bbtoken.source, bbtoken.actor and
# bbtoken.client_addr and left the rest: a role's bbtoken.notify_at = 0
# had every change of the API's skip its notification, and
# session_replication_role = replica (which a superuser may give the role,
# and the role may then not take back) skipped the policy, the audit and
# the notifications of every create, update, rotate and revocation, leak
# reports' too.  Now the first is the API's own, and under the second each
# write is answered 503, nothing done, with BBT200 saying why
# (mod_bbtoken/bbt_sessionsql.h, which the CLI's session takes too:
# t/22-cli-session).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my $env = rest_env(revoke_by_value => 1, passwords => [alice => 'alice-Pa55-word'], users => ['alice']);
my $API = '/rest/access-tokens/1.0/users/alice';
sub create { $env->rest(PUT => $API, as => 'alice', json => { name => $_[0], permissions => ['PROJECT_READ'] }) }
sub revoke { $env->rest(DELETE => "$API/$_[0]", as => 'alice') }

# ALTER ROLE bbtoken_api $what, read by the API's sessions from the next
# start of httpd on.
sub api_role {
    my ($what) = @_;
    $env->psql("ALTER ROLE bbtoken_api $what", db => 'postgres');
    $env->httpd_restart;
}
sub skips { $env->psql('SELECT n FROM bbtoken_notify_skips') }
sub tokens { $env->psql("SELECT count(*) || ' ' || count(revoked_at) FROM bbtoken_tokens") }
sub audits { $env->psql('SELECT count(*) FROM bbtoken_audit') }

subtest 'bbtoken.notify_at = 0 on the API\'s role: its changes notify all the same' => sub {
    api_role("SET bbtoken.notify_at = '0'");
    my $n = skips();
    my $res = create('notify-at');
    is($res->{status}, 200, 'a token made') or diag res_summary($res);
    my $id = $res->{json} && $res->{json}{id};
    $res = revoke($id);
    is($res->{status}, 204, '  and revoked') or diag res_summary($res);
    is(skips(), $n, '  neither change skipped its notification');
    api_role('RESET bbtoken.notify_at');
};

subtest 'session_replication_role = replica on the API\'s role: 503, nothing written' => sub {
    my (undef, $id) = $env->token_create('alice', name => 'live', expiry_days => 7);
    my ($tok) = $env->token_create('alice', name => 'leaked', expiry_days => 7);
    api_role('SET session_replication_role = replica');
    is($env->psql('SHOW session_replication_role', user => 'bbtoken_api'), 'replica',
       'the role\'s sessions are replica ones');
    my ($t, $a) = (tokens(), audits());
    my $log = length $env->error_log_text;
    my $res = create('replica');
    is($res->{status}, 503, 'create: 503') or diag res_summary($res);
    $res = revoke($id);
    is($res->{status}, 503, 'revoke: 503') or diag res_summary($res);
    $res = $env->rest(POST => '/rest/access-tokens/1.0/revoke-by-value', noauth => 1, json => [$tok]);
    is($res->{status}, 503, 'revoke-by-value: 503') or diag res_summary($res);
    is(tokens(), $t, 'no token made or revoked');
    is(audits(), $a, 'nothing audited');
    my $said = substr $env->error_log_text, $log;
    my @why = $said =~ /(BBT200: access-tokens API: starting a transaction failed: session_replication_role is replica[^\n]*may not set it to origin)/g;
    is(scalar @why, 3, 'BBT200 says why, for each') or diag $said;
    api_role('RESET session_replication_role');
    $res = create('origin');
    is($res->{status}, 200, 'without it: made') or diag res_summary($res);
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'created' AND token_id = '"
                  . ($res->{json} && $res->{json}{id}) . "'"), 1, '  and audited');
};

done_testing;
