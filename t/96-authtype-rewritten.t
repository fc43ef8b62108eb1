# The AuthType is asked for in several phases of one request, and not
# always under the same configuration: the module's translate_name hook
# runs first, under the <Location>s of the URL the client sent, and a
# server-level RewriteRule [PT] after it may hand the request to another
# section, whose configuration the later phases see (map_to_storage's
# TRACE check, the authentication, the fixups).  Each configuration gets
# its own answer.  A request rewritten out of a section of AuthType
# BBToken into one of AuthType Basic is Basic's: its password is accepted
# there, its CGI gets the header it asks for (CGIPassAuth), a token is
# not taken there and no Bearer challenge offered, and a TRACE is
# httpd's to answer.  The request sent to that section itself is the
# control.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(b64);
use BBT::Assert;

my $extra = <<'EOC';
RewriteEngine On
RewriteRule ^/tok-pw/(.*)$ /pw-env/$1 [PT]
<Location /tok-pw>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /tok-pw
    Require bbtoken
</Location>
ScriptAlias /pw-env/ "@DIR@/cgi-bin/env.cgi/"
<Location /pw-env>
    CGIPassAuth On
    AuthType Basic
    AuthName "Passwords"
    AuthBasicProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
</Location>
EOC
my $env = BBT::Env->new(
    extra_conf => $extra,
    modules    => [qw(rewrite auth_basic authn_file authz_user)],
    loglevel   => 'warn bbtoken:debug',
)->start;
$env->htpasswd(carol => 'carol-s3cret');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'REPO_READ', 'PROJ/repo');
my $token = $env->token_create('alice', name => 'rw', perms => ['REPO_READ']);
my $pw = { Authorization => 'Basic ' . b64('carol:carol-s3cret') };
my $path = 'PROJ/repo.git/info/refs?service=git-upload-pack';

for my $top (qw(pw-env tok-pw)) {
    my $what = $top eq 'pw-env' ? 'sent to the Basic section' : 'rewritten into it';
    my ($r, $v) = $env->cgi_call('GET', "/$top/$path", $pw);
    is_status($r, 200, "$what: the password is accepted");
    is($v->{REMOTE_USER}, 'carol', '  REMOTE_USER is the password user');
    like($v->{HTTP_AUTHORIZATION} // '', qr/^Basic /,
         '  the CGI asked for the header (CGIPassAuth) and got it');
    ok(!defined $v->{BBTOKEN_ID}, '  no token variables');

    $r = $env->get("/$top/$path", { Authorization => "Bearer $token" });
    is_status($r, 401, "$what: a token is not taken there");
    my @c = challenges($r);
    ok((grep {/^Basic\s+realm="Passwords"/} @c) && !(grep {/^Bearer/i} @c),
       '  the challenge is Basic\'s alone') or diag "@c";

    $r = $env->request('TRACE', "/$top/$path", { 'X-Bbt-Probe' => 'echoed-if-answered' });
    is_status($r, 200, "$what: TRACE is httpd's to answer");
}
unlike($env->error_log_text, qr/BBT0(?:37|44): /,
       'the module authenticated nothing and refused no TRACE');

done_testing;
