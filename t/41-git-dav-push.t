# The git route set over a plain repository tree served by mod_dav: dumb
# HTTP clones, and git http-push's push over WebDAV (LOCK, MKCOL, PUT,
# MOVE with a Destination, PROPFIND, UNLOCK), with the permissions of the
# smart protocol: REPO_READ clones, REPO_WRITE pushes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::GitDav;
use BBT::Assert;
use BBT::Cache qw(wait_lines);
use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path remove_tree);

my $env = BBT::GitDav::start();
my $d = $env->dir;

sub server_info {
    my ($key, $slug) = @_;
    my $bare = $env->repo_root . "/$key/$slug.git";
    $env->git_ok('--git-dir', $bare, 'update-server-info');
    $env->give_to_httpd($bare);
}
$env->make_repo('PROJ', 'repo');
server_info('PROJ', 'repo');
$env->make_repo('OTHER', 'thing');
server_info('OTHER', 'thing');

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $rtok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
my $wtok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);

my $url = sub { $env->clone_url('alice', $_[0], $_[1] || 'PROJ', $_[2] || 'repo', 'dgit') };

my $w = $env->workdir('dumb');
my ($rc, $out, $err) = $env->git('clone', '-q', $url->($rtok), $w);
is($rc, 0, 'dumb clone over mod_dav with a REPO_READ token') or diag $err;
ok(-f "$w/README", '  it has the README');

my $before = $env->repo_head('PROJ', 'repo');
$env->commit_file($w, 'ro.txt', "must not arrive\n");
($rc, $out, $err) = $env->git({ cwd => $w }, 'push', 'origin', 'main');
isnt($rc, 0, 'push over WebDAV with the REPO_READ token fails');
is($env->repo_head('PROJ', 'repo'), $before, '  the repository is unchanged');

my $w2 = $env->workdir('dumb-rw');
($rc, $out, $err) = $env->git('clone', '-q', $url->($wtok), $w2);
is($rc, 0, 'dumb clone with a REPO_WRITE token') or diag $err;
my $c = BBT::GitDav::commit_to_push($env, $w2, 'rw.txt', "pushed over WebDAV\n");
($rc, $out, $err) = $env->git({ cwd => $w2 }, 'push', 'origin', 'main');
is($rc, 0, 'push over WebDAV (git http-push) with the REPO_WRITE token') or diag "$out\n$err";
is($env->repo_head('PROJ', 'repo'), $c, '  the push reached the repository');
my $w3 = $env->workdir('dumb-again');
($rc, $out, $err) = $env->git('clone', '-q', $url->($rtok), $w3);
is($rc, 0, '  and a dumb clone sees it') or diag $err;
ok(-f "$w3/rw.txt", '  with the pushed file');

# Refs with slashes: git http-push makes their collections (MKCOL
# refs/heads/feature/), then locks, writes and unlocks the ref.
$env->git_ok({ cwd => $w2 }, 'checkout', '-q', '-b', 'feature/x');
my $f = BBT::GitDav::commit_to_push($env, $w2, 'f.txt', "on a branch with a slash\n");
$env->git_ok({ cwd => $w2 }, 'tag', '-a', '-m', 'v1.0', 'v1.0');
$env->git_ok({ cwd => $w2 }, 'tag', 'rel/v2.0');
for my $ref ('feature/x', 'v1.0', 'rel/v2.0') {
    ($rc, $out, $err) = $env->git({ cwd => $w2 }, 'push', 'origin', $ref);
    is($rc, 0, "push of $ref over WebDAV") or diag "$out\n$err";
}
my $bare = $env->repo_root . '/PROJ/repo.git';
is($env->repo_head('PROJ', 'repo', 'feature/x'), $f, '  refs/heads/feature/x reached the repository');
for my $tag ('v1.0', 'rel/v2.0') {
    my ($trc, $tout) = $env->git('--git-dir', $bare, 'rev-parse', '--verify', '-q', "refs/tags/$tag^{commit}");
    chomp $tout;
    is($tout, $f, "  refs/tags/$tag reached the repository");
}
($rc, $out, $err) = $env->git({ cwd => $w2 }, 'push', 'origin', ':feature/x');
is($rc, 0, 'deleting refs/heads/feature/x over WebDAV') or diag "$out\n$err";
ok(!defined $env->repo_head('PROJ', 'repo', 'feature/x'), '  it is gone');

