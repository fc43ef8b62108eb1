# Subversion through mod_dav_svn behind the dav route set, driven by the
# real svn client with the token as the password: checkout, commit, copy,
# move, lock (Subversion's, left without an expiry as asked) and unlock
# with a REPO_WRITE token; a REPO_READ token reads (log, blame) but every
# commit, lock and revision property change is forbidden; a project the
# owner has no grant on is refused.  Both of mod_dav_svn's protocols:
# HTTPv2 (POST to !svn/me) and the older one (MKACTIVITY, CHECKOUT,
# MERGE), which a <Location> turns on by not advertising v2.  A MERGE at
# a repository whose body names another repository's pending transaction
# is refused (mod_dav_svn would commit it there).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Svn qw(svn_missing svn_conf svn_repo);
use BBT::Env qw(run_cmd);
use BBT::Assert;
use BBT::Cache qw(wait_lines);

if (my $why = svn_missing()) {
    plan skip_all => $why;
}

my $extra = svn_conf('PROJ', ['OLD', 'SVNAdvertiseV2Protocol Off'], 'OTHER');
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_svn)])->start;
my $d = $env->dir;
svn_repo($env, $_) for qw(PROJ OLD OTHER);
$env->give_to_httpd("$d/svn");

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', $_) for qw(PROJ OLD);
my $wtok = $env->token_create('alice', name => 'svn rw', perms => ['REPO_WRITE']);
my $rtok = $env->token_create('alice', name => 'svn ro', perms => ['REPO_READ']);

my $n = 0;
our $svn_user = 'alice';
sub svn {
    my ($tok, @args) = @_;
    my @auth = defined $tok ? ('--username', $svn_user, '--password', $tok) : ();
    my ($rc, $out, $err) = run_cmd(
        cmd => ['svn', '--non-interactive', '--no-auth-cache', '--config-dir', "$d/svnconf", @auth, @args],
        cwd => "$d/work", timeout => 120);
    return ($rc, "$out$err");
}
sub svn_ok {
    my ($name, @a) = @_;
    my ($rc, $out) = svn(@a);
    is($rc, 0, $name) or diag $out;
    return $out;
}
sub svn_refused {
    my ($name, $re, @a) = @_;
    my ($rc, $out) = svn(@a);
    ok($rc != 0 && $out =~ $re, $name) or diag "rc=$rc: $out";
}

