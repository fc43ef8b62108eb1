# Bitbucket's page on personal access tokens: "You can't use a token to log
# in via the web UI" and "You can't use a token to perform changes on behalf
# of a user (for example, create new tokens ...)".  Our web UI is the tokens
# page and the access-tokens API behind it, served by the shipped snippets
# (conf/bbtoken-rest.conf.in, bbtoken-page.conf.in) on a host of their own,
# as the README says.  The user's password opens the page; the same user's
# token, which git takes, opens neither the page nor the API, in any way a
# browser or a client can send it, and makes no token.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(b64 auth_basic auth_bearer);
use BBT::Assert;

my $api = "Define BBTOKEN_API_HOST\n" . BBT::Httpd::shipped_conf('rest') . BBT::Httpd::shipped_conf('page')
    . "UnDefine BBTOKEN_API_HOST\n";
# The harness's own /scm is the git control.
my $env = BBT::Env->new(extra_conf => "TypesConfig /dev/null\n", api_conf => $api, httpd => 0,
                        modules => [qw(auth_basic authn_file authz_user include mime dir headers)])->start;
$env->install_page;
my $pw = 'alice-Pa55-word';
$env->htpasswd(alice => $pw);
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
# Bitbucket's default: the owner's full level.  No narrower token would
# show more: the page is refused to tokens whatever they hold.
my ($tok, $id) = $env->token_create('alice', name => 'full');
my $bare = $tok =~ s/^BBDC-//r;

sub page {
    my ($h, $path) = @_;
    return $env->http->request('GET', $env->api_url($path // '/account/tokens/'), { headers => $h });
}
sub live_tokens { scalar grep { /^\d{12}\b/ } split /\n/, $env->cli_ok('list', 'alice') }

is_ok_res($env->get('/scm/PROJ/repo.git/info/refs?service=git-upload-pack', auth_bearer($tok)),
          'control: the token is good (git takes it)');
my $res = page(auth_basic('alice', $pw));
is_ok_res($res, 'control: the password opens the page');
like($res->{content}, qr/Personal access tokens/, '  and it is the tokens page');
is_ok_res(page(auth_basic('alice', $pw), '/account/tokens/tokens.js'), '  and its script');

# Each form and its refusal: a token as the password or Bearer is a token
# that BBTokenRoutes none keeps out (403); one as the user name is no user
# name at all (401).
my %forms = (
    'Bearer'                            => [auth_bearer($tok), 403],
    'Bearer, no BBDC- prefix'           => [auth_bearer($bare), 403],
    'Basic alice:token (the login box)' => [auth_basic('alice', $tok), 403],
    'Basic alice:token, no prefix'      => [auth_basic('alice', $bare), 403],
    'Basic with the token as user name' => [{ Authorization => 'Basic ' . b64("$tok:") }, 401],
);
for my $form (sort keys %forms) {
    for my $path ('/account/tokens/', '/account/tokens/tokens.js') {
        $res = page($forms{$form}[0], $path);
        is($res->{status}, $forms{$form}[1], "page $path, $form: refused");
        unlike($res->{content} // '', qr/Personal access tokens/, '  the page is not served');
    }
}

my $before = live_tokens();
for my $form (sort keys %forms) {
    $res = $env->rest(PUT => '/rest/access-tokens/1.0/users/alice', api => 1, auth => $forms{$form}[0]{Authorization},
                      json => { name => "by token, $form", permissions => ['REPO_READ'] });
    is($res->{status}, $forms{$form}[1], "create a token with a token, $form: refused");
    ok(!($res->{json} && ref $res->{json} eq 'HASH' && $res->{json}{token}), '  no token in the answer');
    $res = $env->rest(GET => '/rest/access-tokens/1.0/users/alice', api => 1, auth => $forms{$form}[0]{Authorization});
    is($res->{status}, $forms{$form}[1], '  list the tokens with a token: refused');
    $res = $env->rest(POST => "/rest/access-tokens/1.0/users/alice/$id", api => 1,
                      auth => $forms{$form}[0]{Authorization}, json => { permissions => ['REPO_READ'] });
    is($res->{status}, $forms{$form}[1], '  change a token with a token: refused');
}
is(live_tokens(), $before, 'no token was made');
is($env->token_row($id)->{repo_perm}, 'REPO_ADMIN', 'and the token was not changed');
is_status($env->rest(PUT => '/rest/access-tokens/1.0/users/alice', api => 1, as => 'alice',
                     json => { name => 'by password', permissions => ['REPO_READ'] }),
          200, 'control: the password makes one');
is(live_tokens(), $before + 1, '  and it is listed');

done_testing;
