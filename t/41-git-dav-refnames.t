# Writes under refs/ over WebDAV (the git set on a DAV location) name refs
# as git would, and never what makes a directory a repository: a REPO_WRITE
# token cannot build one under refs/ (refs/heads/x/ with HEAD, config and
# objects/, or a "gitdir:" file refs/heads/x.git) by PUT, MKCOL, LOCK, a
# MOVE's or COPY's Destination, in any spelling.  Each attempt is 403 with
# the module's refusal, and nothing changes on disk; then a real push
# still works.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::GitDav;
use BBT::Assert;
use BBT::Util qw(snapshot snapshot_diff);

my $env = BBT::GitDav::start();
my $bare = $env->make_repo('PROJ', 'repo');
$env->git_ok('--git-dir', $bare, 'update-server-info');
$env->give_to_httpd($bare);
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $wtok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);
my $h = { Authorization => $env->bearer($wtok) };
my $repo = '/dgit/PROJ/repo.git';
my $refs = "$repo/refs/heads";

# A directory a push of x/... would make, and an upload a MOVE could take
# anywhere: both allowed, so each attempt below has all it needs to land.
is($env->request('MKCOL', "$refs/x/", $h)->{status}, 201, 'MKCOL refs/heads/x/ (as a push of x/y makes it)');
# A fan-out directory the repository does not have yet (its objects' are
# random), as a push of such an object makes it.
my ($fan) = grep { !-e "$bare/objects/$_" } map { sprintf '%02x', $_ } 0 .. 255;
my $o38 = $fan x 19;
my $upload = "$repo/objects/$fan/${o38}_" . ('0' x 40);
is($env->request('MKCOL', "$repo/objects/$fan/", $h)->{status}, 201, "MKCOL objects/$fan/");
is($env->request('PUT', $upload, $h, "blob\n")->{status}, 201, "PUT an upload to objects/$fan/");
my $before = snapshot($bare);

my $lock_body = '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
    . '<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>'
    . '<D:owner><D:href>x</D:href></D:owner></D:lockinfo>';
