# Everything that must be refused, and with which status: 403 for too
# little permission (token's or owner's) and for URLs no route covers, 401
# for bad/revoked/expired tokens, disabled or deleted users and user-name
# mismatch, 400 for malformed Authorization headers -- and httpd survives
# them all.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(pct b64 forge_token parse_token mistype_token auth_bearer auth_basic);
use BBT::Assert;
use BBT::Cache qw(settle);

my $env = BBT::Env->new->start;
my $port = $env->port;

$env->make_repo('PROJ', 'repo');
$env->make_repo('~alice', 'x');

my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($read_tok, $read_id) = $env->token_create('alice', name => 'read only', perms => ['REPO_READ']);
my ($admin_tok) = $env->token_create('alice', name => 'full');

$env->user_add('bob');    # no grants at all
my ($bob_tok) = $env->token_create('bob', name => 'bob full');

$env->user_add('root', '--admin');
my ($root_tok) = $env->token_create('root', name => 'root');


subtest 'REPO_READ token: clone yes, push 403' => sub {
    is_ok_res($env->get($UP, auth_bearer($read_tok)), 'upload-pack advertisement with REPO_READ');
    my $w = $env->workdir('ro');
    my ($rc, $out, $err) = $env->git('clone', '-q', $env->clone_url('alice', $read_tok, 'PROJ', 'repo'), $w);
    is($rc, 0, 'clone with the REPO_READ token') or diag $err;
    my $before = $env->repo_head('PROJ', 'repo');
    $env->commit_file($w, 'nope.txt', "must not arrive\n");
    $env->git_is('push with the REPO_READ token fails, git reports 403', qr/\b403\b/,
                   { cwd => $w }, 'push', 'origin', 'main');
    is($env->repo_head('PROJ', 'repo'), $before, 'repository unchanged');

    is_403($env->get($RP, auth_basic('alice', $read_tok)), 'GET receive-pack advertisement, Basic');
    is_403($env->get($RP, auth_bearer($read_tok)), 'GET receive-pack advertisement, Bearer');
    is_403($env->request('POST', '/scm/PROJ/repo.git/git-receive-pack',
                         { %{ auth_bearer($read_tok) },
                           'Content-Type' => 'application/x-git-receive-pack-request' }, "0000"),
           'POST git-receive-pack');
    is_403($env->request('HEAD', $RP, auth_bearer($read_tok)), 'HEAD receive-pack advertisement');
};

subtest 'dumb-protocol reads are REPO_READ; anything else near them has no route' => sub {
    my $h = auth_bearer($read_tok);
    for my $p ('/scm/PROJ/repo.git/HEAD', '/scm/PROJ/repo.git/info/refs') {
        is_ok_res($env->get($p, $h), "GET $p");
    }
    is_ok_res($env->request('HEAD', $UP, $h), 'HEAD upload-pack advertisement');
    # A real loose object from the repository.
    my $objdir = $env->repo_root . '/PROJ/repo.git/objects';
    my ($loose) = map { s{^\Q$objdir\E/}{}r } grep { m{/[0-9a-f]{2}/[0-9a-f]{38}$} } glob("$objdir/*/*");
    ok($loose, 'the repository has a loose object') and
        is_ok_res($env->get("/scm/PROJ/repo.git/objects/$loose", $h), "GET objects/$loose");
    # Authorized but absent: git-http-backend answers 404, the module let it through.
    my $x38 = 'ab' x 19;
    my $x40 = 'cd' x 20;
    for my $p ("objects/ab/$x38", "objects/pack/pack-$x40.pack", "objects/pack/pack-$x40.idx",
               'objects/info/packs', 'objects/info/alternates', 'objects/info/http-alternates') {
        my $r = $env->get("/scm/PROJ/repo.git/$p", $h);
        ok($r->{status} == 200 || $r->{status} == 404, "GET $p is routed as a read (200/404 from git)")
            or diag res_summary($r);
        is_401($env->get("/scm/PROJ/repo.git/$p"), 0, "  and without credentials");
        is_403($env->get("/scm/PROJ/repo.git/$p", auth_bearer($bob_tok)), "  and for bob, who has no grant");
    }
    for my $p ("objects/ab/" . substr($x38, 1), "objects/abc/$x38", "objects/AB/" . uc $x38,
               "objects/pack/pack-$x40.keep", "objects/pack/pack-xyz.pack", 'objects/info/other',
               "objects/ab/$x38/x", 'info/refs/x', 'HEAD/x', 'packed-refs',
               'info/exclude') {
        is_403($env->get("/scm/PROJ/repo.git/$p", auth_bearer($root_tok)), "GET $p (no route, even for an admin)");
    }
};

