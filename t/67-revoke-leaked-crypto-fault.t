# Revoke-by-value while OpenSSL fails to hash a reported token (out of
# memory), its HMAC, the second HMAC of a token found (the hash sent to the
# database, after the check passed) or its checksum's SHA-256: nothing is
# revoked and the answer is 503 with Retry-After (BBT232), not the 202 that
# says each valid token received is now revoked; the token stays live, as
# the answer says.
# Reported again once OpenSSL works, it is revoked.  httpd runs with a
# preloaded OpenSSL that fails on demand (t/dso/cryptofail.c).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since until_status);
use BBT::Rest qw(rest_env);
use BBT::CryptoFault qw(crypto_fault_preload crypto_fail);

crypto_fault_preload();
my $env = rest_env(login => 'bbtoken', revoke_by_value => 1, passwords => [alice => 'alice-Pa55-word']);
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'leaky', perms => ['REPO_READ']);
my $URL = '/rest/access-tokens/latest/revoke-by-value';
my $GIT = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

sub report { return $env->rest(POST => $URL, noauth => 1, json => [@_]) }
sub revoked { return $env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id'") eq 't' }

for my $what ('hmac', 'hmac-reused', 'checksum') {
    subtest "the token's $what fails" => sub {
        crypto_fail($env, $what);
        my $mark = log_mark($env);
        my $res = report($tok);
        crypto_fail($env);
        my $log = log_since($env, $mark);
        is_503($res, "the report while the $what fails");
        like($res->{content} // '', qr/none of them is revoked/, 'the answer says nothing was revoked');
        unlike($res->{content} // '', qr/now revoked/, 'and never that it was');
        like($log, qr/BBT232: .*could not be checked, nothing of it revoked/, 'BBT232 says so');
        unlike($log, qr/BBT230: /, 'no revocation logged');
        ok(!revoked(), 'the token is not revoked');
        is_ok_res($env->get($GIT, auth_bearer($tok)), 'and it is still let in, as the answer said');
    };
}

subtest 'reported again, OpenSSL working' => sub {
    my $res = report($tok);
    is_status($res, 202, 'the report is accepted');
    ok(revoked(), 'the token is revoked');
    my ($ok, $n, $seen) = until_status($env, $GIT, auth_bearer($tok), 401);
    ok($ok, 'and refused (401)') or diag $seen;
};
done_testing;
