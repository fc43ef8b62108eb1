# The shipped bbtoken-page.conf lets mod_include fill in the user's name
# but never run a command: a file in the page's directory with
# <!--#exec --> in it (one an upgrade or a mistake puts there) is served
# without running it (Options +IncludesNOEXEC, not +Includes).  mod_cgid,
# which provides exec to mod_include, is loaded, as on a site that serves
# git.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic);
use BBT::Assert;

my $api = "Define BBTOKEN_API_HOST\n" . BBT::Httpd::shipped_conf('rest') . BBT::Httpd::shipped_conf('page')
    . "UnDefine BBTOKEN_API_HOST\n";
my $env = BBT::Env->new(extra_conf => "TypesConfig /dev/null\n", api_conf => $api, httpd => 0,
                        modules => [qw(auth_basic authn_file authz_user include mime dir headers)])->start;
my $www = $env->install_page;
BBT::Env::spew("$www/probe.html", "<p>user <!--#echo encoding=\"entity\" var=\"REMOTE_USER\" --></p>\n"
                                 . "<p><!--#exec cmd=\"printf EXEC-%s RAN\" --></p>\n");
chmod 0644, "$www/probe.html";
my $pw = 'alice-Pa55-word';
$env->htpasswd(alice => $pw);
$env->httpd_start;
like(BBT::Env::slurp($env->dir . '/httpd.conf'), qr/^\s*LoadModule cgid_module\s/m,
     'control: mod_cgid is loaded (exec would work)');

my $res = $env->http->request('GET', $env->api_url('/account/tokens/probe.html'),
                              { headers => auth_basic('alice', $pw) });
is_ok_res($res, 'the probe is served');
like($res->{content}, qr/user alice/, 'control: includes are processed (the user\'s name filled in)');
unlike($res->{content}, qr/EXEC-RAN/, 'but no command is run');
done_testing;