subtest 'username mismatch -> 401' => sub {
    is_401($env->get($UP, auth_basic('bob', $admin_tok)), 1, "bob:<alice's token>");
    is_401($env->get($UP, auth_basic('alicex', $admin_tok)), 1, "alicex:<alice's token>");
    is_401($env->get($UP, auth_basic('nosuchuser', $admin_tok)), 1, "nosuchuser:<alice's token>");
    $env->git_is('git clone as bob with alice\'s token fails (authentication)',
                   qr/Authentication failed|\b401\b/,
                   'clone', $env->clone_url('bob', $admin_tok, 'PROJ', 'repo'), $env->workdir('mm'));
};

subtest 'revoked -> 401' => sub {
    my ($t, $id) = $env->token_create('alice', name => 'to revoke');
    is_ok_res($env->get($UP, auth_bearer($t)), 'works before revoke');
    $env->cli_ok('revoke', $id);
    settle();    # the token cache's bound: half a second
    is_401($env->get($UP, auth_bearer($t)), 1, 'revoked, Bearer');
    is_401($env->get($UP, auth_basic('alice', $t)), 1, 'revoked, Basic');
    is_ok_res($env->get($UP, auth_bearer($admin_tok)), "the owner's other tokens still work");
};

subtest 'expired -> 401' => sub {
    my ($t, $id) = $env->token_create('alice', name => 'to expire', expiry_days => 1);
    is_ok_res($env->get($UP, auth_bearer($t)), 'works before expiry');
    $env->expire_token($id);    # expiry is fixed: only a trigger-less session can
    settle();    # the cache heard of it: its triggers fire in such a session too
    is_401($env->get($UP, auth_bearer($t)), 1, 'expired, Bearer');
    is_401($env->get($UP, auth_basic('alice', $t)), 1, 'expired, Basic');
};

subtest 'admin-level token, owner without grant -> 403' => sub {
    my $row = $env->token_row(parse_token($bob_tok)->{id});
    is("$row->{project_perm} $row->{repo_perm}", 'PROJECT_ADMIN REPO_ADMIN', "bob's token is admin-level");
    is_403($env->get($UP, auth_bearer($bob_tok)), 'bob upload-pack advertisement');
    is_403($env->get($RP, auth_basic('bob', $bob_tok)), 'bob receive-pack advertisement');
    $env->git_is('git clone by bob fails with 403', qr/\b403\b/,
                   'clone', $env->clone_url('bob', $bob_tok, 'PROJ', 'repo'), $env->workdir('bob'));
};

subtest 'grant lowered: push refused within the cache\'s bound; ungrant: clone refused' => sub {
    $env->user_add('carol');
    $env->grant('carol', 'REPO_WRITE', 'PROJ/repo');
    my $t = $env->token_create('carol', name => 'carol');
    my $url = $env->clone_url('carol', $t, 'PROJ', 'repo');
    my $w = $env->workdir('carol');
    my ($rc, $out, $err) = $env->git('clone', '-q', $url, $w);
    is($rc, 0, 'carol clones') or diag $err;
    my $c1 = $env->commit_file($w, 'carol1.txt', "1\n");
    ($rc, $out, $err) = $env->git({ cwd => $w }, 'push', '-q', 'origin', 'main');
    is($rc, 0, 'carol pushes with REPO_WRITE') or diag $err;
    is($env->repo_head('PROJ', 'repo'), $c1, 'push arrived');

    $env->grant('carol', 'REPO_READ', 'PROJ/repo');
    settle();
    is_403($env->get($RP, auth_bearer($t)), 'right after lowering: receive-pack advertisement');
    $env->commit_file($w, 'carol2.txt', "2\n");
    $env->git_is('right after lowering: git push fails with 403', qr/\b403\b/,
                   { cwd => $w }, 'push', 'origin', 'main');
    is($env->repo_head('PROJ', 'repo'), $c1, 'repository unchanged');
    ($rc, $out, $err) = $env->git({ cwd => $w }, 'fetch', '-q', 'origin');
    is($rc, 0, 'fetch still allowed with REPO_READ') or diag $err;

    $env->cli_ok('ungrant', 'carol', 'PROJ/repo');
    settle();
    is_403($env->get($UP, auth_bearer($t)), 'right after ungrant: upload-pack advertisement');
    $env->git_is('right after ungrant: git clone fails with 403', qr/\b403\b/,
                   'clone', $url, $env->workdir('carol2'));
};

