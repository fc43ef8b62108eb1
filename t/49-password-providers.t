# Password users and the AuthBBTokenProvider providers: a password carried
# by an internal redirect into another section with the same providers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
<AuthnProviderAlias file file2>
    AuthUserFile "@DIR@/htpasswd"
</AuthnProviderAlias>
Alias /pwa "@DIR@/scratch"
<Location /pwa>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
    ErrorDocument 404 /pwb/PROJ/repo.git/info/refs?service=git-upload-pack
</Location>
Alias /pwa2 "@DIR@/scratch"
<Location /pwa2>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
    ErrorDocument 404 /pwc/PROJ/repo.git/info/refs?service=git-upload-pack
</Location>
# The same provider list as /pwa, written again: a list of its own.
ScriptAlias /pwb/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwb>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /pwb
    Require valid-user
</Location>
# Another list: the same file under another provider name.
ScriptAlias /pwc/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwc>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file2
    BBTokenRoutes git /pwc
    Require valid-user
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file authz_user)])->start;
my $h = $env->dir . '/htpasswd';
system('htpasswd', '-b', '-c', '-B', $h, 'dave', 'dave-Pa55-word') == 0
    or BAIL_OUT('htpasswd failed');
chmod 0644, $h;
$env->make_repo('PROJ', 'repo');
my $auth = { Authorization => $env->basic('dave', 'dave-Pa55-word') };
my $UP = 'PROJ/repo.git/info/refs?service=git-upload-pack';

subtest 'a password is carried into a section with the same providers' => sub {
    is_ok_res($env->get("/pwb/$UP", $auth), '/pwb takes the password asked directly');
    is_ok_res($env->get("/pwc/$UP", $auth), '/pwc takes it too, through file2');
    my $r = $env->get('/pwa/nothing-here', $auth);
    like($r->{content} // '', qr/^REMOTE_USER=dave$/m,
        'an ErrorDocument redirect from /pwa to /pwb (the same list, written twice) '
        . 'carries dave') or diag res_summary($r);
    $r = $env->get('/pwa2/nothing-here', $auth);
    unlike($r->{content} // '', qr/^REMOTE_USER=dave$/m,
        'a redirect into /pwc (file2, another list) does not carry dave');
    isnt($r->{status}, 200, '  and is no success');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
