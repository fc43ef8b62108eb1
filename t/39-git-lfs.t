# git LFS with tokens through the shipped git route set: the real git-lfs
# client (Debian's) against a stand-in LFS server (t/lfs/lfs.cgi, a CGI
# that records every request it is given) behind the module, beside
# git-http-backend.  A write token pushes LFS content; a read token clones
# it, lists locks, and can neither upload (the batch is refused with 403
# before the backend sees it) nor lock.  The batch is decided by the
# operation in its JSON body, which the module reads in the auth phase and
# gives back to the backend; bodies it cannot decide by are refused (400,
# 413, 415 in a content coding or a charset but UTF-8), and none without
# credentials is read.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256_hex);
use File::Copy qw(copy);
use BBT::Env qw(pct auth_bearer);
use BBT::Util qw(spew slurp);
use BBT::Assert;
use BBT::Cache qw(wait_lines);
use IO::Socket::INET;
use POSIX ();

plan skip_all => 'git-lfs is not installed (build/deps.sh installs it)' unless -x '/usr/bin/git-lfs';

my $extra = <<'EOC';
SetEnv LFS_DIR "@DIR@/lfs"
ScriptAliasMatch "^/git/([^/]+/[^/]+\.git/info/lfs/.*)$" "@DIR@/cgi-bin/lfs.cgi/$1"
ScriptAlias /git/ /usr/lib/git-core/git-http-backend/
<Location /git>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /git
    Require bbtoken
</Location>
# The same routes with a small LimitRequestBody, over the CGI that shows
# what it was given.
ScriptAlias /lim/ "@DIR@/cgi-bin/env.cgi/"
<Location /lim>
    LimitRequestBody 100
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /lim
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra)->start;
my $D = $env->dir;
copy("$FindBin::Bin/lfs/lfs.cgi", "$D/cgi-bin/lfs.cgi") or die "copy: $!";
chmod 0755, "$D/cgi-bin/lfs.cgi";
mkdir "$D/lfs";
$env->give_to_httpd("$D/lfs");
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my %tok = (write => scalar $env->token_create('alice', name => 'w', perms => ['REPO_WRITE']),
           read  => scalar $env->token_create('alice', name => 'r', perms => ['REPO_READ']));
# git-lfs's filters, in the test's own git configuration.
$env->git_ok('lfs', 'install', '--skip-repo');

my $URL = $env->base_url . '/git/PROJ/repo.git';
my $LFS = '/git/PROJ/repo.git/info/lfs';
# git-lfs declares its batch so; a body a route reads must say it is JSON.
my $LFSJSON = { 'Content-Type' => 'application/vnd.git-lfs+json' };
# A credential store per token, as a credential helper keeps a token: git
# asks it for the smart HTTP requests, git-lfs for the batch and the hrefs.
my %cred;
for my $k (keys %tok) {
    $cred{$k} = "$D/cred-$k";
    spew($cred{$k}, 'http://alice:' . pct($tok{$k}) . '@127.0.0.1:' . $env->port . "\n", 0600);
}
sub as { my ($k) = @_; return ('-c', "credential.helper=store --file=$cred{$k}") }

