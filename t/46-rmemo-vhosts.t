# A thread's memory of routed requests (mod_bbtoken/bbt_rmemo.c) answers
# only for the very list of routes that made the answer: the same request
# (method, path, query string) under another virtual host's routes is
# matched against those.  One child with one thread serves both hosts in
# turn, so each request finds the other host's answer in the thread's
# memory; the main server's git routes let a reader fetch, the virtual
# host's own route asks REPO_WRITE of the same URL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer);
use BBT::Assert;

my $port2 = BBT::Util::free_port();
my $env = BBT::Env->new(
    mpm_conf   => BBT::Util::one_child_mpm(1),
    extra_conf => <<"EOC",
Listen 127.0.0.1:$port2
<VirtualHost 127.0.0.1:$port2>
    <Location /scm>
        BBTokenRoute GET "/scm/(?<project>[A-Z]+)/(?<repo>[a-z]+)\\.git/info/refs" REPO_WRITE query=service=git-upload-pack
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
    my ($base) = @_;
    return HTTP::Tiny->new(timeout => 30, keep_alive => 0)
        ->get($base . $UP, { headers => auth_bearer($tok) })->{status};
}

my @got = map { (status($env->base_url), status("http://127.0.0.1:$port2")) } 1 .. 5;
is("@got", join(' ', ('200 403') x 5),
   'main server (git routes): 200; virtual host (REPO_WRITE): 403; in turn, on one thread');

done_testing;
