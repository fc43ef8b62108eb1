# A leak report whose database work fails is never the 202 that says each
# valid token received is now revoked.  The revocation waits for a token
# another session holds until the API's statement_timeout (a second here)
# cancels it: 503 with Retry-After, the token live, and revoked once
# reported again.  The read of the reported tokens refused (the API role
# without SELECT on bbtoken_tokens): not 202 either, and nothing revoked.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);
use BBT::Assert;

my $env = rest_env(login => 'bbtoken', revoke_by_value => 1,
                   env => { dbd_options => '-cstatement_timeout=1000' });
$env->user_add('alice', '--email', 'alice@example.com');
my $URL = '/rest/access-tokens/latest/revoke-by-value';

sub report { return $env->rest(POST => $URL, noauth => 1, json => [@_]) }
sub revoked { my ($id) = @_; return $env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id'") eq 't' }

subtest 'the revocation cancelled (statement_timeout): 503, the token live' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'held', perms => ['REPO_READ']);
    my $h = $env->pg_session('hold');
    $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$id' FOR UPDATE;");
    ok($h->done, 'another session holds the token\'s row');
    my $res = report($tok);
    is($res->{status}, 503, 'the report: 503') or diag "$res->{status} $res->{content}";
    like($res->{headers}{'retry-after'} // '', qr/^\d+\z/, '  with Retry-After');
    unlike($res->{content} // '', qr/now revoked/, '  never saying the token is revoked');
    $h->send('ROLLBACK;');
    ok($h->done, 'the row given back');
    $h->finish;
    ok(!revoked($id), 'the token is live, as the answer said');
    is_status(report($tok), 202, 'reported again: 202');
    ok(revoked($id), '  revoked');
};

subtest 'the read of the reported tokens refused: not 202, nothing revoked' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'unread', perms => ['REPO_READ']);
    $env->psql('REVOKE SELECT ON bbtoken_tokens FROM bbtoken_api');
    my $res = report($tok);
    $env->psql('GRANT SELECT ON bbtoken_tokens TO bbtoken_api');
    isnt($res->{status}, 202, "the report: not 202 ($res->{status})");
    unlike($res->{content} // '', qr/now revoked/, '  never saying the token is revoked');
    ok(!revoked($id), 'the token is live');
    is_status(report($tok), 202, 'the grant back, reported again: 202');
    ok(revoked($id), '  revoked');
};

done_testing;
