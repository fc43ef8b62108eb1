# Password users and the token database: under Require valid-user their
# own grants decide nothing, so they are not read, and the database down
# leaves such users as they were (README: Require valid-user leaves
# password users exactly as they were).  Under Require bbtoken the grants
# decide: read for each request, and with the database down it is 503,
# never a grant assumed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /pwv/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwv>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /pwv
    Require valid-user
</Location>
ScriptAlias /pwb/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwb>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /pwb
    <RequireAll>
        Require valid-user
        Require bbtoken
    </RequireAll>
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file authz_user)])->start;
$env->htpasswd(dave => 'dave-Pa55-word', erin => 'erin-Pa55-word');
$env->user_add('dave');
$env->grant('dave', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $UP = 'PROJ/repo.git/info/refs?service=git-upload-pack';
my $dave = auth_basic('dave', 'dave-Pa55-word');
my $erin = auth_basic('erin', 'erin-Pa55-word');

is($env->get("/pwv/$UP", $dave)->{status}, 200, 'Require valid-user: dave reads');
is($env->get("/pwv/$UP", $erin)->{status}, 200, '  so does erin, in the password file alone');
is($env->get("/pwb/$UP", $dave)->{status}, 200, 'Require bbtoken: dave reads, by his grant');
is_status($env->get("/pwb/$UP", $erin), 401, '  erin, without one, is refused (mod_authz_core: 401 for a user denied)');

$env->pg_stop;
is($env->get("/pwv/$UP", $dave)->{status}, 200, 'the database down: Require valid-user, dave still reads');
is($env->get("/pwv/$UP", $erin)->{status}, 200, '  and erin');
is_status($env->get("/pwb/$UP", $dave), 503, 'Require bbtoken: 503, no grant assumed');
is_status($env->get("/pwb/$UP", $erin), 503, '  for erin too');
$env->pg_start;
is($env->get("/pwb/$UP", $dave)->{status}, 200, 'the database back: dave reads by his grant again');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
