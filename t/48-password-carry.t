# A password user let in by one section's AuthBBTokenProvider must not be
# carried, by an internal redirect (here an ErrorDocument), into a section
# that takes tokens only: there the user is refused, as they would be when
# asking for that URL directly.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(b64);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /tok/ "@DIR@/cgi-bin/env.cgi/"
<Location /tok>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /tok
    Require valid-user
</Location>
Alias /pwe "@DIR@/scratch"
<Location /pwe>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
    ErrorDocument 404 /tok/PROJ/repo.git/info/refs?service=git-receive-pack
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file authz_user)])->start;
$env->htpasswd(dave => 'dave-Pa55-word');
$env->make_repo('PROJ', 'repo');
my $auth = { Authorization => $env->basic('dave', 'dave-Pa55-word') };

my $r = $env->get('/pwe/', $auth);
ok($r->{status} != 401, 'the password works where passwords are taken')
    or diag "status $r->{status}";
is_status($env->get('/tok/PROJ/repo.git/info/refs?service=git-receive-pack', $auth), 401,
    'asked directly, the token-only section refuses the password');

$r = $env->get('/pwe/nothing-here', $auth);
unlike($r->{content} // '', qr/^REMOTE_USER=dave$/m,
    'through an ErrorDocument redirect, the token-only CGI never runs for the password user');
isnt($r->{status}, 200, 'and the answer is not a success') or diag $r->{content};
like($env->error_log_text, qr/authenticated by password elsewhere/,
    'the module says why it refused');

done_testing;