subtest 'disabled user -> 401' => sub {
    $env->user_add('dave');
    $env->grant('dave', 'PROJECT_READ', 'PROJ');
    my $t = $env->token_create('dave', name => 'dave');
    is_ok_res($env->get($UP, auth_bearer($t)), 'dave reads before being disabled');
    $env->cli_ok('user', 'disable', 'dave');
    settle();
    is_401($env->get($UP, auth_bearer($t)), 1, 'disabled, Bearer');
    is_401($env->get($UP, auth_basic('dave', $t)), 1, 'disabled, Basic');
};

subtest 'deleted user -> 401, and the name given again brings no token back' => sub {
    $env->user_add('erin');
    $env->grant('erin', 'PROJECT_READ', 'PROJ');
    my $t = $env->token_create('erin', name => 'erin');
    is_ok_res($env->get($UP, auth_bearer($t)), 'erin reads before being deleted');
    is_ok_res($env->get($UP, auth_basic('erin', $t)), '  Basic too (now in the cache)');
    # No CLI command deletes a user: an administrator does it in SQL.
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'erin'");
    settle();
    is_401($env->get($UP, auth_bearer($t)), 1, 'deleted, Bearer');
    is_401($env->get($UP, auth_basic('erin', $t)), 1, 'deleted, Basic');
    $env->user_add('erin');
    $env->grant('erin', 'PROJECT_READ', 'PROJ');
    settle();
    is_401($env->get($UP, auth_bearer($t)), 1, 'a new erin with the same grant: the old token stays dead');
};

subtest 'no credentials -> 401 with both challenges' => sub {
    is_401($env->get($UP), 0, 'GET upload-pack advertisement');
    is_401($env->get($RP), 0, 'GET receive-pack advertisement');
    is_401($env->request('POST', '/scm/PROJ/repo.git/git-upload-pack', {}, "0000"), 0, 'POST upload-pack');
    $env->git_is('git clone without credentials fails without prompting',
                   qr/terminal prompts disabled|could not read Username|Authentication failed|\b401\b/,
                   'clone', "http://127.0.0.1:$port/scm/PROJ/repo.git", $env->workdir('anon'));
};

subtest 'bad tokens -> 401 invalid_token' => sub {
    my $typo = mistype_token($admin_tok);
    isnt($typo, $admin_tok, 'mistyped token differs');
    ok(!parse_token($typo)->{checksum_ok}, 'mistyped token fails the checksum');
    is_401($env->get($UP, auth_bearer($typo)), 1, 'mistyped token, Bearer');
    is_401($env->get($UP, auth_basic('alice', $typo)), 1, 'mistyped token, Basic');

    # Right checksum, unknown id.
    my $unknown;
    do { $unknown = forge_token(sprintf('%012d', int rand 1e12)) } while $env->token_row(parse_token($unknown)->{id});
    is_401($env->get($UP, auth_bearer($unknown)), 1, 'well-formed token with an unknown id');

    # Right checksum, known id, wrong secret: only the hash comparison can refuse it.
    my $same_id = forge_token(parse_token($admin_tok)->{id});
    is_401($env->get($UP, auth_bearer($same_id)), 1, 'forged token with an existing id');
    is_401($env->get($UP, auth_basic('alice', $same_id)), 1, 'forged token with an existing id, Basic');

    is_401($env->get($UP, auth_basic('alice', 'hunter2')), 1, 'a password that is no token at all');
    is_401($env->get($UP, auth_bearer(substr($admin_tok, 0, 40))), 1, 'truncated token');
    is_401($env->get($UP, auth_bearer($admin_tok . 'A')), 1, 'token with an extra character');
    is_ok_res($env->get($UP, auth_bearer($admin_tok)), 'and the real token still works');
};

