# Destination checks (new, git-object) where the request's own reading of
# its Destination is not the whole story: the git set over mod_dav_fs, and
# a git-object route without new in a section of its own.
#
# BBT048: mod_dav's look-up of a Destination reads its path as httpd does.
# Under MergeSlashes Off httpd keeps a doubled slash there, which the
# request's own check of its Destination merged; the filesystem reads
# objects//ce/ as objects/ce/, where no route's git-object check would
# then hold.  No destination route takes that path: the look-up is
# refused (403), nothing moved.
#
# BBT049: an upload checked as the object its Destination names, replaced
# by a PUT under the same name before mod_dav renames it (a PUT racing the
# MOVE), is found after the move (another inode, not the object) and
# removed.  The race is made, not waited for: the Destination's own
# section holds its look-up, after the check, in a Require expr that opens
# two FIFOs in turn (once a user is known: mod_authz_core evaluates it
# before authentication too); the test's opening the first says the
# look-up is there, the PUT is made, and its opening the second lets the
# MOVE go on.
#
# The look-up is the module's to check when its own section is, whatever
# the COPY's or MOVE's is: a MOVE from a WebDAV share of the same server
# without a login (/share) into the git tree is held to its route's new and
# git-object too, the token a header of the MOVE's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Compress::Zlib qw(compress);
use POSIX qw(mkfifo);
use File::Path qw(make_path);
use BBT::Env;
use BBT::GitDav;
use BBT::Assert;
use BBT::Cache qw(log_mark wait_log wait_lines);

# The object of "hello\n", as git names and stores it.
my ($hdir, $hname) = ('ce', '013625030ba8dba906f756967f9e9ca394464a');
my $hello = compress("blob 6\0hello\n");

my $env = BBT::GitDav::start(before => "MergeSlashes Off\n", after => <<"EOC");
<Location /dgit/PROJ/repo.git/objects/$hdir/$hname>
    <RequireAll>
        Require bbtoken
        Require expr "%{REMOTE_USER} != '' && file('\@DIR\@/gate/1') == '' && file('\@DIR\@/gate/2') == ''"
    </RequireAll>
</Location>
Alias /gobj "\@DIR\@/gobj"
<Location /gobj>
    Dav On
    AuthType BBToken
    AuthName "Git"
    BBTokenRoute PUT,MOVE "/gobj/(?<project>[A-Z]+)/(?<repo>[a-z]+)/up/[a-z]+" REPO_WRITE
    BBTokenRoute MOVE "/gobj/(?<project>[A-Z]+)/(?<repo>[a-z]+)/(.+/)?[0-9a-f]{2}/[0-9a-f]{38}" REPO_WRITE destination git-object
    Require bbtoken
    ErrorDocument 400 http://example.invalid/err
</Location>
<Location /gobj/PROJ/repo/$hdir/$hname>
    <RequireAll>
        Require bbtoken
        Require expr "%{REMOTE_USER} != '' && file('\@DIR\@/gate/1') == '' && file('\@DIR\@/gate/2') == ''"
    </RequireAll>
</Location>
<Location /gobj/PROJ/repo/notes.txt/$hdir/$hname>
    <RequireAll>
        Require bbtoken
        Require expr "%{REMOTE_USER} != '' && file('\@DIR\@/gate/1') == '' && file('\@DIR\@/gate/2') == ''"
    </RequireAll>
</Location>
Alias /share "\@DIR\@/share"
<Directory "\@DIR\@/share">
    Require all granted
</Directory>
<Location /share>
    Dav On
</Location>
EOC
my $d = $env->dir;
$env->make_repo('PROJ', 'repo');
my $bare = $env->repo_root . '/PROJ/repo.git';
mkdir "$d/$_" or die "mkdir: $!" for 'gate', 'share';
$env->give_to_httpd($bare, "$d/share");

# The gates: FIFOs that hold a look-up until the test opens them ($fifo),
# or empty files that let it pass.
sub gates {
    my ($fifo) = @_;
    for (1, 2) {
        unlink "$d/gate/$_";
        if ($fifo) {
            mkfifo("$d/gate/$_", 0644) or die "mkfifo: $!";
        } else {
            BBT::Env::spew("$d/gate/$_", '');
        }
    }
    $env->give_to_httpd("$d/gate");
}
gates(0);

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $h = { Authorization => $env->bearer($env->token_create('alice', name => 'rw', perms => ['REPO_WRITE'])) };