# What the stand-in was given, one line a request.
sub backend { my $t = slurp("$D/lfs/log") // ''; return [split /\n/, $t] }
sub backend_since { my ($n) = @_; my $l = backend(); return [@$l[$n .. $#$l]] }

# Bytes that look like a binary file, the same every run.
sub blob { my ($n, $seed) = @_; my $s = ''; my $x = $seed; for (1 .. $n) { $x = ($x * 1103515245 + 12345) % 2**31; $s .= chr($x >> 16 & 255) } return $s }

my $big = blob(200_000, 1);
my $big_oid = sha256_hex($big);

subtest 'a write token pushes LFS content' => sub {
    my $w = $env->workdir('write');
    # The key in lower case, as clone URLs often spell it.
    $env->git_is('clone', 1, as('write'), 'clone', '-q', $env->base_url . '/git/proj/repo.git', $w);
    $env->git_ok({ cwd => $w }, 'lfs', 'track', '*.bin');
    spew("$w/big.bin", $big);
    $env->git_ok({ cwd => $w }, 'add', '.gitattributes', 'big.bin');
    $env->git_ok({ cwd => $w }, 'commit', '-q', '-m', 'an LFS file');
    $env->git_is('git push (LFS upload, then the refs)', 1, { cwd => $w, timeout => 120 }, as('write'), 'push',
                 'origin', 'main');
    my $log = join "\n", @{ backend() };
    like($log, qr{^POST /PROJ/repo\.git/info/lfs/objects/batch op=upload len=\d+ user=alice perm=REPO_WRITE$}m,
         'the batch reached the backend as an upload, its body intact, decided REPO_WRITE');
    like($log, qr{^PUT /PROJ/repo\.git/info/lfs/objects/$big_oid op=- len=200000 user=alice perm=REPO_WRITE$}m,
         'the object was PUT, whole');
    like($log, qr{^POST /PROJ/repo\.git/info/lfs/objects/verify .* perm=REPO_WRITE$}m, 'and verified');
    is(sha256_hex(slurp("$D/lfs/objects/PROJ_repo/$big_oid") // ''), $big_oid, 'the backend stored it');
    my $pointer = $env->git_ok('--git-dir', "$D/repos/PROJ/repo.git", 'show', 'main:big.bin');
    like($pointer, qr/^version https:\/\/git-lfs.*\noid sha256:$big_oid\n/s, 'the repository holds its pointer');
};

subtest 'a read token clones LFS content' => sub {
    my $n = @{ backend() };
    my $r = $env->workdir('read');
    $env->git_is('clone', 1, { timeout => 120 }, as('read'), 'clone', '-q', $URL, $r);
    is(sha256_hex(slurp("$r/big.bin") // ''), $big_oid, 'big.bin is the content, not its pointer');
    my $log = join "\n", @{ backend_since($n) };
    like($log, qr{^POST /PROJ/repo\.git/info/lfs/objects/batch op=download .* perm=REPO_READ$}m,
         'a download batch, decided REPO_READ');
    like($log, qr{^GET /PROJ/repo\.git/info/lfs/objects/$big_oid .* perm=REPO_READ$}m, 'the object fetched');
    my $u = $env->workdir('url');
    $env->git_is('clone with the token in the URL', 1, { timeout => 120 }, 'clone', '-q',
                 $env->clone_url('alice', $tok{read}, 'PROJ', 'repo', 'git'), $u);
    is(sha256_hex(slurp("$u/big.bin") // ''), $big_oid, '  LFS content too');
    my $b = $env->workdir('bearer');
    # Scoped to the repository's URL, as the page and the README give it:
    # git-lfs's requests to the same repository carry it too.
    $env->git_is('clone with Bearer (http.<url>.extraHeader)', 1, { timeout => 120 }, '-c',
                 "http.$URL.extraHeader=Authorization: Bearer $tok{read}", 'clone', '-q', $URL, $b);
    is(sha256_hex(slurp("$b/big.bin") // ''), $big_oid, '  LFS content too');
};

subtest 'a read token\'s upload is refused before the backend' => sub {
    my $r = $env->workdir('read-push');
    $env->git_ok(as('read'), 'clone', '-q', $URL, $r);
    my $two = blob(5000, 2);
    spew("$r/two.bin", $two);
    $env->git_ok({ cwd => $r }, 'add', 'two.bin');
    $env->git_ok({ cwd => $r }, 'commit', '-q', '-m', 'another');
    my $n = @{ backend() };
    my ($rc, $out, $err) = $env->git({ cwd => $r, timeout => 120 }, as('read'), 'lfs', 'push', 'origin', 'main');
    isnt($rc, 0, 'git lfs push fails');
    like($err, qr{Authorization error: \S+/info/lfs/objects/batch}, '  on the batch');
    my $batch = qr{"POST /git/PROJ/repo\.git/info/lfs/objects/batch HTTP/1\.1" 403 }m;
    like(join("\n", wait_lines($env->access_log_path, 0, $batch)), $batch, 'the batch got 403');
    my $oid2 = sha256_hex($two);
    my @seen = @{ backend_since($n) };
    is(scalar(grep { /op=upload|^PUT / } @seen), 0, 'no upload batch and no PUT reached the backend')
        or diag join "\n", @seen;
    ok(!-e "$D/lfs/objects/PROJ_repo/$oid2", 'nothing stored');

    # The same by hand: the batch and the href, each refused alone.
    $n = @{ backend() };
    my $res = $env->request('POST', "$LFS/objects/batch",
                            auth_bearer($tok{read}, { 'Content-Type' => 'application/vnd.git-lfs+json' }),
                            qq({"operation":"upload","objects":[{"oid":"$oid2","size":5000}]}));
    is_403($res, 'an upload batch with the read token: 403');
    ok((grep { /insufficient_scope/ } BBT::Env::header_list($res, 'WWW-Authenticate')), '  insufficient_scope');
    is_403($env->request('PUT', "$LFS/objects/$oid2", auth_bearer($tok{read}), $two), 'a PUT of the object: 403');
    is_403($env->request('POST', "$LFS/objects/verify", auth_bearer($tok{read}), qq({"oid":"$oid2","size":5000})),
           'verify: 403');
    is_deeply(backend_since($n), [], 'none of it reached the backend');
    $res = $env->request('POST', "$LFS/objects/batch", auth_bearer($tok{read}, $LFSJSON),
                         qq({"operation":"download","objects":[{"oid":"$big_oid","size":200000}]}));
    is_ok_res($res, 'a download batch with the read token: 200');
    like($res->{content}, qr{"href":"[^"]*/objects/$big_oid"}, '  the backend answered it from the body it got');
};

subtest 'locks: a read token lists them, a write token takes and releases them' => sub {
    my $w = $env->workdir('locks');
    $env->git_ok(as('write'), 'clone', '-q', $URL, $w);
    my $n = @{ backend() };
    $env->git_is('lock with the write token', 1, { cwd => $w }, as('write'), 'lfs', 'lock', 'big.bin');
    my ($rc, $out, $err) = $env->git({ cwd => $w }, as('read'), 'lfs', 'locks');
    ok($rc == 0 && $out =~ /^big\.bin\s+alice\s+ID:1$/m, 'the read token lists the lock') or diag "$out$err";
    $env->git_is('lock with the read token: refused', qr/Authorization error/, { cwd => $w }, as('read'), 'lfs',
                 'lock', '.gitattributes');
    $env->git_is('unlock with the read token: refused', qr/Authorization error/, { cwd => $w }, as('read'), 'lfs',
                 'unlock', '--force', 'big.bin');
    is_403($env->request('POST', "$LFS/locks/verify", auth_bearer($tok{read}), '{"limit":100}'),
           'locks/verify with the read token: 403');
    $env->git_is('unlock with the write token', 1, { cwd => $w }, as('write'), 'lfs', 'unlock', 'big.bin');
    my $seen = join "\n", @{ backend_since($n) };
    like($seen, qr{^POST /PROJ/repo\.git/info/lfs/locks op=- .* perm=REPO_WRITE$}m, 'the lock: REPO_WRITE');
    like($seen, qr{^GET /PROJ/repo\.git/info/lfs/locks op=- .* perm=REPO_READ$}m, 'the list: REPO_READ');
    like($seen, qr{^POST /PROJ/repo\.git/info/lfs/locks/1/unlock .* perm=REPO_WRITE$}m, 'the unlock: REPO_WRITE');
    is(scalar(() = $seen =~ /^POST \S+\/locks op=/mg), 1, 'only the write token\'s lock reached the backend');
    is(scalar(() = $seen =~ /\/unlock /g), 1, 'and only its unlock');
};

subtest 'batch bodies the module cannot decide by' => sub {
    my $n = @{ backend() };
    my $post = sub {
        my ($body, %h) = @_;
        return $env->request('POST', "$LFS/objects/batch", auth_bearer($tok{write}, { %$LFSJSON, %h }), $body);
    };
    is_status($post->('operation=upload'), 400, 'not JSON: 400');
    is_status($post->('[{"operation":"upload"}]'), 400, 'a JSON array: 400');
    is_status($post->('{"operation":"upload"} {}'), 400, 'more after the object: 400');
    is_status($post->('{"operation":"download","operation":"upload"}'), 400, 'a member twice: 400');
    is_status($post->('{"operation":"download","Operation":"upload"}'), 400,
              'a member and its twin in another case (a Go server would take the last): 400');
    is_status($post->('{"operation":"download","pad":"' . ('x' x 70000) . '"}'), 413, 'over 64 KiB: 413');
    is_status($post->(''), 400, 'no body: 400');
    is_403($post->('{"objects":[]}'), 'no operation: no route, 403');
    is_403($post->('{"operation":"delete"}'), 'an operation no route names: 403');
    my $res = $env->raw_request("POST $LFS/objects/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                . "Authorization: Bearer $tok{write}\r\nContent-Length: 100000\r\n"
                                . "Content-Type: application/vnd.git-lfs+json\r\n"
                                . "Connection: close\r\n\r\n");
    is($res->{status}, 413, 'Content-Length over 64 KiB: 413 before a byte of it is sent');
    $res = $env->request('POST', "$LFS/objects/batch", {}, '{"operation":"download"}');
    is_status($res, 401, 'no credentials: 401');
    is_deeply(backend_since($n), [], 'none of these reached the backend');
    my $chunked = '{"operation":"download","objects":[]}';
    $res = $env->raw_request("POST $LFS/objects/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             . "Authorization: Bearer $tok{read}\r\nTransfer-Encoding: chunked\r\n"
                             . "Content-Type: application/vnd.git-lfs+json\r\n"
                             . "Connection: close\r\n\r\n" . sprintf('%x', 10) . "\r\n" . substr($chunked, 0, 10)
                             . "\r\n" . sprintf('%x', length($chunked) - 10) . "\r\n" . substr($chunked, 10)
                             . "\r\n0\r\n\r\n");
    is($res->{status}, 200, 'a chunked body: read, decided (download), handed on');
    my $len = length $chunked;
    like(join("\n", @{ backend_since($n) }), qr{^POST \S+/objects/batch op=download len=$len .*perm=REPO_READ$}m,
         '  the backend got it whole, with its length');
    my $LIM = '/lim/PROJ/repo.git/info/lfs/objects/batch';
    is_status($env->request('POST', $LIM, auth_bearer($tok{read}, $LFSJSON),
                            '{"operation":"download","pad":"' . ('x' x 100) . '"}'), 413,
              'over LimitRequestBody: httpd\'s own 413');
    $res = $env->raw_request("POST $LIM HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $tok{read}\r\n"
                             . "Content-Type: application/vnd.git-lfs+json\r\n"
                             . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
    is($res->{status}, 400, 'a broken chunked encoding: httpd\'s own 400');
    like($env->error_log_text, qr/BBT451: .*httpd refused it/, '  logged (BBT451)');
    my ($st, $v) = $env->cgi_call('POST', $LIM, auth_bearer($tok{read}, $LFSJSON), '{"operation":"download"}');
    is($st->{status}, 200, 'within the limit: handed on');
    is($v->{BBTOKEN_PERMISSION}, 'REPO_READ', '  decided REPO_READ');
    like($env->error_log_text, qr/BBT452: .*not JSON/, 'a refused body is logged (BBT452)');
    like($env->error_log_text, qr/BBT450: /, 'and one too large (BBT450)');
    like($env->error_log_text, qr/BBT453: /, 'and an ambiguous one (BBT453)');
};

subtest 'a read token cannot spell an upload batch as a download' => sub {
    my $n = @{ backend() };
    my $gz = do {
        require IO::Compress::Gzip;
        my $out;
        IO::Compress::Gzip::gzip(\'{"operation":"upload","objects":[]}' => \$out) or die "gzip";
        $out;
    };
    my $utf7 = '{"operation":"download","x":"+ACIALAAi-operation+ACIAOgAi-upload","objects":[]}';
    require Encode;
    is(Encode::decode('UTF-7', $utf7), '{"operation":"download","x":"","operation":"upload","objects":[]}',
       'decoded as UTF-7, the body below names "upload" last');
    # Each body is one a JSON decoder may read as an upload.
    my @bodies = (
        ['an escaped letter in the value', '{"operation":"\u0075pload","objects":[]}', 403],
        ['an escaped letter in the name', '{"operatio\u006e":"upload","objects":[]}', 403],
        ['the name twice, once escaped', '{"operation":"download","op\u0065ration":"upload"}', 400],
        ['a NUL after the value', '{"operation":"upload\u0000","objects":[]}', 400],
        ['download, then a NUL and more', "{\"operation\":\"download\"}\0{\"operation\":\"upload\"}", 400],
        ['a byte-order mark (read past, as the API reads it: an upload)', "\xEF\xBB\xBF" . '{"operation":"upload","objects":[]}', 403],
        ['two byte-order marks', "\xEF\xBB\xBF\xEF\xBB\xBF" . '{"operation":"upload","objects":[]}', 400],
        ['upper case', '{"operation":"UPLOAD","objects":[]}', 403],
        ['an overlong UTF-8 letter', "{\"operation\":\"\xC1\xB5pload\"}", 400],
        ['the name alone in another case (Go reads it)', '{"Operation":"upload","objects":[]}', 400],
        ['a download with an upload nested', '{"objects":[{"operation":"upload"}],"operation":"download"}', undef],
        ['a gzip body', $gz, 415, 'Content-Encoding' => 'gzip'],
        # JSON bytes the module could decide by, declared in a coding a
        # backend may decode first (to another body: brotli has blocks a
        # decoder skips): refused whatever the bytes, 415.
        (map { ["JSON declared $_", '{"operation":"download","objects":[]}', 415, 'Content-Encoding' => $_] }
         'br', 'deflate', 'gzip', 'identity, br', 'IDENTITY,gzip', ''),
        ['JSON declared identity (no coding): decided', '{"operation":"download","objects":[]}', 200,
         'Content-Encoding' => ' Identity '],
        # A download to the module, which reads UTF-8; an upload to a
        # backend that decodes by the charset the client names (UTF-7:
        # "+ACIALAAi-" is '","', a member of its own, and the last twin
        # wins): refused, 415, as is any charset but UTF-8.
        ['a UTF-7 download that is an upload', $utf7, 415, 'Content-Type' => 'application/json; charset=utf-7'],
        (map { ["JSON declared $_", '{"operation":"download","objects":[]}', 415, 'Content-Type' => $_] }
         'application/json; charset=iso-8859-1', 'application/json; charset="utf-7"',
         'application/json; charset=utf-8; charset=utf-7', 'application/json; CHARSET=UTF-16',
         'application/json, application/json; charset=utf-7', 'application/json; charset'),
        (map { ["JSON declared $_: decided", '{"operation":"download","objects":[]}', 200, 'Content-Type' => $_] }
         'application/vnd.git-lfs+json; charset=utf-8', 'application/json;charset=UTF-8',
         'application/json; charset="utf-8"', 'application/json'),
        # A backend may choose its parser by the media type, and read a
        # form in these bytes (operation=upload): only JSON is decided by,
        # and none is no JSON (CGI.pm reads a POST without one as a form).
        (map { ["a download declared $_->[0]", '{"operation":"download","objects":[],"x":"&operation=upload&"}', 415,
                'Content-Type' => $_->[1]] }
         ['a form', 'application/x-www-form-urlencoded'], ['multipart', 'multipart/form-data; boundary=x'],
         ['text', 'text/plain'], ['as nothing', undef], ['JSON and a form', 'application/json, application/x-www-form-urlencoded'],
         # CGI.pm takes a form by the media type's prefix; HTTP::Body finds
         # one anywhere in the field.
         ['a form +json', 'application/x-www-form-urlencoded+json'],
         ['with a form in a parameter', 'application/vnd.git-lfs+json; x=application/x-www-form-urlencoded'],
         ['another +json', 'application/merge-patch+json']),
    );
    for my $b (@bodies) {
        my ($name, $body, $want, @h) = @$b;
        my %h = (%$LFSJSON, @h);
        delete $h{'Content-Type'} unless defined $h{'Content-Type'};
        my $res = $env->request('POST', "$LFS/objects/batch", auth_bearer($tok{read}, \%h), $body);
        if (defined $want) {
            is_status($res, $want, "$name: $want");
            is($res->{headers}{'accept-encoding'}, $want == 415 ? 'identity' : undef,
               $want == 415 ? "$name: Accept-Encoding says identity" : "$name: no Accept-Encoding");
        } else {
            ok($res->{status} == 200 || $res->{status} == 400, "$name: 200 or 400 (status $res->{status})");
        }
    }
    like($env->error_log_text, qr/BBT825: the request body of POST \S+ is refused unread: it is declared in a content coding/,
         'a body in a content coding is logged (BBT825)');
    like($env->error_log_text, qr/BBT825: the request body of POST \S+ is refused unread: its Content-Type names a charset/,
         'and one in another charset');
    like($env->error_log_text, qr/BBT825: the request body of POST \S+ is refused unread: its Content-Type is not application\/json or application\/vnd\.git-lfs\+json/,
         'and one not declared JSON');
    my @up = grep {/op=upload/} @{ backend_since($n) };
    is_deeply(\@up, [], 'no upload batch reached the backend') or diag join "\n", @up;
};

# A stand-in for a host a repository's writer owns: it records the
# headers of every request it is sent, and answers 404.
sub header_catcher {
    my ($file) = @_;
    my $l = IO::Socket::INET->new(Listen => 8, LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', ReuseAddr => 1) or die "listen: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # Ended by the parent's TERM, with none of its END blocks or
        # destructors (they stop the servers).
        $SIG{TERM} = sub { POSIX::_exit(0) };
        while (my $c = $l->accept) {
            my $h = '';
            while (defined(my $line = <$c>)) { $h .= $line; last if $line =~ /^\r?\n$/ }
            open my $fh, '>>', $file or POSIX::_exit(1);
            print $fh $h, "----\n";
            close $fh;
            print $c "HTTP/1.1 404 Not Found\r\nContent-Type: application/vnd.git-lfs+json\r\n"
                . "Content-Length: 24\r\nConnection: close\r\n\r\n{\"message\":\"not here\"}\n\n";
            close $c;
        }
        POSIX::_exit(0);
    }
    return ($pid, $l->sockport);
}

# A repository's .lfsconfig is content its writers choose, and git-lfs
# sends an http.extraHeader that names no URL to whatever host that names
# (lfs.url): an unscoped Bearer header hands every clone's token to that
# host.  The page's and the README's line scopes it to the repository's
# URL: git and git-lfs send it there, and nowhere else.
subtest 'a Bearer header scoped to the repository reaches no other host' => sub {
    my $caught = "$D/caught";
    my ($pid, $port) = header_catcher($caught);
    $env->make_repo('PROJ', 'other');
    my $url = $env->base_url . '/git/PROJ/other.git';
    my $w = $env->workdir('other');
    $env->git_ok(as('write'), 'clone', '-q', $url, $w);
    spew("$w/.lfsconfig", "[lfs]\n\turl = http://127.0.0.1:$port/elsewhere\n");
    spew("$w/.gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n");
    # A pointer, as git-lfs's clean filter keeps it: no object to upload.
    spew("$w/x.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:$big_oid\nsize "
         . length($big) . "\n");
    $env->git_ok({ cwd => $w }, 'add', '.lfsconfig', '.gitattributes', 'x.bin');
    $env->git_ok({ cwd => $w }, 'commit', '-q', '-m', 'LFS elsewhere');
    $env->git_ok({ cwd => $w, timeout => 120 }, as('write'), 'push', '-q', '--no-verify', 'origin', 'main');
    my $head = $env->git_ok({ cwd => $w }, 'rev-parse', 'HEAD');

    my $clone = sub {
        my ($key) = @_;
        my $d = $env->workdir('bearer-other');
        unlink $caught;
        my ($rc, $out, $err) = $env->git({ timeout => 120 }, '-c', "$key=Authorization: Bearer $tok{read}",
                                         'clone', '-q', $url, $d);
        my $got = -e "$d/.git" ? ($env->git({ cwd => $d }, 'rev-parse', 'HEAD'))[1] : '';
        chomp $got;
        return ($got, BBT::Util::slurp($caught) // '', $err);
    };
    # Why the scope: with none, the other host is given the token.
    my ($got, $seen, $err) = $clone->('http.extraHeader');
    is($got, $head, 'unscoped: the clone authenticates') or diag $err;
    like($seen, qr{^POST /elsewhere/objects/batch}m, '  git-lfs asks the other host');
    ok(index($seen, $tok{read}) >= 0, '  and gives it the token');
    ($got, $seen, $err) = $clone->("http.$url.extraHeader");
    is($got, $head, 'scoped to the repository: the clone authenticates') or diag $err;
    like($seen, qr{^POST /elsewhere/objects/batch}m, '  git-lfs asks the other host');
    is(index($seen, $tok{read}), -1, '  without the token');
    unlike($seen, qr/^Authorization:/mi, '  or any Authorization header');
    kill 'TERM', $pid;
    waitpid $pid, 0;
};

my $logs = $env->error_log_text . $env->access_log_text;
for my $k (sort keys %tok) {
    ok(index($logs, $tok{$k}) < 0 && index($logs, pct($tok{$k})) < 0, "the $k token is in no log");
}
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