subtest 'malformed Authorization headers' => sub {
    my $p = $UP;
    my $valid_basic = b64("alice:$admin_tok");
    my @strict_400 = (
        ['bad base64 characters', 'Authorization: Basic !!!!****'],
        ['bad base64 padding', 'Authorization: Basic ' . (b64("alice:$admin_tok") =~ s/=+$//r) . '='],
        ['base64 with inner padding', 'Authorization: Basic YWxp=Y2U6'],
        ['Basic x, Bearer y (joined credentials)', "Authorization: Basic $valid_basic, Bearer $admin_tok"],
        ['two Authorization headers', "Authorization: Basic $valid_basic", "Authorization: Bearer $admin_tok"],
        ['two Bearer tokens', "Authorization: Bearer $admin_tok, Bearer $admin_tok"],
        ['control character in the header', "Authorization: Bearer \x01$admin_tok"],
        ['control character inside Basic', 'Authorization: Basic ' . b64("ali\x01ce:$admin_tok")],
        ['NUL inside Basic', 'Authorization: Basic ' . b64("alice\x00:$admin_tok")],
        ['NUL inside the Basic password', 'Authorization: Basic ' . b64("alice:$admin_tok\x00x")],
        ['5 kB Bearer (module limit)', 'Authorization: Bearer ' . ('A' x 5000)],
        ['5 kB Basic (module limit)', 'Authorization: Basic ' . b64('alice:' . ('x' x 3800))],
        ['10 kB header (server limit)', 'Authorization: Bearer ' . ('A' x 10240)],
    );
    for my $c (@strict_400) {
        my ($name, @lines) = @$c;
        my $r = $env->raw_get($p, @lines);
        is_status($r, 400, "$name -> 400");
        is_ok_res($env->get($UP, auth_bearer($admin_tok)), "  httpd still answers after: $name");
    }
    # Not named by the design: a clear 400 or 401, never success or a 5xx.
    my @either = (
        ['empty Authorization value', 'Authorization: '],
        ['Basic without credentials', 'Authorization: Basic'],
        ['Bearer without token', 'Authorization: Bearer'],
        ['Basic without a colon', 'Authorization: Basic ' . b64('alice')],
        ['Basic with empty user', 'Authorization: Basic ' . b64(":$admin_tok")],
        ['Basic with empty password', 'Authorization: Basic ' . b64('alice:')],
        ['Basic with 8-bit user name', 'Authorization: Basic ' . b64("al\xc3\xafce:$admin_tok")],
        ['Bearer with characters outside base64', 'Authorization: Bearer BBDC-' . ('!' x 44)],
        ['unknown scheme', 'Authorization: Digest username="alice", realm="Git"'],
        ['scheme only, garbage after', "Authorization: Bearer $admin_tok garbage"],
    );
    for my $c (@either) {
        my ($name, @lines) = @$c;
        my $r = $env->raw_get($p, @lines);
        ok($r->{status} == 400 || $r->{status} == 401, "$name -> 400 or 401") or diag res_summary($r);
        if ($r->{status} == 401) {
            my @ch = challenges($r);
            ok((grep {/^Basic realm="Git"/} @ch) && (grep {/^Bearer realm="Git"/} @ch),
               "  401 carries both challenges") or diag res_summary($r);
        }
        is_ok_res($env->get($UP, auth_bearer($admin_tok)), "  httpd still answers after: $name");
    }
    is(scalar($env->crash_lines), 0, 'no child crashed (error_log has no "exit signal")')
        or diag join "\n", $env->crash_lines;
};

subtest 'URLs and methods no route covers -> 403, even for a global admin' => sub {
    my $h = auth_bearer($root_tok);
    is_ok_res($env->get($UP, $h), 'control: admin reads the advertisement');
    my @cases = (
        ['GET', '/scm/PROJ/repo.git/config'],
        ['GET', '/scm/PROJ/repo.git/description'],
        ['GET', '/scm/PROJ/repo.git/hooks/pre-receive'],
        ['GET', '/scm/PROJ/repo.git/info/refs?service=git-upload-pack&service=git-receive-pack'],
        ['GET', '/scm/PROJ/repo.git/info/refs?service=git-receive-pack&service=git-upload-pack'],
        ['GET', '/scm/PROJ/repo.git/info/refs?service=git-foo'],
        ['GET', '/scm/PROJ/repo.git/git-upload-pack'],
        # (PUT info/refs is routed: git http-push writes it over WebDAV, t/41.)
        ['PUT', '/scm/PROJ/repo.git/config', 'x'],
        ['PUT', '/scm/PROJ/repo.git/hooks/post-update', 'x'],
        ['DELETE', '/scm/PROJ/repo.git/info/refs'],
        ['POST', '/scm/PROJ/repo.git/info/refs?service=git-upload-pack', '0000'],
        ['PUT', '/scm/PROJ/repo.git/git-receive-pack', '0000'],
        ['GET', '/scm/PROJ/repo.git/'],
        ['GET', '/scm/PROJ/'],
        ['GET', '/scm/'],
        ['GET', '/scm/PROJ/repo/info/refs?service=git-upload-pack'],
        ['GET', '/scm/PROJ/repo.git.git/info/refs?service=git-upload-pack'],
        ['GET', '/scm/PROJ/sub/repo.git/info/refs?service=git-upload-pack'],
        ['GET', '/scm/PR%20OJ/repo.git/info/refs?service=git-upload-pack'],
    );
    for my $c (@cases) {
        my ($m, $path, $body) = @$c;
        is_403($env->request($m, $path, $h, $body), "$m $path");
    }
};

subtest 'an internal redirect cannot widen what a token may do' => sub {
    # /env/PROJ/redirect-to-push.git/info/refs?service=git-upload-pack is a
    # read (REPO_READ is enough); the CGI there answers with a local
    # Location, and httpd internally redirects to the receive-pack
    # advertisement in the same <Location>.  core skips authn/authz for an
    # internal redirect with the same per-dir config, so the module must
    # check the route of every URI itself.
    my $src = '/env/PROJ/redirect-to-push.git/info/refs?service=git-upload-pack';
    my $r = $env->get('/env/PROJ/repo.git/info/refs?service=git-receive-pack', auth_bearer($read_tok));
    is_403($r, 'control: the push advertisement itself with REPO_READ');
    $r = $env->get($src, auth_bearer($read_tok));
    ok($r->{status} != 200 || $r->{content} !~ /QUERY_STRING=service=git-receive-pack/,
       'REPO_READ token does not reach receive-pack through an internal redirect')
        or diag res_summary($r);
    is($r->{status}, 403, '  it is refused with 403') or diag res_summary($r);
    $r = $env->get($src, auth_bearer($admin_tok));
    ok($r->{status} == 200 && $r->{content} =~ /QUERY_STRING=service=git-receive-pack/,
       'control: a REPO_WRITE-capable token does follow the redirect')
        or diag res_summary($r);
    $r = $env->get('/env/PROJ/redirect-to-config.git/info/refs?service=git-upload-pack', auth_bearer($root_tok));
    ok($r->{status} != 200 || $r->{content} !~ m{PATH_INFO=/PROJ/repo\.git/config},
       'no token reaches a URL no route covers through an internal redirect')
        or diag res_summary($r);
};

subtest 'personal project ~alice' => sub {
    my $url_a = $env->clone_url('alice', $admin_tok, '~alice', 'x');
    my $w = $env->workdir('personal');
    my ($rc, $out, $err) = $env->git('clone', '-q', $url_a, $w);
    is($rc, 0, 'alice clones ~alice/x with no grant on it') or diag $err;
    my $c = $env->commit_file($w, 'mine.txt', "mine\n");
    ($rc, $out, $err) = $env->git({ cwd => $w }, 'push', '-q', 'origin', 'main');
    is($rc, 0, 'alice pushes to ~alice/x') or diag $err;
    is($env->repo_head('~alice', 'x'), $c, 'push arrived');
    is_403($env->get('/scm/~alice/x.git/info/refs?service=git-upload-pack', auth_bearer($bob_tok)),
           'bob (admin-level token, no grant) on ~alice/x');
    $env->git_is('bob cannot clone ~alice/x', qr/\b403\b/,
                   'clone', $env->clone_url('bob', $bob_tok, '~alice', 'x'), $env->workdir('bobp'));
    is_403($env->get('/scm/~alice/x.git/info/refs?service=git-receive-pack', auth_bearer($read_tok)),
           "alice's REPO_READ token cannot push to her own project");
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
