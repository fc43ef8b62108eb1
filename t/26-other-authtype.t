# The module keeps httpd's own header dump (http:trace4) from logging
# credentials by holding that one log line back and writing the dump again
# with the credentials redacted.  Nothing about the request changes: a
# location protected by mod_auth_basic on the same server still works, a
# CGI there that asks for the header (CGIPassAuth) still gets it, and <If>
# expressions, evaluated before any auth hook, still see it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(b64);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /pw-env/ "@DIR@/cgi-bin/env.cgi/"
<Location /pw-env>
    CGIPassAuth On
    AuthType Basic
    AuthName "Passwords"
    AuthBasicProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
</Location>
<Location /if-auth>
    <If "-n %{HTTP:Authorization}">
        Require all denied
    </If>
</Location>
EOC
my $env = BBT::Env->new(
    extra_conf => $extra,
    modules    => [qw(auth_basic authn_file authz_user)],
    loglevel   => 'warn http:trace4 bbtoken:debug',
)->start;

$env->htpasswd(carol => 'carol-s3cret');

my $r = $env->get('/pw-env/x', { Authorization => 'Basic ' . b64('carol:carol-s3cret') });
is_status($r, 200, 'mod_auth_basic location accepts the right password');
like($r->{content}, qr/^REMOTE_USER=carol$/m, 'REMOTE_USER is the password user');
like($r->{content}, qr/^HTTP_AUTHORIZATION=Basic /m,
    'the CGI asked for Authorization (CGIPassAuth) and got it back');

$r = $env->get('/pw-env/x', { Authorization => 'Basic ' . b64('carol:wrong') });
is_status($r, 401, 'a wrong password is still refused there');

$r = $env->get('/pw-env/x');
is_status($r, 401, 'no password is refused there');

is_status($env->get('/if-auth/x', { Authorization => 'Bearer abc' }), 403,
    '<If "-n %{HTTP:Authorization}"> sees the header');
is_status($env->get('/if-auth/x'), 404, '... and its absence');

# The dump of request headers is on (trace4) and shows other headers, but
# not the credentials, in either kind of location.
my $log = $env->error_log_text;
like($log, qr/Headers received from client \(credentials redacted by mod_bbtoken\)/,
    'http:trace4 dumped the request headers, through the module');
like($log, qr/^\S.*\]   Host: 127\.0\.0\.1/m, 'the dump lists headers such as Host');
like($log, qr/\]   Authorization: \[redacted\]$/m, 'the dump lists Authorization, redacted');
unlike($log, qr/\]   Authorization: (?!\[redacted\]$)/m, 'and never with its value');
unlike($log, qr/carol-s3cret|\Q${\ b64('carol:carol-s3cret')}\E/, 'the password is in no log line');

done_testing;
