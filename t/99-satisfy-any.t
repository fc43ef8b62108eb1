# `Satisfy Any` (mod_access_compat, enabled on Debian by default) lets a
# request past authentication whenever the host rules allow it, and with
# no Order/Allow/Deny at all they always do: a section of AuthType BBToken
# that inherits or states it would serve reads and writes to anyone.  The
# module takes host rules out of that choice in its sections: a request
# there is let in only by its token or password (or by a Require the
# section states, such as Require ip), never by Allow or by no rule, and
# the administrator is told once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /any/ "@DIR@/cgi-bin/env.cgi/"
<Location /any>
    Satisfy Any
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /any
    Require bbtoken
</Location>
ScriptAlias /anyhost/ "@DIR@/cgi-bin/env.cgi/"
<Location /anyhost>
    Satisfy Any
    Order deny,allow
    Deny from all
    Allow from 127.0.0.1
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /anyhost
    Require bbtoken
</Location>
# What the warning points to instead: a Require the section states.
ScriptAlias /anyip/ "@DIR@/cgi-bin/env.cgi/"
<Location /anyip>
    Satisfy Any
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /anyip
    <RequireAny>
        Require ip 127.0.0.1
        Require bbtoken
    </RequireAny>
</Location>
# Not a section of the module's: httpd's rule stands.
ScriptAlias /basic-any/ "@DIR@/cgi-bin/env.cgi/"
<Location /basic-any>
    Satisfy Any
    AuthType Basic
    AuthName "Other"
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(access_compat authn_file authz_user authz_host)], httpd => 0)->start;
$env->write_cgi;
$env->httpd_start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $read = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
my $write = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);

is_status($env->get('/basic-any/x'), 200, 'control: outside the module, Satisfy Any with no host rule lets anyone in');

for my $base (qw(/any /anyhost)) {
    my $refs = "$base/PROJ/repo.git/info/refs?service=git-upload-pack";
    my $push = "$base/PROJ/repo.git/info/refs?service=git-receive-pack";
    my $r = $env->get($refs);
    is_status($r, 401, "$base: a read without credentials is asked to log in");
    unlike($r->{content}, qr/^REQUEST_METHOD=/m, "$base: ... and reaches no CGI");
    is_status($env->get($push), 401, "$base: a push without credentials is asked to log in");
    is_status($env->get($refs, { Authorization => 'Bearer ' . BBT::Env::mistype_token($read) }), 401,
              "$base: a wrong token: 401");
    $r = $env->get($refs, { Authorization => "Bearer $read" });
    is_status($r, 200, "$base: a read with a read token");
    like($r->{content}, qr/^REMOTE_USER=alice$/m, "$base: ... as alice");
    is_status($env->get($push, { Authorization => "Bearer $read" }), 403,
              "$base: a push with a read token: 403, the token's scope holds");
    is_status($env->get($push, { Authorization => "Bearer $write" }), 200, "$base: a push with a write token");
}

my $r = $env->get('/anyip/PROJ/repo.git/info/refs?service=git-upload-pack');
is_status($r, 200, 'Require ip in a <RequireAny> still lets in whom it names, Satisfy Any or not');
like($r->{content}, qr/^REMOTE_USER unset$/m, '... without a login');

my @told = grep { /BBT781/ } split /\n/, $env->error_log_text;
ok(@told >= 1, 'the administrator is told that Satisfy Any does not apply') or diag scalar @told;
like($told[0] // '', qr/Satisfy Any/, '... naming it');
ok(@told <= 4, '... once per child and section, not once per request (' . scalar(@told) . ')');

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