my $deny = qr/a deny route matched at routes\/git\.conf:\d+/;
my $nodest = qr/no route covers the Destination/;
my $none = qr/no route covers this request/;
my @tries = (
    # A repository's own names.
    ['MKCOL', "$refs/x/objects", $deny],
    ['MKCOL', "$refs/x/objects/", $deny],
    ['PUT', "$refs/x/HEAD", $deny, "ref: refs/heads/z\n"],
    ['PUT', "$refs/x/config", $deny, "[core]\n\tbare = true\n"],
    ['PUT', "$refs/evil.git", $deny, "gitdir: ../../../../OTHER/secret.git\n"],
    ['MKCOL', "$refs/x/refs", $deny],
    ['MKCOL', "$refs/x/hooks", $deny],
    ['MKCOL', "$refs/x/info", $deny],
    ['PUT', "$refs/x/packed-refs", $deny, "\n"],
    ['PUT', "$refs/x/commondir", $deny, "../../..\n"],
    ['PUT', "$refs/x/gitdir", $deny, "x\n"],
    ['LOCK', "$refs/x/HEAD", $deny, $lock_body],
    # ... in other spellings.
    ['PUT', "$refs/x/%48EAD", $deny, "x\n"],
    ['PUT', "$refs/x/head", $deny, "x\n"],
    ['PUT', "$refs/x/Head", $deny, "x\n"],
    ['PUT', "$refs/x/CONFIG", $deny, "x\n"],
    ['MKCOL', "$refs/x/Objects/", $deny],
    ['MKCOL', "$refs/x/%6fbjects", $deny],
    ['PUT', "$refs/evil%2Egit", $deny, "x\n"],
    ['PUT', "$refs/evil.GIT", $deny, "x\n"],
    ['PUT', "$refs/x/HEAD/", $deny, "x\n"],
    ['PUT', "$refs/x/HEAD.", $deny, "x\n"],
    # git check-ref-format's rules.
    ['MKCOL', "$refs/.hidden", $deny],
    ['MKCOL', "$refs/%2Ehidden/", $deny],
    ['PUT', "$refs/x.", $deny, "x\n"],
    ['MKCOL', "$refs/x./", $deny],
    ['PUT', "$refs/main.lock", $deny, "x\n"],
    ['PUT', "$refs/main.LOCK", $deny, "x\n"],
    ['PUT', "$refs/a..b", $deny, "x\n"],
    ['PUT', "$refs/a%20b", $deny, "x\n"],
    ['PUT', "$refs/a%0Ab", $deny, "x\n"],
    ['PUT', "$refs/a%7F", $deny, "x\n"],
    ['PUT', "$refs/a~1", $deny, "x\n"],
    ['PUT', "$refs/a^", $deny, "x\n"],
    ['PUT', "$refs/a:b", $deny, "x\n"],
    ['PUT', "$refs/a%3Fb", $deny, "x\n"],
    ['PUT', "$refs/a*b", $deny, "x\n"],
    ['PUT', "$refs/a%5Bb", $deny, "x\n"],
    ['PUT', "$refs/a%5Cb", $deny, "x\n"],
    ['PUT', "$refs/a@%7B1%7D", $deny, "x\n"],
    # A ref is a file.
    ['PUT', "$refs/y/", $none, "x\n"],
    # Destinations: git http-push moves only objects into place.
    ['MOVE', $upload, $nodest, undef, "$refs/x/HEAD"],
    ['MOVE', $upload, $nodest, undef, "$refs/x/%48EAD"],
    ['MOVE', $upload, $nodest, undef, "$refs/x/config"],
    ['MOVE', $upload, $nodest, undef, "$refs/y"],
    # COPY's source is no route of the git set's: refused before its
    # Destination is looked at.
    ['COPY', "$refs/main", $none, undef, "$refs/x/HEAD"],
    ['PROPPATCH', "$refs/main", $none, '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"/>'],
);
my $log = $env->error_log_path;
for my $t (@tries) {
    my ($m, $path, $why, $body, $dest) = @$t;
    my %hd = (%$h, defined $dest ? (Destination => $env->url($dest)) : ());
    $hd{'Content-Type'} = 'application/xml' if $m eq 'LOCK' || $m eq 'PROPPATCH';
    my $name = "$m $path" . (defined $dest ? " to $dest" : '');
    my $mark = log_mark($log);
    is_403($env->request($m, $path, \%hd, $body), $name);
    my @lines = grep {/BBT050: token \S+ of alice: no route for \Q$m\E /} log_lines_since($log, $mark);
    ok((grep { $_ =~ $why } @lines), "  BBT050 says why ($why)") or diag join("\n", @lines);
}
my @changed = snapshot_diff($before, snapshot($bare));
is(scalar(@changed), 0, 'nothing under the repository changed') or diag join("\n", @changed);
ok(!-e "$bare/refs/heads/x/HEAD" && !-e "$bare/refs/heads/evil.git" && !-e "$bare/refs/heads/.hidden",
   '  no HEAD, evil.git or .hidden under refs/heads');

# The names refused as git's own rules are ones git refuses too, and those
# refused as a repository's are ones git would take: that wall is ours.
for my $n ('.hidden', 'x.', 'main.lock', 'a..b', "a b", 'a~1', 'a^', 'a:b', 'a?b', 'a*b', 'a[b', 'a\\b', 'a@{1}') {
    my ($rc) = $env->git('check-ref-format', "refs/heads/$n");
    isnt($rc, 0, "git check-ref-format refuses refs/heads/$n");
}
for my $n ('x/HEAD', 'x/config', 'evil.git', 'x/objects/info/packs', 'x/packed-refs') {
    my ($rc) = $env->git('check-ref-format', "refs/heads/$n");
    is($rc, 0, "git check-ref-format takes refs/heads/$n");
}

# A push of refs whose names only look like the refused ones still works.
my $w = $env->workdir('rw');
my ($rc, $out, $err) = $env->git('clone', '-q', $env->clone_url('alice', $wtok, 'PROJ', 'repo', 'dgit'), $w);
is($rc, 0, 'dumb clone with the REPO_WRITE token') or diag $err;
$env->git_ok({ cwd => $w }, 'checkout', '-q', '-b', 'heads-up/configure.v2');
my $c = BBT::GitDav::commit_to_push($env, $w, 'n.txt', "near miss\n");
($rc, $out, $err) = $env->git({ cwd => $w }, 'push', 'origin', 'heads-up/configure.v2');
is($rc, 0, 'push of refs/heads/heads-up/configure.v2 over WebDAV') or diag "$out\n$err";
is($env->repo_head('PROJ', 'repo', 'heads-up/configure.v2'), $c, '  it reached the repository');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