my $R = '/dgit/PROJ/repo.git';
my $up = "objects/11/" . ('1' x 38) . '_' . ('2' x 40);
my $dest = "$R/objects/$hdir/$hname";
for my $dir ('objects/11/', "objects/$hdir/") {
    like($env->request('MKCOL', "$R/$dir", $h)->{status}, qr/^(201|405)\z/, "objects' $dir is there");
}
ok(!-e "$bare/objects/$hdir/$hname", 'the object of "hello\n" is not in the repository');

sub put_upload {
    my ($bytes, $what) = @_;
    my $res = $env->request('PUT', "$R/$up", $h, $bytes);
    like($res->{status}, qr/^20[14]\z/, "$what PUT under a temporary name") or diag explain $res;
}

# BBT048.
put_upload('garbage', 'garbage');
my $mark = log_mark($env);
my $res = $env->request('MOVE', "$R/$up",
                        { %$h, Destination => $env->url("$R/objects//$hdir/$hname"), Overwrite => 'T' });
is($res->{status}, 403, 'MOVE of garbage onto objects//ce/..., a doubled slash httpd keeps: 403') or diag explain $res;
ok(!-e "$bare/objects/$hdir/$hname", '  nothing there');
ok(-f "$bare/$up", '  the upload where it was');
ok(wait_log($env, $mark, qr{BBT048: MOVE onto \Q$R/objects//$hdir/$hname\E refused \(403\): no destination route}),
   '  logged (BBT048)');

# From the share without a login: garbage onto the object's free name,
# and a copy of an object of the repository onto that object.
is($env->request('PUT', '/share/x', {}, 'garbage')->{status}, 201, 'control: PUT in the share, without a login');
$mark = log_mark($env);
$res = $env->request('MOVE', '/share/x', { %$h, Destination => $env->url($dest), Overwrite => 'T' });
is($res->{status}, 422, 'MOVE of it from the share onto the free name of "hello\n": 422') or diag explain $res;
ok(!-e "$bare/objects/$hdir/$hname", '  nothing there');
ok(-f "$d/share/x", '  the file still in the share');
ok(wait_log($env, $mark, qr{BBT047: MOVE of /share/x onto \Q$dest\E refused \(422\)}), '  logged (BBT047)');
my ($obj) = grep { -f "$bare/$_" } map { s{^\Q$bare/\E}{}r } glob("$bare/objects/??/*");
my $was = BBT::Env::slurp("$bare/$obj");
is($env->request('PUT', '/share/y', {}, $was)->{status}, 201, 'a copy of an object of the repository in the share');
$res = $env->request('MOVE', '/share/y', { %$h, Destination => $env->url("$R/$obj"), Overwrite => 'T' });
is($res->{status}, 412, 'MOVE of it from the share onto that object: 412') or diag explain $res;
ok(-f "$d/share/y", '  the copy still in the share');
unlink "$bare/objects/$hdir/$hname";    # (what a failure above left there)

# BBT049.
my $objects = sub { join "\n", grep { $_ ne "$bare/$up" } sort glob("$bare/objects/*/*") };
my $before = $objects->();
put_upload($hello, 'the real object');
my @ino = stat "$bare/$up";
gates(1);

# httpd, held opening gate $n, let go.
sub pass_gate { BBT::Util::pass_fifo("$d/gate/$_[0]") }

# A MOVE of $from onto $to (%more: headers), made in the background: a
# sub that waits for its status, and for its access log line (the check
# after the move runs before that line is written).
sub move_in_background {
    my ($from, $to, %more) = @_;
    my $url = $env->url($from);
    my $amark = BBT::Assert::log_mark($env->access_log_path);
    my $status = BBT::Util::in_background("$d/run", sub {
        HTTP::Tiny->new(timeout => 120, keep_alive => 0)->request('MOVE', $url, { headers => {
            %$h, Destination => $env->url($to), %more } })->{status};
    });
    return sub {
        my $s = $status->();
        wait_lines($env->access_log_path, $amark, qr{"MOVE \Q$from\E HTTP/1\.1" $s });
        return $s;
    };
}

$mark = log_mark($env);
my $moved = move_in_background("$R/$up", $dest, Overwrite => 'T');
ok(pass_gate(1), 'the MOVE\'s look-up of its Destination, checked, is held');
put_upload('garbage', '  garbage');
ok((stat "$bare/$up")[1] != $ino[1], '  the upload now another file');
ok(pass_gate(2), '  the MOVE let go');
like($moved->(), qr/^20[14]\z/, '  mod_dav moved it');
ok(wait_log($env, $mark, qr{BBT049: MOVE \Q$R/$up\E: \S+/objects/$hdir/$hname is not the file checked as the git }
                         . qr{object its name says \(replaced between the check and the move\): removed}),
   '  logged (BBT049)');
ok(!-e "$bare/objects/$hdir/$hname", '  the garbage moved there is gone');
ok(!-e "$bare/$up", '  and the upload was moved');
is($objects->(), $before, '  the repository\'s objects are as they were');
my ($rc, $out, $err) = $env->git('--git-dir', $bare, 'cat-file', '-e', "$hdir$hname");
isnt($rc, 0, '  git has no object of "hello\n"');
($rc, $out, $err) = $env->git('--git-dir', $bare, 'fsck', '--full', '--no-dangling');
is($rc, 0, '  git fsck finds the repository sound') or diag "$out\n$err";

# The same race through a DELETE of the checked upload and a PUT of
# garbage under its name: the upload's inode, freed, could be given to the
# garbage (a filesystem that hands out the lowest free number, ext4), whose
# number would then pass for the file checked.  The upload checked is held
# open until the MOVE is done, so its number stays its own.
put_upload($hello, 'the real object again');
@ino = stat "$bare/$up";
$mark = log_mark($env);
$moved = move_in_background("$R/$up", $dest, Overwrite => 'T');
ok(pass_gate(1), 'the MOVE\'s look-up of its Destination, checked, is held');
like($env->request('DELETE', "$R/$up", $h)->{status}, qr/^20[04]\z/, '  the upload deleted');
put_upload('garbage', '  garbage');
isnt((stat "$bare/$up")[1], $ino[1], '  the garbage is not given the checked upload\'s inode');
ok(pass_gate(2), '  the MOVE let go');
like($moved->(), qr/^20[14]\z/, '  mod_dav moved it');
ok(wait_log($env, $mark, qr{BBT049: MOVE \Q$R/$up\E: \S+/objects/$hdir/$hname is not the file checked as the git }
                         . qr{object its name says \(replaced between the check and the move\): removed}),
   '  logged (BBT049)');
ok(!-e "$bare/objects/$hdir/$hname", '  the garbage moved there is gone');
is($objects->(), $before, '  the repository\'s objects are as they were');
($rc, $out, $err) = $env->git('--git-dir', $bare, 'fsck', '--full', '--no-dangling');
is($rc, 0, '  git fsck finds the repository sound') or diag "$out\n$err";

# A git-object route without new, in a section of its own.
my $g = "$d/gobj/PROJ/repo";
make_path("$g/up", "$g/$hdir");
BBT::Env::spew("$g/notes.txt", "notes\n");
$env->give_to_httpd("$d/gobj");
gates(0);

# The MOVE's answer, once its access log line is there (the check after
# the move runs before that line is written).
sub gmove {
    my ($to) = @_;
    my $amark = BBT::Assert::log_mark($env->access_log_path);
    my $res = $env->request('MOVE', '/gobj/PROJ/repo/up/x', { %$h, Destination => $env->url($to) });
    wait_lines($env->access_log_path, $amark, qr{"MOVE /gobj/PROJ/repo/up/x HTTP/1\.1" $res->{status} });
    return $res;
}
like($env->request('PUT', '/gobj/PROJ/repo/up/x', $h, $hello)->{status}, qr/^20[14]\z/,
     'the object PUT under a temporary name, where the route has no new');
$mark = log_mark($env);
$res = gmove("/gobj/PROJ/repo/$hdir/$hname");
is($res->{status}, 201, 'MOVE of it onto its own name: moved') or diag explain $res;
is(BBT::Env::slurp("$g/$hdir/$hname"), $hello, '  and kept there: the very file checked');
unlike(BBT::Cache::log_since($env, $mark), qr/BBT049/, '  no BBT049');

# With Overwrite: F onto a file there that is not the object (a damaged
# copy), mod_dav refuses before it moves anything (412): the check after
# the move leaves that file, unchanged since the look-up and no doing of
# this request's, alone.
BBT::Env::spew("$g/$hdir/$hname", "damaged\n");
$env->give_to_httpd("$g/$hdir");
like($env->request('PUT', '/gobj/PROJ/repo/up/x', $h, $hello)->{status}, qr/^20[14]\z/,
     'the object PUT under a temporary name again');
$mark = log_mark($env);
{
    my $amark = BBT::Assert::log_mark($env->access_log_path);
    $res = $env->request('MOVE', '/gobj/PROJ/repo/up/x',
                         { %$h, Destination => $env->url("/gobj/PROJ/repo/$hdir/$hname"), Overwrite => 'F' });
    wait_lines($env->access_log_path, $amark, qr{"MOVE /gobj/PROJ/repo/up/x HTTP/1\.1" $res->{status} });
}
is($res->{status}, 412, 'MOVE of it with Overwrite: F onto a damaged copy there: 412') or diag explain $res;
is(BBT::Env::slurp("$g/$hdir/$hname"), "damaged\n", '  the file there is as it was');
ok(-f "$g/up/x", '  the upload where it was');
unlike(BBT::Cache::log_since($env, $mark), qr/BBT049/, '  no BBT049');

# The answer is not what tells: a MOVE with Depth: 1, which mod_dav
# refuses (400) before it moves anything, answered by the section's
# ErrorDocument as a redirect (302), leaves the file there alone too.
$mark = log_mark($env);
{
    my $amark = BBT::Assert::log_mark($env->access_log_path);
    $res = $env->request('MOVE', '/gobj/PROJ/repo/up/x',
                         { %$h, Destination => $env->url("/gobj/PROJ/repo/$hdir/$hname"), Overwrite => 'T',
                           Depth => '1' });
    wait_lines($env->access_log_path, $amark, qr{"MOVE /gobj/PROJ/repo/up/x HTTP/1\.1" $res->{status} });
}
is($res->{status}, 302, 'MOVE of it with Depth: 1, refused and redirected by an ErrorDocument: 302')
    or diag explain $res;
is(BBT::Env::slurp("$g/$hdir/$hname"), "damaged\n", '  the file there is as it was');
ok(-f "$g/up/x", '  the upload where it was');
unlike(BBT::Cache::log_since($env, $mark), qr/BBT049/, '  no BBT049');

# The same race with a file there at the look-up (the damaged copy) and
# Overwrite: T: that the name held a file before does not make the garbage
# moved over it any less this request's doing, and it is removed.
gates(1);
$mark = log_mark($env);
$moved = move_in_background('/gobj/PROJ/repo/up/x', "/gobj/PROJ/repo/$hdir/$hname", Overwrite => 'T');
ok(pass_gate(1), 'MOVE of it, Overwrite: T, onto the damaged copy: its look-up, checked, is held');
like($env->request('PUT', '/gobj/PROJ/repo/up/x', $h, 'garbage')->{status}, qr/^20[14]\z/, '  garbage PUT under its name');
ok(pass_gate(2), '  the MOVE let go');
like($moved->(), qr/^20[14]\z/, '  mod_dav moved it');
ok(wait_log($env, $mark, qr{BBT049: MOVE /gobj/PROJ/repo/up/x: \S+/$hdir/$hname is not the file checked as the git }
                         . qr{object its name says \(replaced between the check and the move\): removed}),
   '  logged (BBT049)') or diag BBT::Cache::log_since($env, $mark);
ok(!-e "$g/$hdir/$hname", '  the garbage moved there is gone');

# A Destination through a file (notes.txt/ce/...) leaves httpd's walk at
# that file, the rest of the path its path_info: mod_dav_fs will not move
# there, and what is checked after the MOVE is the file it would have
# written, never notes.txt, which no route lets the token write or remove,
# even when its owner changes it while the MOVE is held.
like($env->request('PUT', '/gobj/PROJ/repo/up/x', $h, $hello)->{status}, qr/^20[14]\z/,
     'the object PUT under a temporary name again');
$mark = log_mark($env);
$moved = move_in_background('/gobj/PROJ/repo/up/x', "/gobj/PROJ/repo/notes.txt/$hdir/$hname");
ok(pass_gate(1), 'MOVE of it through notes.txt: its look-up, checked, is held');
BBT::Env::spew("$g/notes.txt", "notes, edited by their owner meanwhile\n");
ok(pass_gate(2), '  notes.txt edited, the MOVE let go');
unlike($moved->(), qr/^2/, '  not moved');
is(-f "$g/notes.txt" ? BBT::Env::slurp("$g/notes.txt") : undef, "notes, edited by their owner meanwhile\n",
   '  notes.txt is as its owner left it');
ok(-f "$g/up/x", '  the upload where it was');
unlike(BBT::Cache::log_since($env, $mark), qr/BBT049/, '  no BBT049');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
