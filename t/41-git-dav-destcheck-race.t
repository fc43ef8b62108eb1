# The check after a git-object MOVE removes only the file it read and
# found wrong, never the object another request has moved there since.
#
# A garbage PUT racing the MOVE puts garbage at the Destination, as in
# t/41-git-dav-destcheck (the same FIFO gates in a Require expr).  The
# check after the move opens it and reads it: that open is held
# (t/dso/openhold.c, preloaded into httpd), and meanwhile the real object
# is renamed over the garbage, as a second client's MOVE of the same
# object would.  Let go, the check finds what it read not the object; what
# is at the Destination by then is, and stays: the repository keeps its
# object (BBT056 says so), where an unlink of the name removed it.
#
# Then one race further: the check's re-read of what it took aside is held
# too (two opens under objects/ce/), and meanwhile another copy of the
# object arrives under the name (a third client).  What was taken aside is
# not put back over that copy: the copy stays, and what was taken aside is
# left beside it, for git prune (BBT057).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Compress::Zlib qw(compress);
use POSIX qw(mkfifo);
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd);
use BBT::GitDav;
use BBT::Cache qw(log_mark wait_log);

my $so = tempdir('bbt-openhold-XXXXXX', TMPDIR => 1, CLEANUP => 1) . '/openhold.so';
my ($rc, $out, $err) = run_cmd(cmd => ['cc', '-shared', '-fPIC', '-O2', '-o', $so,
                                       "$BBT::Env::ROOT/t/dso/openhold.c", '-ldl']);
is($rc, 0, 'the open hold builds') or BAIL_OUT("cc: $out$err");

# The object of "hello\n", as git names and stores it.
my ($hdir, $hname) = ('ce', '013625030ba8dba906f756967f9e9ca394464a');
my $hello = compress("blob 6\0hello\n");

my $env = BBT::GitDav::start(after => <<"EOC");
<Location /dgit/PROJ/repo.git/objects/$hdir/$hname>
    <RequireAll>
        Require bbtoken
        Require expr "%{REMOTE_USER} != '' && file('\@DIR\@/gate/1') == '' && file('\@DIR\@/gate/2') == ''"
    </RequireAll>
</Location>
EOC
my $d = $env->dir;
$env->make_repo('PROJ', 'repo');
my $bare = $env->repo_root . '/PROJ/repo.git';
my $target = "$bare/objects/$hdir/$hname";
mkdir "$d/gate" or die "mkdir: $!";
BBT::Env::spew("$d/gate/$_", '') for 1, 2;
$env->give_to_httpd($bare, "$d/gate");
# The paths are known once the environment is: httpd again, with the hold.
$env->httpd_restart(httpd_vars => { LD_PRELOAD => $so, BBT_OPEN_HOLD => $target,
                                    BBT_OPEN_GATE => "$d/gate/hold" });

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $h = { Authorization => $env->bearer($env->token_create('alice', name => 'rw', perms => ['REPO_WRITE'])) };

my $R = '/dgit/PROJ/repo.git';
my $up = "objects/11/" . ('1' x 38) . '_' . ('2' x 40);
my $dest = "$R/objects/$hdir/$hname";
for my $dir ('objects/11/', "objects/$hdir/") {
    like($env->request('MKCOL', "$R/$dir", $h)->{status}, qr/^(201|405)\z/, "objects' $dir is there");
}
ok(!-e $target, 'the object of "hello\n" is not in the repository');

sub put_upload {
    my ($bytes, $what) = @_;
    my $res = $env->request('PUT', "$R/$up", $h, $bytes);
    like($res->{status}, qr/^20[14]\z/, "$what PUT under a temporary name") or diag explain $res;
}

put_upload($hello, 'the real object');
my @ino = stat "$bare/$up";
unlink "$d/gate/$_" for 1, 2;
for (1, 2, 'hold') {
    mkfifo("$d/gate/$_", 0644) or die "mkfifo: $!";
}
$env->give_to_httpd("$d/gate");

# httpd, held opening gate $n, let go; the hold's gate (t/dso/openhold.c)
# by a byte.
sub pass_gate { BBT::Util::pass_fifo("$d/gate/$_[0]", $_[0] eq 'hold' ? 'x' : undef) }

# The upload's MOVE onto the object's name, made in the background: a sub
# that waits for its status.
sub move_in_background {
    my $url = $env->url("$R/$up");
    return BBT::Util::in_background("$d/run", sub {
        HTTP::Tiny->new(timeout => 120, keep_alive => 0)->request('MOVE', $url, { headers => {
            %$h, Destination => $env->url($dest), Overwrite => 'T' } })->{status};
    });
}

# The object as another client's MOVE puts it at the name: a file of its
# own, httpd's, renamed there.  Its inode.
sub object_arrives {
    my ($as) = @_;
    BBT::Env::spew("$bare/objects/$hdir/$as", $hello);
    $env->give_to_httpd("$bare/objects/$hdir/$as");
    rename "$bare/objects/$hdir/$as", $target or die "rename: $!";
    return (stat $target)[1];
}

