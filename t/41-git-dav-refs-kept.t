# git http-push rewrites info/refs from every ref it finds under refs/: it
# lists each collection (PROPFIND) and reads each ref (GET).  A ref whose
# name the git set refuses to write over WebDAV (docs/config, info/x) but
# that smart HTTP pushed, or that was there before, must still be listed
# and read: a refused GET made http-push keep info/refs as it was (the
# push done, but invisible to dumb clients), a refused PROPFIND dropped
# the refs under that collection from it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::GitDav;
use BBT::Assert;

my $env = BBT::GitDav::start();
my $bare = $env->make_repo('PROJ', 'repo');
my $main = $env->repo_head('PROJ', 'repo');
# Branches as smart HTTP pushes them (git takes both names).
$env->git_ok('--git-dir', $bare, 'update-ref', "refs/heads/$_", $main) for 'docs/config', 'info/x';
$env->git_ok('--git-dir', $bare, 'update-server-info');
$env->give_to_httpd($bare);
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $wtok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);

my $w = $env->workdir('rw');
my ($rc, $out, $err) = $env->git('clone', '-q', $env->clone_url('alice', $wtok, 'PROJ', 'repo', 'dgit'), $w);
is($rc, 0, 'dumb clone with the REPO_WRITE token') or diag $err;
my $c = BBT::GitDav::commit_to_push($env, $w, 'n.txt', "new\n");
($rc, $out, $err) = $env->git({ cwd => $w }, 'push', 'origin', 'main');
is($rc, 0, 'push of main over WebDAV') or diag "$out\n$err";
is($env->repo_head('PROJ', 'repo'), $c, '  refs/heads/main moved');
unlike($err, qr/Unable to fetch ref/, '  http-push read every ref') or diag $err;
my $info = BBT::Env::slurp("$bare/info/refs");
like($info, qr/^\Q$c\E\trefs\/heads\/main$/m, '  info/refs has the new main (dumb clients see the push)')
    or diag $info;
like($info, qr/^\Q$main\E\trefs\/heads\/\Q$_\E$/m, "  and still refs/heads/$_") or diag $info
    for 'docs/config', 'info/x';

# A dumb clone sees all three.
my $r = $env->workdir('again');
($rc, $out, $err) = $env->git('clone', '-q', $env->clone_url('alice', $wtok, 'PROJ', 'repo', 'dgit'), $r);
is($rc, 0, 'a dumb clone after the push') or diag $err;
($rc, $out) = $env->git({ cwd => $r }, 'ls-remote', 'origin');
like($out, qr/^\Q$c\E\trefs\/heads\/main$/m, '  sees the new main') or diag $out;
like($out, qr/\trefs\/heads\/\Q$_\E$/m, "  and refs/heads/$_") or diag $out for 'docs/config', 'info/x';

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
