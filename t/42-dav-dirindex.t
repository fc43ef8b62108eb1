# The README's two mod_dav examples, the WebDAV tree at /dav and the git
# set at /dgit, taken from the README itself, under mod_dir with Debian's
# DirectoryIndex (dir.conf, enabled by default there).  mod_dir looks up
# the index of a collection for any method: a PROPFIND of a collection
# holding an index.html became one of that file (405), and at /dgit, where
# the git set refuses index.html, every PROPFIND of a repository became a
# 403, so git http-push could not push at all.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Http qw(auth_basic);

open my $fh, '<', "$FindBin::Bin/../README" or die "README: $!";
my $readme = do { local $/; <$fh> };
close $fh;

# Each example from its DavLockDB to its </Location>, as a site pastes it.
sub example {
    my ($alias) = @_;
    my ($conf) = $readme =~ m{^(    DavLockDB \S+\n    \Q$alias\E\n.*?^    </Location>\n)}ms;
    die "README: no mod_dav example with '$alias'\n" unless $conf;
    $conf =~ s/^    //mg;
    return $conf;
}
my $conf = join '', "DirectoryIndex index.html index.cgi index.pl index.php index.xhtml index.htm\n",
    example('Alias /dav /srv/dav'), example('Alias /dgit /srv/git');
$conf =~ s{/var/lib/apache2/bbtoken-dav/}{\@DIR\@/davlock/}g;
$conf =~ s{/srv/dav\b}{\@DIR\@/dav}g;
$conf =~ s{/srv/git\b}{\@DIR\@/repos}g;

my $env = BBT::Env->new(extra_conf => $conf, modules => [qw(dav dav_fs dir)])->start;
my $d = $env->dir;
make_path("$d/davlock", "$d/dav/PROJ/repo");
$env->give_to_httpd("$d/davlock", "$d/dav");

$env->make_repo('PROJ', 'repo');
my $bare = $env->repo_root . '/PROJ/repo.git';
$env->git_ok('--git-dir', $bare, 'update-server-info');
$env->give_to_httpd($bare);

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);
my $auth = auth_basic('alice', $tok);

my $res = $env->request('PUT', '/dav/PROJ/repo/index.html', $auth, "<p>a page</p>\n");
is($res->{status}, 201, 'PUT of an index.html into a repository of the WebDAV tree');
$res = $env->request('PROPFIND', '/dav/PROJ/repo/', { %$auth, Depth => '1' });
is($res->{status}, 207, '  a PROPFIND of its collection is still the collection\'s')
    or diag "$res->{status} $res->{content}";
like($res->{content}, qr{<D:href>/dav/PROJ/repo/index\.html</D:href>}, '  and lists the file');

$res = $env->request('PROPFIND', '/dgit/PROJ/repo.git/', { %$auth, Depth => '0' });
is($res->{status}, 207, 'a PROPFIND of a repository at /dgit, as git http-push sends it')
    or diag "$res->{status} $res->{content}";

my $w = $env->workdir('dumb');
my $url = $env->clone_url('alice', $tok, 'PROJ', 'repo', 'dgit');
my ($rc, $out, $err) = $env->git('clone', '-q', $url, $w);
is($rc, 0, 'dumb clone over /dgit') or diag $err;
my $c = $env->commit_file($w, 'pushed.txt', "over WebDAV\n");
($rc, $out, $err) = $env->git({ cwd => $w }, 'push', 'origin', 'main');
is($rc, 0, 'git http-push over /dgit') or diag "$out\n$err";
is($env->repo_head('PROJ', 'repo'), $c, '  the push reached the repository');

done_testing;
