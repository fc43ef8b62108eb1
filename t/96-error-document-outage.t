# A request stopped by a database outage (503) did not refuse its
# credentials: its error page (a local ErrorDocument in the section) is not
# answered as one whose credentials were refused (BBT730, 401), and the
# client gets the outage's 503 with no challenge (a challenge with
# invalid_token says the credentials were presented and not proven).  A
# request whose token was refused still gets 401 from its error page, the
# token not read again (t/96-error-document-credentials).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Token qw(mistype_token);

my $extra = <<'EOC';
BBTokenCache off
ScriptAlias /pwe/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwe>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /pwe
    Require bbtoken
    ErrorDocument 503 /pwe/PROJ/repo.git/info/refs?service=git-upload-pack
    ErrorDocument 401 /pwe/PROJ/repo.git/info/refs?service=git-upload-pack
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra)->start;
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $tok = $env->token_create('carol', name => 'ci', perms => ['REPO_READ']);
my $UP = '/pwe/PROJ/repo.git/info/refs?service=git-upload-pack';
is($env->get($UP, auth_bearer($tok))->{status}, 200, 'up: 200');

my $r = $env->get($UP, auth_bearer(mistype_token($tok)));
is($r->{status}, 401, 'a mistyped token: 401');
like($env->error_log_text, qr/BBT730: credentials not accepted earlier/, '  its error page did not read it again (BBT730)');

$env->pg_stop;
$r = $env->get($UP, auth_bearer($tok));
is($r->{status}, 503, 'the database down: 503');
my @challenges = BBT::Env::header_list($r, 'WWW-Authenticate');
is(scalar(@challenges), 0, '  with no challenge') or diag explain \@challenges;
my @said = $env->error_log_text =~ /(BBT730: [^\n]*)/g;
is(scalar(@said), 1, '  its error page is not said to have had its credentials refused (BBT730 once, above)')
    or diag join "\n", @said;
$env->pg_start;
is($env->get($UP, auth_bearer($tok))->{status}, 200, 'the database back: 200');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
