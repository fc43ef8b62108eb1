# The route memories answer only for the very list of routes that made
# the answer: a thread's (mod_bbtoken/bbt_rmemo.c), for the same request
# under another virtual host's routes, and a request's own, which
# translate_name makes for check_authn: an <If> on the file a URL maps to
# is false when translate_name runs (no file yet) and true when
# check_authn does, so the two see other routes for the same request.
# One child with one thread serves every request, so each finds the
# other answer in the thread's memory; the git routes let a reader fetch,
# the other lists ask REPO_WRITE of the same URL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer);
use BBT::Assert;

my $WRITE = 'BBTokenRoute GET "/scm/(?<project>[A-Z]+)/(?<repo>[a-z]+)\\.git/info/refs" REPO_WRITE '
          . 'query=service=git-upload-pack';
my $port2 = BBT::Util::free_port();
my $env = BBT::Env->new(
    mpm_conf   => BBT::Util::one_child_mpm(1),
    extra_conf => <<"EOC",
<Location /scm>
    <If "-n req('X-Strict') && %{REQUEST_FILENAME} =~ /git-http-backend/">
        $WRITE
    </If>
</Location>
Listen 127.0.0.1:$port2
<VirtualHost 127.0.0.1:$port2>
    <Location /scm>
        $WRITE
    </Location>
</VirtualHost>
EOC
)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('bob');
$env->grant('bob', 'PROJECT_READ', 'PROJ');
my ($tok) = $env->token_create('bob', name => 'reader');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# One request, on a connection of its own: the child's one thread.
sub status {
    my ($base, %h) = @_;
    return HTTP::Tiny->new(timeout => 30, keep_alive => 0)
        ->get($base . $UP, { headers => { %{ auth_bearer($tok) }, %h } })->{status};
}

my $main = $env->base_url;
my @got = map { (status($main), status("http://127.0.0.1:$port2")) } 1 .. 5;
is("@got", join(' ', ('200 403') x 5),
   'main server (git routes): 200; virtual host (REPO_WRITE): 403; in turn, on one thread');
@got = map { (status($main), status($main, 'X-Strict' => 1)) } 1 .. 5;
is("@got", join(' ', ('200 403') x 5),
   'without the <If>: 200; under it (REPO_WRITE, known only after translate_name): 403; in turn');

done_testing;