my @dav = qw(PROPFIND MKCOL LOCK PUT MOVE UNLOCK DELETE);
my @access = grep { m{/dgit/} }
    wait_lines($env->access_log_path, 0, sub { my $t = join "\n", @_; !grep { $t !~ m{"$_ /dgit/} } @dav });
my %methods = map { m{"([A-Z]+) /dgit/} ? ($1 => 1) : () } @access;
ok($methods{$_}, "  the pushes used $_") for @dav;

# What the push may never do.
my $h = { Authorization => $env->bearer($wtok) };
is_403($env->request('PUT', '/dgit/PROJ/repo.git/config', $h, "[core]\n"), 'PUT config');
is_403($env->request('PUT', '/dgit/PROJ/repo.git/hooks/post-update', $h, "#!/bin/sh\n"), 'PUT a hook');
is_403($env->request('PUT', '/dgit/PROJ/repo.git/objects/info/alternates', $h, "/x\n"), 'PUT alternates');
is_403($env->request('MKCOL', '/dgit/PROJ/new.git/', $h), 'MKCOL a new repository');
is_403($env->request('DELETE', '/dgit/PROJ/repo.git/', $h), 'DELETE the repository');
my $o38 = 'ab' x 19;
is_403($env->request('MOVE', "/dgit/PROJ/repo.git/objects/ab/${o38}_" . ('0' x 40),
                     { %$h, Destination => $env->url("/dgit/OTHER/thing.git/objects/ab/$o38") }),
       'MOVE an object into a repository the owner cannot write');
is_403($env->request('MOVE', "/dgit/PROJ/repo.git/objects/ab/${o38}_" . ('0' x 40),
                     { %$h, Destination => $env->url('/dgit/PROJ/repo.git/config') }),
       'MOVE onto config');
ok(!-e $env->repo_root . '/PROJ/repo.git/hooks/post-update', 'no hook was written');

# An object is moved into place once and never written over: one replaced
# would be lost, to every repository that borrows this one's objects too.
# http-push PUTs it under a temporary name and MOVEs it (Overwrite: T) only
# when the remote lacks it.
my ($obj) = map { s{^\Q$bare/\E}{}r } grep { -f } glob("$bare/objects/??/*");
my $objfile = "$bare/$obj";
my $was = BBT::Env::slurp($objfile);
is_403($env->request('PUT', "/dgit/PROJ/repo.git/$obj", $h, 'garbage'), 'PUT over an object under its own name');
is_403($env->request('PUT', "/dgit/PROJ/repo.git/objects/ab/$o38", $h, 'garbage'), 'PUT a new object under its own name');
my $tmp = "/dgit/PROJ/repo.git/${obj}_" . ('1' x 40);
my $res = $env->request('PUT', $tmp, $h, 'garbage');
like($res->{status}, qr/^20[14]\z/, 'PUT under a temporary name') or diag explain $res;
$res = $env->request('MOVE', $tmp, { %$h, Destination => $env->url("/dgit/PROJ/repo.git/$obj"), Overwrite => 'T' });
is($res->{status}, 412, 'MOVE onto an object that exists: 412') or diag explain $res;
ok(BBT::Env::slurp($objfile) eq $was, '  the object is as it was');
like($env->error_log_text, qr/BBT046: MOVE onto \S+\Q$obj\E refused \(412\): it exists/, '  logged (BBT046)');
# And what is moved into place is the object its name says: garbage under
# a name no one has yet (the id of "hello\n", which anyone can compute)
# would be taken for that object by every later push of it, and every
# clone would read garbage.
my ($hdir, $hname) = ('objects/ce', '013625030ba8dba906f756967f9e9ca394464a');
ok(!-e "$bare/$hdir/$hname", 'the object of "hello\n" is not in the repository');
$env->request('MKCOL', "/dgit/PROJ/repo.git/$hdir/", $h);
my $htmp = "/dgit/PROJ/repo.git/$hdir/${hname}_" . ('2' x 40);
$res = $env->request('PUT', $htmp, $h, 'garbage');
like($res->{status}, qr/^20[14]\z/, 'garbage PUT under a temporary name') or diag explain $res;
$res = $env->request('MOVE', $htmp, { %$h, Destination => $env->url("/dgit/PROJ/repo.git/$hdir/$hname"), Overwrite => 'T' });
is($res->{status}, 422, 'MOVE of garbage onto the free name of "hello\n": 422') or diag explain $res;
ok(!-e "$bare/$hdir/$hname", '  nothing there');
like($env->error_log_text, qr{BBT047: MOVE of \S+_2{40} onto \S+/$hname refused \(422\): it is not the git object its Destination names \(route routes/git\.conf:\d+\): it is not a deflated stream},
     '  logged (BBT047), saying why');
# The real object, as git writes it, moves into place.
my $scratch = $env->workdir('objects');
$env->git_ok('init', '-q', '--bare', $scratch);
BBT::Env::spew("$scratch.txt", "hello\n");
my $hid = $env->git_ok('--git-dir', $scratch, 'hash-object', '-w', "$scratch.txt");
is($hid, "ce$hname", 'git names "hello\n" so');
$res = $env->request('PUT', $htmp, $h, BBT::Env::slurp("$scratch/$hdir/$hname"));
like($res->{status}, qr/^20[14]\z/, 'the real object PUT under a temporary name') or diag explain $res;
my $other = "/dgit/PROJ/repo.git/objects/ab/$o38";
$res = $env->request('MOVE', $htmp, { %$h, Destination => $env->url($other), Overwrite => 'T' });
is($res->{status}, 422, 'MOVE of it onto another object\'s name: 422') or diag explain $res;
like($env->error_log_text, qr/BBT047: .* its content is another object's/, '  its content is another object\'s');
$res = $env->request('MOVE', $htmp, { %$h, Destination => $env->url("/dgit/PROJ/repo.git/$hdir/$hname"), Overwrite => 'T' });
like($res->{status}, qr/^20[14]\z/, 'MOVE of it onto its own name: moved') or diag explain $res;
($rc, $out) = $env->git('--git-dir', $bare, 'cat-file', '-p', "ce$hname");
is($out, "hello\n", '  git reads it');
# A SHA-256 object (64 hex digits: XX/ and 62), as a repository of
# --object-format=sha256 names it, is held to the same check.
my $sid = sha256_hex("blob 6\0hello\n");
my ($sdir, $sname) = ('objects/' . substr($sid, 0, 2), substr($sid, 2));
$env->request('MKCOL', "/dgit/PROJ/repo.git/$sdir/", $h);
my $stmp = "/dgit/PROJ/repo.git/$sdir/${sname}_" . ('3' x 64);
like($env->request('PUT', $stmp, $h, 'garbage')->{status}, qr/^20[14]\z/, 'garbage PUT under a SHA-256 temporary name');
$res = $env->request('MOVE', $stmp, { %$h, Destination => $env->url("/dgit/PROJ/repo.git/$sdir/$sname"), Overwrite => 'T' });
is($res->{status}, 422, 'MOVE of it onto the SHA-256 name of "hello\n": 422') or diag explain $res;
ok(!-e "$bare/$sdir/$sname", '  nothing there');
like($env->request('PUT', $stmp, $h, BBT::Env::slurp("$scratch/$hdir/$hname"))->{status}, qr/^20[14]\z/,
     'the object PUT under it');
$res = $env->request('MOVE', $stmp, { %$h, Destination => $env->url("/dgit/PROJ/repo.git/$sdir/$sname"), Overwrite => 'T' });
is($res->{status}, 201, 'MOVE of it onto its SHA-256 name: moved') or diag explain $res;
is(-f "$bare/$sdir/$sname" ? BBT::Env::slurp("$bare/$sdir/$sname") : undef, BBT::Env::slurp("$scratch/$hdir/$hname"),
   '  it is there');
unlink "$bare/$sdir/$sname";
# mod_dav writes a PUT with a Content-Range into the file there, in place:
# into an upload already checked and moved (its inode), at any time after.
# Refused where what is moved is checked.
$res = $env->request('PUT', $htmp, $h, BBT::Env::slurp("$scratch/$hdir/$hname"));
like($res->{status}, qr/^20[14]\z/, 'an upload PUT again');
my $upload = BBT::Env::slurp("$bare/$hdir/${hname}_" . ('2' x 40));
$res = $env->request('PUT', $htmp, { %$h, 'Content-Range' => 'bytes 0-3/' . length($upload) }, 'GGGG');
is($res->{status}, 400, 'a PUT into it with a Content-Range: 400') or diag explain $res;
is(BBT::Env::slurp("$bare/$hdir/${hname}_" . ('2' x 40)), $upload, '  the upload as it was');
like($env->error_log_text, qr/BBT055: PUT \S+_2{40} with a Content-Range refused \(400\)/, '  logged (BBT055)');
# new means nothing there at all: a directory under the object's name
# (made by other means) too, which a MOVE with Overwrite: T would replace
# with all it holds.
unlink "$bare/$hdir/$hname";
make_path("$bare/$hdir/$hname");
BBT::Env::spew("$bare/$hdir/$hname/kept.txt", "kept\n");
$env->give_to_httpd("$bare/$hdir");
$res = $env->request('MOVE', $htmp, { %$h, Destination => $env->url("/dgit/PROJ/repo.git/$hdir/$hname"), Overwrite => 'T' });
is($res->{status}, 412, 'MOVE of the object onto a directory under its name, Overwrite: T: 412') or diag explain $res;
ok(-f "$bare/$hdir/$hname/kept.txt", '  the directory and what it holds stay');
like($env->error_log_text, qr/BBT046: MOVE onto \S+\Q$hdir\/$hname\E refused \(412\): it exists/, '  logged (BBT046)');
remove_tree("$bare/$hdir/$hname");
$env->request('DELETE', $htmp, $h);
($rc, $out, $err) = $env->git('--git-dir', $bare, 'fsck', '--full', '--no-dangling');
is($rc, 0, 'git fsck finds the repository sound') or diag "$out\n$err";

# The other repository: no grant, nothing.
($rc, $out, $err) = $env->git('clone', '-q', $url->($wtok, 'OTHER', 'thing'), $env->workdir('other'));
isnt($rc, 0, 'no dumb clone of a repository the owner has no grant on');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
