# A repository inside refs/.  git http-push over WebDAV (the git set on a
# DAV location) writes files under refs/, and git-http-backend, serving
# the same tree at /scm, takes the path before a service suffix for the
# repository: GET .../repo.git/refs/heads/x/info/refs enters refs/heads/x
# (or refs/heads/x.git, a "gitdir:" file) as a repository of its own.  A
# write token could plant one there pointing at another project's
# repository, or with a configuration git obeys (a promisor remote whose
# ssh command runs on the server).  No route lets a URL with a service
# suffix under refs/ through.  The git set no longer lets a push write
# such a tree (t/41-git-dav-refnames); it is planted on disk here, as one
# written before that wall, or by other means, would lie.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Util qw(spew);
use BBT::GitDav;
use BBT::Assert;

my $env = BBT::GitDav::start();
my $d = $env->dir;
$env->make_repo('PROJ', 'repo');
$env->make_repo('OTHER', 'secret');
my $other_head = $env->repo_head('OTHER', 'secret');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $rtok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
my $wtok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);

my $heads = $env->repo_root . '/PROJ/repo.git/refs/heads';

# A "gitdir:" file, x.git, naming OTHER/secret.git (relative to refs/heads).
spew("$heads/x.git", "gitdir: ../../../../OTHER/secret.git\n");

# A repository in refs/heads/y whose promisor remote's ssh command leaves a
# mark, and a ref to an object it lacks (git fetches it lazily).
my $mark = "$d/davlock/nested-ran";
my $config = "[core]\n\trepositoryformatversion = 1\n\tbare = true\n\tsshCommand = touch $mark; false\n"
    . "[extensions]\n\tpartialClone = origin\n[remote \"origin\"]\n\turl = ssh://localhost/x\n\tpromisor = true\n";
make_path("$heads/y/objects", "$heads/y/refs/heads");
spew("$heads/y/config", $config);
spew("$heads/y/HEAD", "ref: refs/heads/z\n");
spew("$heads/y/refs/heads/z", ('1234567890' x 4) . "\n");
$env->give_to_httpd("$heads/x.git", "$heads/y");

# A ref is a file of its writer's making: refs/heads/w, a name git takes,
# written over WebDAV as "gitdir: ...", is a "gitdir:" file for
# git-http-backend at .../refs/heads/w/info/refs.  No rule on names can
# refuse that write; the reads below are what hold.
is($env->request('PUT', '/dgit/PROJ/repo.git/refs/heads/w', { Authorization => $env->bearer($wtok) },
                 "gitdir: ../../../../OTHER/secret.git\n")->{status}, 201,
   'PUT refs/heads/w as a "gitdir:" file over WebDAV (a ref name git takes)');

for my $tok ([read => $rtok], [write => $wtok]) {
    my ($who, $t) = @$tok;
    for my $path ('/scm/PROJ/repo.git/refs/heads/x/info/refs', '/scm/PROJ/repo.git/refs/heads/x/HEAD',
                  '/scm/PROJ/repo.git/refs/heads/x/objects/info/packs', '/scm/PROJ/repo.git/refs/heads/w/info/refs',
                  '/scm/PROJ/repo.git/refs/heads/w/HEAD') {
        my $res = $env->request('GET', $path, { Authorization => $env->bearer($t) });
        my $body = $res->{content} // '';
        ok(index($body, $other_head) < 0 && $res->{status} !~ /^2/,
           "$who token: GET $path serves nothing of OTHER (status $res->{status})") or diag substr($body, 0, 300);
    }
    my $res = $env->request('GET', '/scm/PROJ/repo.git/refs/heads/y/info/refs', { Authorization => $env->bearer($t) });
    ok(!-e $mark, "$who token: GET refs/heads/y/info/refs ran nothing (status $res->{status})");
}

# What http-push reads under refs/ is still served.
is($env->request('GET', '/dgit/PROJ/repo.git/refs/heads/main', { Authorization => $env->bearer($rtok) })->{status}, 200,
   'GET refs/heads/main over WebDAV still works');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