for my $p (qw(PROJ OLD)) {
    subtest "$p: " . ($p eq 'OLD' ? 'the older protocol' : 'HTTPv2') => sub {
        my $url = $env->url("/svn/$p/repo");
        my $wc = "$d/work/wc-$p";
        my $mark = BBT::Assert::log_mark($env->access_log_path);
        svn_ok('checkout with a REPO_WRITE token', $wtok, 'checkout', $url, $wc);
        BBT::Env::spew("$wc/a.txt", "one\n");
        svn_ok('svn add', undef, 'add', "$wc/a.txt");
        svn_ok('commit', $wtok, 'commit', '-m', 'first', $wc);
        svn_ok('copy on the server (a branch)', $wtok, 'copy', '-m', 'branch', "$url/a.txt", "$url/b.txt");
        svn_ok('update', $wtok, 'update', $wc);
        ok(-f "$wc/b.txt", 'the copy arrived');
        svn_ok('move', undef, 'move', "$wc/b.txt", "$wc/c.txt");
        svn_ok('commit the move', $wtok, 'commit', '-m', 'move', $wc);
        svn_ok('lock', $wtok, 'lock', "$wc/a.txt");
        # Subversion's locks, which any writer may break, are left as asked.
        my $info = svn_ok('svn info', $wtok, 'info', "$url/a.txt");
        like($info, qr/^Lock Token:/m, '  shows the lock');
        unlike($info, qr/^Lock Expires:/m, '  with no expiry: not bounded as mod_dav_fs\'s are') or diag $info;
        svn_ok('unlock', $wtok, 'unlock', "$wc/a.txt");
        my $log = svn_ok('log', $wtok, 'log', '-q', $url);
        like($log, qr/^r3 \| alice /m, 'three revisions, committed as alice (the token\'s owner)');
        my $verbs = $p eq 'OLD' ? qr/"(?:MKACTIVITY|CHECKOUT|MERGE) / : qr/"POST [^"]*!svn\/me /;
        my @lines = wait_lines($env->access_log_path, $mark, qr/^\S+ alice $verbs[^"]*" 20\d \d{12}$/m);
        ok(scalar(grep { /^\S+ alice $verbs[^"]*" 20\d \d{12}$/ } @lines),
           $p eq 'OLD' ? 'through MKACTIVITY, CHECKOUT and MERGE' : 'through POST to !svn/me')
            or diag join "\n", @lines[0 .. ($#lines > 30 ? 30 : $#lines)];

        my $rwc = "$d/work/ro-$p";
        svn_ok('a REPO_READ token checks out', $rtok, 'checkout', $url, $rwc);
        ok(-f "$rwc/c.txt", 'and sees the files');
        BBT::Env::spew("$rwc/a.txt", "changed\n");
        svn_refused('its commit is forbidden', qr/403|[Ff]orbidden/, $rtok, 'commit', '-m', 'ro', $rwc);
        svn_refused('its copy too', qr/403|[Ff]orbidden/, $rtok, 'copy', '-m', 'ro', "$url/a.txt",
                    "$url/d.txt");
        svn_refused('its lock too', qr/403|[Ff]orbidden|Not authorized/, $rtok, 'lock', "$rwc/c.txt");
        my $lock = qr{"LOCK /svn/$p/repo/c\.txt [^"]*" 403 };
        like(join("\n", wait_lines($env->access_log_path, 0, $lock)), $lock, 'the module answered the LOCK 403');
        like(svn_ok('it blames', $rtok, 'blame', "$url/a.txt"), qr/^\s*1\s+alice one$/m, '  by line');
        svn_refused('its change of a revision property is forbidden', qr/403|[Ff]orbidden/, $rtok, 'propset',
                    '--revprop', '-r', '1', 'svn:log', 'ro', $url);
        # A writer's reaches Subversion, which refuses it for want of a hook.
        svn_refused('a write token\'s reaches the repository', qr/pre-revprop-change/, $wtok, 'propset',
                    '--revprop', '-r', '1', 'svn:log', 'rw', $url);
        $log = svn_ok('the log', $wtok, 'log', '-q', $url);
        unlike($log, qr/^r4 /m, 'no revision came from the read token');
    };
}

# A token for PROJ/repo alone, against PROJ/other in the same SVNParentPath:
# through the client, and through reports whose body names the other
# repository (mod_dav_svn must take them for this repository's, or refuse).
subtest 'a repository token reaches no other repository of its project' => sub {
    my ($rc, $out, $err) = run_cmd(cmd => ['svnadmin', 'create', "$d/svn/PROJ/other"]);
    is($rc, 0, 'svnadmin create PROJ/other') or diag $err;
    $env->give_to_httpd("$d/svn/PROJ/other");
    my $src = "$d/work/other-src";
    make_path($src);
    BBT::Env::spew("$src/otherfile-zz.txt", "OTHER-REPO-CONTENT\n");
    my $other = $env->url('/svn/PROJ/other');
    svn_ok('control: a REPO_WRITE token imports into PROJ/other', $wtok, 'import', '-m', 'o', $src, $other);
    my $tok = $env->scoped_token_create('--repo', 'PROJ/repo', perms => ['REPO_READ']);
    local $svn_user = 'x-token-auth';
    svn_ok('control: the repository token reads PROJ/repo', $tok, 'log', '-q', $env->url('/svn/PROJ/repo'));
    svn_refused('its cat of PROJ/other', qr/403|[Ff]orbidden/, $tok, 'cat', "$other/otherfile-zz.txt");
    svn_refused('its diff against PROJ/other', qr/403|[Ff]orbidden/, $tok, 'diff',
                $env->url('/svn/PROJ/repo'), $other);
    my $repo = $env->url('/svn/PROJ/repo');
    for my $c (['dst-path', "<S:src-path>$repo</S:src-path><S:dst-path>$other</S:dst-path>"],
               ['src-path', "<S:src-path>$other</S:src-path>"]) {
        my ($what, $paths) = @$c;
        my $body = qq(<?xml version="1.0" encoding="utf-8"?><S:update-report xmlns:S="svn:" send-all="true">)
            . qq($paths<S:target-revision>1</S:target-revision><S:depth>infinity</S:depth>)
            . qq(<S:entry rev="0" depth="infinity" start-empty="true"></S:entry></S:update-report>);
        if ($what eq 'src-path') {
            my $res = $env->request('REPORT', '/svn/PROJ/other/!svn/me',
                                    { Authorization => $env->bearer($wtok), 'Content-Type' => 'text/xml' }, $body);
            like($res->{content} // '', qr/otherfile-zz/, 'control: the report at PROJ/other itself names its file');
        }
        for my $at ('/svn/PROJ/repo/!svn/me', '/svn/PROJ/repo') {
            my $res = $env->request('REPORT', $at, { Authorization => $env->bearer($tok),
                                                     'Content-Type' => 'text/xml' }, $body);
            my $txt = $res->{content} // '';
            ok($res->{status} && $txt !~ /otherfile-zz|OTHER-REPO-CONTENT/,
               "an update report at $at whose $what names PROJ/other reads nothing of it (status $res->{status})")
                or diag substr($txt, 0, 800);
        }
    }
    unlike($env->error_log_text . $env->access_log_text, qr/\Q$tok\E/, 'the repository token is in no log');
};

# A MERGE names the transaction it commits in its body, and mod_dav_svn
# commits that transaction in whichever repository holds it, not in the one
# the request URL names.  mod_dav looks the source up in a sub-request with
# the MERGE method; the module routes that sub-request, and nothing else
# stands between a writer of PROJ/repo and another repository's pending
# transaction (HTTPv2: a txn, whose names are guessable; the older protocol:
# an activity).
subtest 'a MERGE at a repository commits no other repository\'s transaction' => sub {
    $env->user_add('bob');
    my $rtw = $env->scoped_token_create('--repo', 'PROJ/repo', name => 'merge', perms => ['REPO_WRITE']);
    my %who = (bob => $env->bearer(scalar $env->token_create('bob', name => 'bob rw', perms => ['REPO_WRITE'])),
               'the repository token' => $env->bearer($rtw));
    my $act = 0;
    for my $p (qw(PROJ OLD)) {
        my ($rc, $out, $err) = run_cmd(cmd => ['svnadmin', 'create', "$d/svn/$p/pending"]);
        is($rc, 0, "svnadmin create $p/pending") or diag $err;
        $env->give_to_httpd("$d/svn/$p/pending");
        $env->grant('bob', 'REPO_WRITE', "$p/repo");
        $env->grant('bob', 'REPO_READ', "$p/pending");
        # alice's commit to $p/pending, begun and not yet merged.
        my ($res, $src);
        if ($p eq 'PROJ') {
            $res = $env->request('POST', "/svn/$p/pending/!svn/me",
                                 { Authorization => $env->bearer($wtok),
                                   'Content-Type' => 'application/vnd.svn-skel' }, '( create-txn )');
            my ($txn) = BBT::Env::header_list($res, 'SVN-Txn-Name');
            $src = "/svn/$p/pending/!svn/txn/" . ($txn // 'none');
        } else {
            $src = sprintf '/svn/%s/pending/!svn/act/00000000-0000-4000-8000-%012d', $p, ++$act;
            $res = $env->request('MKACTIVITY', $src, { Authorization => $env->bearer($wtok) });
        }
        is($res->{status}, 201, "$p: alice begins a commit to $p/pending ($src)");
        my $body = qq(<?xml version="1.0" encoding="utf-8"?><D:merge xmlns:D="DAV:"><D:source><D:href>$src)
            . qq(</D:href></D:source><D:no-auto-merge/><D:no-checkout/><D:prop><D:checked-in/></D:prop></D:merge>);
        my $youngest = sub { my (undef, $o) = run_cmd(cmd => ['svnlook', 'youngest', "$d/svn/$p/pending"]); $o =~ s/\s+//gr };
        # (The repository token is PROJ/repo's: a writer there alone.)
        for my $w (grep { $p eq 'PROJ' || $_ eq 'bob' } sort keys %who) {
            my $res = $env->request('MERGE', "/svn/$p/repo/",
                                    { Authorization => $who{$w}, 'Content-Type' => 'text/xml' }, $body);
            is($res->{status}, 403, "$p: $w, a writer of $p/repo, MERGEs it there: 403");
            is($youngest->(), '0', '  and it stays uncommitted');
        }
        like($env->error_log_text, qr/BBT051: token \d+ of bob: MERGE \Q$src\E needs REPO_WRITE on $p\/pending/,
             "$p: refused for the source, in the MERGE's sub-request (BBT051)");
        my $res2 = $env->request('MERGE', "/svn/$p/repo/",
                                 { Authorization => $env->bearer($wtok), 'Content-Type' => 'text/xml' }, $body);
        is($res2->{status}, 200, "$p: control: alice, a writer of both, MERGEs it at $p/repo");
        is($youngest->(), '1', "  and mod_dav_svn commits it in $p/pending");
    }
    like($env->error_log_text, qr/BBT550: .*MERGE \/svn\/PROJ\/pending\/!svn\/txn\/\S+ is on PROJ\/pending, outside/,
         'the repository token: refused for the source, outside its repository (BBT550)');
};

svn_refused('a project without a grant: refused', qr/403|[Ff]orbidden/, $wtok, 'checkout',
            $env->url('/svn/OTHER/repo'), "$d/work/other");
svn_refused('a mistyped token: refused', qr/401|[Aa]uthoriz|[Aa]uthentic/, $wtok =~ s/.$/($& eq 'A' ? 'B' : 'A')/er,
            'checkout', $env->url('/svn/PROJ/repo'), "$d/work/bad");
svn_refused('no token: refused', qr/401|[Aa]uthoriz|[Aa]uthentic/, undef, 'checkout',
            $env->url('/svn/PROJ/repo'), "$d/work/none");
unlike($env->error_log_text . $env->access_log_text, qr/\Q$wtok\E|\Q$rtok\E/, 'no token in the logs');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