my $mark = log_mark($env);
my $moved = move_in_background();
ok(pass_gate(1), 'the MOVE\'s look-up of its Destination, checked, is held');
put_upload('garbage', '  garbage');
ok((stat "$bare/$up")[1] != $ino[1], '  the upload now another file');
ok(pass_gate(2), '  the MOVE let go');
my $held = wait_log($env, $mark, qr{bbt-openhold: pid \d+ holds \Q$target\E\n?}, 60);
ok($held, '  the check after the move opened the garbage moved there, and is held');

my $real = object_arrives('real');
# Let go (or, if nothing was held, no hold from now on).
my $let = pass_gate('hold');
unlink "$d/gate/hold";
ok($let, '  the check let go once the object is there');
like($moved->(), qr/^20[14]\z/, '  mod_dav moved the garbage');
ok(wait_log($env, $mark, qr{BBT0(49|56|57): }), '  the check after the move is done');
my $log = BBT::Cache::log_since($env, $mark);
ok(-f $target, '  the object is still there') or diag $log;
is((stat $target)[1], $real, '  the very file moved there');
is(BBT::Env::slurp($target), $hello, '  holding the object');
my $said = qr{BBT056: MOVE \Q$R/$up\E: \Q$target\E was not the file checked as the git object its name says }
         . qr{\(replaced between the check and the move\), and the object took its place before it could be }
         . qr{removed: left there};
like($log, qr/$said/, '  logged (BBT056)');
unlike($log, qr/BBT049|BBT057/, '  no BBT049 or BBT057');
is(join(' ', grep { !/^[0-9a-f]{38}\z/ } map { s{.*/}{}r } glob("$bare/objects/$hdir/*")), '',
   '  nothing else in its directory (nothing left aside)');
($rc, $out, $err) = $env->git('--git-dir', $bare, 'cat-file', '-e', "$hdir$hname");
is($rc, 0, '  git finds the object of "hello\n"') or diag $err;
($rc, $out, $err) = $env->git('--git-dir', $bare, 'fsck', '--full', '--no-dangling');
is($rc, 0, '  git fsck finds the repository sound') or diag "$out\n$err";
is(scalar(() = $env->error_log_text =~ /bbt-openhold: /g), 1, 'one open was held, once');

# One race further: httpd again, holding the first two opens under
# objects/ce/ of a process (the check's read of the name, then its re-read
# of what it took aside).
unlink $target;
$env->httpd_restart(httpd_vars => { LD_PRELOAD => $so, BBT_OPEN_HOLD => "$bare/objects/$hdir/",
                                    BBT_OPEN_HOLD_TIMES => 2, BBT_OPEN_GATE => "$d/gate/hold" });
put_upload($hello, 'the real object');
mkfifo("$d/gate/hold", 0644) or die "mkfifo: $!";
$env->give_to_httpd("$d/gate");
$mark = log_mark($env);
$moved = move_in_background();
ok(pass_gate(1), 'the MOVE\'s look-up of its Destination, checked, is held');
put_upload('garbage', '  garbage');
ok(pass_gate(2), '  the MOVE let go');
ok(wait_log($env, $mark, qr{bbt-openhold: pid \d+ holds \Q$target\E}, 60),
   '  the check after the move opened the garbage moved there, and is held');
object_arrives('second');
ok(pass_gate('hold'), '  the object renamed over it (a second client), the check let go');
ok(wait_log($env, $mark, qr{bbt-openhold: pid \d+ holds \Q$bare/objects/$hdir/tmp_obj_bbtoken_\E}, 60),
   '  it took that aside, and its re-read of it is held');
my $third = object_arrives('third');
ok(pass_gate('hold'), '  another copy of the object arrived under the name (a third client), the check let go');
unlink "$d/gate/hold";
like($moved->(), qr/^20[14]\z/, '  mod_dav moved the garbage');
ok(wait_log($env, $mark, qr{BBT05[67]: }), '  the check after the move is done');
$log = BBT::Cache::log_since($env, $mark);
like($log, qr{BBT057: MOVE \Q$R/$up\E: \Q$target\E was not the file checked .* it could not be put back}s,
     '  BBT057: what it took aside is not put back') or diag $log;
is((stat $target)[1], $third, '  the copy that arrived since is the file there, its very inode');
is(BBT::Env::slurp($target), $hello, '  holding the object');
is(scalar(() = glob("$bare/objects/$hdir/tmp_obj_bbtoken_*")), 1, '  what was taken aside is left beside it');
($rc, $out, $err) = $env->git('--git-dir', $bare, 'fsck', '--full', '--no-dangling');
is($rc, 0, '  git fsck finds the repository sound') or diag "$out\n$err";

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
