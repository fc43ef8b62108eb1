# A repository inside refs/.  git http-push over WebDAV (the git set on a
# DAV location) writes files under refs/, and git-http-backend, serving
# the same tree at /scm, takes the path before a service suffix for the
# repository: GET .../repo.git/refs/heads/x/info/refs enters refs/heads/x
# (or refs/heads/x.git, a "gitdir:" file) as a repository of its own.  A
# write token could plant one there pointing at another project's
# repository, or with a configuration git obeys (a promisor remote whose
# ssh command runs on the server).  No route lets a URL with a service
# suffix under refs/ through.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
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

sub dav {
    my ($tok, $method, $path, %o) = @_;
    my ($st, $body) = $env->curl($path, method => $method, auth => $env->bearer($tok), %o);
    return $st;
}
my $refs = '/dgit/PROJ/repo.git/refs/heads';

# A "gitdir:" file, x.git, naming OTHER/secret.git (relative to refs/heads).
my $put = dav($wtok, 'PUT', "$refs/x.git", data => "gitdir: ../../../../OTHER/secret.git\n");
ok($put == 201 || $put == 403, "PUT refs/heads/x.git with the write token (status $put)");

# A repository in refs/heads/y whose promisor remote's ssh command leaves a
# mark, and a ref to an object it lacks (git fetches it lazily).
my $mark = "$d/davlock/nested-ran";
my $config = "[core]\n\trepositoryformatversion = 1\n\tbare = true\n\tsshCommand = touch $mark; false\n"
    . "[extensions]\n\tpartialClone = origin\n[remote \"origin\"]\n\turl = ssh://localhost/x\n\tpromisor = true\n";
dav($wtok, 'MKCOL', "$refs/$_") for qw(y y/objects y/refs y/refs/heads);
dav($wtok, 'PUT', "$refs/y/config", data => $config);
dav($wtok, 'PUT', "$refs/y/HEAD", data => "ref: refs/heads/z\n");
dav($wtok, 'PUT', "$refs/y/refs/heads/z", data => ('1234567890' x 4) . "\n");

for my $tok ([read => $rtok], [write => $wtok]) {
    my ($who, $t) = @$tok;
    for my $path ('/scm/PROJ/repo.git/refs/heads/x/info/refs', '/scm/PROJ/repo.git/refs/heads/x/HEAD',
                  '/scm/PROJ/repo.git/refs/heads/x/objects/info/packs') {
        my $res = $env->request('GET', $path, { Authorization => $env->bearer($t) });
        my $body = $res->{content} // '';
        ok(index($body, $other_head) < 0 && $res->{status} !~ /^2/,
           "$who token: GET $path serves nothing of OTHER (status $res->{status})") or diag substr($body, 0, 300);
    }
    my $res = $env->request('GET', '/scm/PROJ/repo.git/refs/heads/y/info/refs', { Authorization => $env->bearer($t) });
    ok(!-e $mark, "$who token: GET refs/heads/y/info/refs ran nothing (status $res->{status})");
}

# What http-push reads under refs/ is still served.
is($env->request('GET', "$refs/main", { Authorization => $env->bearer($rtok) })->{status}, 200,
   'GET refs/heads/main over WebDAV still works');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
