# A destination route's token= minimum holds where no sub-request routes
# the Destination again: a backend of its own (a CGI here) that moves or
# copies, rather than mod_dav.  The Destination is decided on the request
# itself, and every condition of its route counts, token= included.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /mv/ "@DIR@/cgi-bin/env.cgi/"
<Location /mv>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoute COPY,MOVE "/mv/(?<project>[A-Z]+)/(?<repo>[a-z]+)/.+" REPO_WRITE
    BBTokenRoute COPY,MOVE "/mv/(?<project>[A-Z]+)/(?<repo>[a-z]+)/.+" REPO_WRITE destination token=PROJECT_ADMIN
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
my $write = $env->token_create('alice', name => 'w', perms => ['REPO_WRITE']);
my $admin = $env->token_create('alice', name => 'a', perms => ['PROJECT_ADMIN']);

sub move {
    my ($tok, $dest) = @_;
    my $h = auth_bearer($tok);
    $h->{Destination} = $env->url($dest) if defined $dest;
    return ($env->cgi_call('MOVE', '/mv/PROJ/repo/a.txt', $h))[0];
}

is_ok_res(move($admin, '/mv/PROJ/other/b.txt'),
          'a token with PROJECT_ADMIN moves: the Destination route holds');
is_403(move($write, '/mv/PROJ/other/b.txt'),
       'a REPO_WRITE token: the Destination route asks the token for PROJECT_ADMIN');
is_403(move($admin), 'no Destination: refused');

done_testing;
