# The module's own refusals on a location of the bitbucket-rest route set
# (Bitbucket's REST API behind the module) are answered in Bitbucket's
# JSON error envelope, as on the access-tokens API's location: no login or
# a wrong one (401 with the challenges), a token the route refuses (403,
# saying what the token lacks, with Bearer's insufficient_scope), an
# address the failed-login throttle holds back (429 with Retry-After), a
# malformed Authorization header or a method override naming another
# method (400), a body a route reads and cannot decide by (400, 413,
# 415), the database unavailable (503 with Retry-After); a HEAD gets no
# body; application/json;charset=UTF-8, nosniff and no-store.  An
# ErrorDocument for the status does not take its place, as on the API's
# location.  On the same server a git location keeps httpd's HTML page for
# each (a 403's says what the token lacks after httpd's own sentence, a
# space between them; an ErrorDocument's page, a text ErrorDocument
# quoting error-notes and the access log's %{error-notes}n are given those
# words as they are), and a section holding both sets answers each request
# by the set of the route that decides it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(mistype_token parse_token);
use BBT::Assert;
use BBT::Rest qw(rest_header is_rest_envelope);

my $FAILS = 4;
my $pw = 'alice-Pa55-word';
my $extra = <<'EOC';
BBTokenCache off
ScriptAlias /rest/ "@DIR@/cgi-bin/env.cgi/"
<Location /rest>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes bitbucket-rest
    Require bbtoken
</Location>
<Location /rest/open>
    Require all granted
</Location>
# An ErrorDocument of its own for every status.
ScriptAlias /ed/rest/ "@DIR@/cgi-bin/env.cgi/"
<Location /ed>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes bitbucket-rest /ed
    Require bbtoken
    ErrorDocument 401 "the admin's own 401 page"
    ErrorDocument 403 "the admin's own 403 page"
</Location>
# The access-tokens API's own location, with the same: its refusals are
# told in the envelope whatever ErrorDocument says.
<Location /api/rest/access-tokens>
    SetHandler bbtoken-rest
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes none
    Require valid-user
    ErrorDocument 401 "the admin's own 401 page"
</Location>
# A git location whose ErrorDocument 403 is a page of the admin's, which
# shows the module's words as httpd hands them over (ERROR_NOTES).
ScriptAlias /notes/ "@DIR@/cgi-bin/notes.cgi/"
<Location /edg>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /edg/scm
    Require bbtoken
    ErrorDocument 403 /notes/403
</Location>
# Git locations whose ErrorDocument 403 is text quoting the module's
# words, and a page of the location's own that the gate refuses in turn
# (httpd's page again, for the first refusal).
<Location /edt>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /edt/scm
    Require bbtoken
    ErrorDocument 403 "Denied: [%{note:error-notes}]"
</Location>
<Location /edr>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /edr/scm
    Require bbtoken
    ErrorDocument 403 /edr/scm/PROJ/repo.git/info/refs?service=git-receive-pack
</Location>
# The words in the access log, the first request's and the last's.
LogFormat "%>s %<m %<U [%<{error-notes}n] [%>{error-notes}n]" bbtnotes
CustomLog "@DIR@/logs/notes_log" bbtnotes
# Both sets in one section: git under /mix/scm, the REST API under /mix.
ScriptAlias /mix/ "@DIR@/cgi-bin/env.cgi/"
<Location /mix>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /mix/scm
    BBTokenRoutes bitbucket-rest /mix
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file authz_user)],
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
$env->htpasswd(alice => $pw);
my $tok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
BBT::Env::spew($env->dir . '/cgi-bin/notes.cgi',
               qq(#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n[%s]' "\$REDIRECT_ERROR_NOTES"\n), 0755);
my $bad = mistype_token($tok);
my $host = '127.0.0.1:' . $env->port;

my $A = '/rest/api/latest';
my $REPO = "$A/projects/PROJ/repos/repo";
my $GIT = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $PUSH = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';
my $LACKS = 'The access token does not have REPO_WRITE permission for this request.';
# httpd's 403 sentence on its page, then the module's, a space between.
my $NO = qr{<p>You don't have permission to access this resource\. };

# The envelope (BBT::Rest), naming nothing of the request, and no
# Accept-Ranges: whether Bitbucket's resource serves ranges is not the
# module's to say (the access-tokens API's answers, $ranges, say none).
sub is_envelope {
    my ($res, $status, $ex_re, $msg_re, $name, $ranges) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = is_rest_envelope($res, $status, $ex_re, $msg_re, $name, qr/\Q$pw\E|\Q$tok\E|\Q$bad\E|wrong-pw/);
    is(rest_header($res, 'accept-ranges'), $ranges, "$name: Accept-Ranges: " . ($ranges // 'none given'));
    return $ok;
}


# httpd's own HTML page with this status (or the body httpd was given
# for it, $body_re).
sub is_page {
    my ($res, $status, $name, $body_re) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = $res->{status} == $status && (rest_header($res, 'content-type') // '') =~ m{^text/html}
        && ($res->{content} // $res->{body} // '') =~ ($body_re // qr/<html>/i);
    ok($ok, "$name: $status, httpd's HTML page") or diag res_summary($res);
    return $ok;
}

sub basic_and_bearer {
    my ($res, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @c = challenges($res);
    ok((grep { /^Basic realm="Git"/ } @c) && (grep { /^Bearer realm="Git"/ } @c), "$name: both challenges kept")
        or diag res_summary($res);
}

my $AUTH_FAILED = qr/^Authentication failed\. Please check your credentials and try again\.$/;

# A client of its own address: its failed logins throttle no other.
sub from {
    my ($addr) = @_;
    return HTTP::Tiny->new(timeout => 30, max_redirect => 0, keep_alive => 0, local_address => $addr);
}

subtest '401: no login, a wrong token, a wrong password' => sub {
    my $ua = from('127.0.0.5');
    for my $c ([undef, 'no Authorization'], [$env->bearer($bad), 'a mistyped token'],
               [$env->basic('alice', 'wrong-pw'), 'a wrong password']) {
        my ($auth, $what) = @$c;
        my $h = { headers => $auth ? { Authorization => $auth } : {} };
        my $res = $ua->get($env->url($REPO), $h);
        is_envelope($res, 401, qr/\.AuthorisationException$/, $AUTH_FAILED, "REST, $what");
        basic_and_bearer($res, "REST, $what");
        is_page($ua->get($env->url($GIT), $h), 401, "git, $what");
    }
    my $res = $env->get('/mix/rest/api/1.0/projects/PROJ');
    is_envelope($res, 401, qr/\.AuthorisationException$/, $AUTH_FAILED, 'both sets, a REST route');
    is_page($env->get('/mix/scm/PROJ/repo.git/info/refs?service=git-upload-pack'), 401, 'both sets, a git route');
    is_page($env->get('/mix/elsewhere'), 401, 'both sets, no route');
};

subtest 'HEAD: the same head, no body' => sub {
    my $res = $env->raw_request("HEAD $REPO HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n");
    is($res->{status}, 401, 'HEAD without a login: 401');
    is(rest_header($res, 'content-type'), 'application/json;charset=UTF-8', '  application/json');
    basic_and_bearer($res, '  HEAD');
    is($res->{body} // '', '', '  and no body');
};

subtest '403: a token the route refuses, saying what it lacks' => sub {
    my $auth = { Authorization => $env->bearer($tok) };
    my $res = $env->request('PUT', "$REPO/browse/README.md", $auth, 'x');
    is_envelope($res, 403, qr/\.AuthorisationException$/,
                qr/^The access token does not have REPO_WRITE permission for this request\.$/, 'REST, too little');
    ok(grep({ /^Bearer realm="Git", error="insufficient_scope"$/ } challenges($res)), '  insufficient_scope kept');
    is_envelope($env->get("$A/admin/users", $auth), 403, qr/\.AuthorisationException$/,
                qr/^This URL or method is not open to access tokens\.$/, 'REST, a deny route');
    is_envelope($env->get('/rest/build-status/latest/commits/0123', $auth), 403, qr/\.AuthorisationException$/,
                qr/^This URL or method is not open to access tokens\.$/, 'REST, no route');
    is_page($env->get($PUSH, $auth), 403, 'git, too little',
            qr{$NO\QThe access token does not have REPO_WRITE permission for this request.</p>});
    is_page($env->get('/scm/PROJ/repo.git/no-such-thing', $auth), 403, 'git, no route',
            qr{${NO}This URL or method is not open to access tokens\.</p>});
    $res = $env->get("/edg$PUSH", $auth);
    is($res->{status}, 403, 'git, too little, where an ErrorDocument 403 is a page of the admin\'s');
    is($res->{content}, '[The access token does not have REPO_WRITE permission for this request.]',
       '  that page is handed the words as they are');
};

# The space is for httpd's page alone: whatever else shows the words
# (ErrorDocument's text, the access log: see the end) has them as they are.
subtest '403: the words as they are where httpd\'s page does not show them' => sub {
    my $auth = { Authorization => $env->bearer($tok) };
    my $res = $env->get("/edt$PUSH", $auth);
    is($res->{status}, 403, 'git, too little, where an ErrorDocument 403 is text quoting error-notes');
    is($res->{content}, "Denied: [$LACKS]", '  it quotes the words as they are');
    is_page($env->get("/edr$PUSH", $auth), 403, 'git, too little, where the ErrorDocument 403 is refused too',
            qr{$NO\Q$LACKS\E</p>\s*<p>Additionally, a 403 Forbidden});
    is($env->request('HEAD', $PUSH, $auth)->{status}, 403, 'git, too little, HEAD');
};

subtest 'an ErrorDocument for the status does not take its place' => sub {
    is_envelope($env->get('/ed/rest/api/latest/projects/PROJ'), 401, qr/\.AuthorisationException$/, $AUTH_FAILED,
                'no login');
    is_envelope($env->get('/ed/rest/api/latest/admin/users', { Authorization => $env->bearer($tok) }), 403,
                qr/\.AuthorisationException$/, qr/^This URL or method is not open to access tokens\.$/, 'a deny route');
    is_envelope($env->get('/api/rest/access-tokens/1.0/users/alice'), 401, qr/\.AuthorisationException$/, $AUTH_FAILED,
                'the access-tokens API\'s location, no login', 'none');
};

subtest '400: a malformed Authorization header' => sub {
    my $h = { Authorization => 'Basic !!!not-base64' };
    my $res = $env->get($REPO, $h);
    is_envelope($res, 400, qr/\.ArgumentValidationException$/, qr/^The Authorization header is malformed\.$/,
                'REST, Basic with no base64');
    unlike($res->{content} // '', qr/not-base64/, '  the body echoes nothing of the header');
    is_page($env->get($GIT, $h), 400, 'git, Basic with no base64');
};

subtest '400: a method override naming another method' => sub {
    my $h = { Authorization => $env->bearer($tok), 'X-HTTP-Method-Override' => 'DELETE' };
    my $OVR = qr/^A method override must name the request's own method\.$/;
    my $res = $env->get($REPO, $h);
    is_envelope($res, 400, qr/\.ArgumentValidationException$/, $OVR, 'REST, GET with X-HTTP-Method-Override: DELETE');
    unlike($res->{content} // '', qr/DELETE/, '  the body echoes nothing of the header');
    is_envelope($env->get('/rest/open/x', { 'X-HTTP-Method-Override' => 'DELETE' }), 400,
                qr/\.ArgumentValidationException$/, $OVR, 'REST, let in without a login');
    is_envelope($env->get("$REPO?_method=DELETE", { Authorization => $env->bearer($tok) }), 400,
                qr/\.ArgumentValidationException$/, $OVR, 'REST, _method=DELETE');
    is_page($env->get($GIT, $h), 400, 'git, GET with X-HTTP-Method-Override: DELETE');
};

# Bodies a route reads (a fork's or move's body-project=, a pull request's
# body-repo=, git LFS's json=) and cannot decide by: the envelope's words
# are fixed, the error log says why.
subtest 'a body the routes cannot decide by' => sub {
    chomp(my $rtok = $env->cli_ok('create', '--repo', 'PROJ/repo', '--name', 'pr', '--perm', 'REPO_WRITE'));
    parse_token($rtok) or die "no token printed: $rtok";
    my $JSON = { Authorization => $env->bearer($tok), 'Content-Type' => 'application/json' };
    my $UNREAD = qr/^The request body could not be read as this request needs\.$/;
    my $ARG = qr/\.ArgumentValidationException$/;
    my $big = '{"name":"' . ('x' x (64 * 1024)) . '"}';
    # Each body carries ZQ: the envelope echoes none of it.
    my @cases = (
        ['POST', $REPO, $JSON, 'ZQ not json', 400, $ARG, $UNREAD, 'a fork whose body is no JSON', qr/BBT452/],
        ['POST', $REPO, $JSON, '{"project":{"key":"PROJ","KEY":"ZQ"}}', 400, $ARG, $UNREAD,
         'a fork whose project key has a twin', qr/BBT740: .* names its project ambiguously/],
        ['PUT', $REPO, $JSON, '{"project":{"key":"ZQ-X"}}', 400, $ARG, $UNREAD, 'a move into no project key',
         qr/BBT740: .* the body's project key is not a project key/],
        ['POST', $REPO, $JSON, '{"ZQ":' . ('[' x 200) . (']' x 200) . '}', 400, $ARG, $UNREAD,
         'a fork whose body is too deep', qr/BBT452/],
        ['POST', "$REPO/pull-requests",
         { Authorization => $env->bearer($rtok), 'Content-Type' => 'application/json' },
         '{"fromRef":{"repository":{"slug":"ZQ"}},"fromRef":{}}', 400, $ARG, $UNREAD,
         'a repository token\'s pull request with twin keys', qr/BBT452/],
        ['PUT', $REPO, $JSON, $big . 'ZQ', 413, qr/\.RequestTooLargeException$/,
         qr/^The request body is too large\.$/, 'a move whose body is over 64 KiB', qr/BBT450/],
        ['POST', $REPO, { %$JSON, 'Content-Type' => 'text/plain' }, '{"ZQ":1}', 415,
         qr/\.UnsupportedMediaTypeException$/, qr/^The request body must be JSON \(Content-Type: application\/json\)/,
         'a fork whose body is not said to be JSON', qr/BBT825/],
    );
    for my $c (@cases) {
        my ($m, $path, $h, $body, $status, $ex, $msg, $what, $logged) = @$c;
        my $mark = log_mark($env->error_log_path);
        my $res = $env->request($m, $path, $h, $body);
        is_envelope($res, $status, $ex, $msg, "REST, $what");
        unlike($res->{content} // '', qr/ZQ/, "  the body echoes nothing of the request's");
        like(join('', log_lines_since($env->error_log_path, $mark)), $logged, '  the error log says why');
    }
    is_envelope($env->request('POST', "/mix$REPO", $JSON, 'ZQ not json'), 400, $ARG, $UNREAD,
                'both sets, a REST fork whose body is no JSON');

    # git LFS's batch (json=): httpd's page, as git clients get every
    # refusal.
    my $LFS = { Authorization => $env->bearer($tok), 'Content-Type' => 'application/vnd.git-lfs+json' };
    for my $p ('/scm', '/mix/scm') {
        my $batch = "$p/PROJ/repo.git/info/lfs/objects/batch";
        is_page($env->request('POST', $batch, $LFS, 'not json'), 400, "git $p, a batch whose body is no JSON");
        is_page($env->request('POST', $batch, $LFS, '{"operation":"download","Operation":"upload"}'), 400,
                "git $p, a batch whose operation has a twin");
        is_page($env->request('POST', $batch, $LFS, $big), 413, "git $p, a batch over 64 KiB");
        is_page($env->request('POST', $batch, { %$LFS, 'Content-Type' => 'text/plain' }, '{}'), 415,
                "git $p, a batch not said to be JSON");
    }
};

subtest '429: a throttled address' => sub {
    my $ua = from('127.0.0.7');
    my $wrong = { Authorization => $env->basic('alice', 'wrong-pw') };
    for my $i (1 .. $FAILS) {
        is($ua->get($env->url($REPO), { headers => $wrong })->{status}, 401, "failure $i: 401");
    }
    my $right = { Authorization => $env->basic('alice', $pw) };
    my $res = $ua->get($env->url($REPO), { headers => $right });
    is_envelope($res, 429, qr/\.RateLimitedException$/, qr/^Too many failed logins from your address/,
                'REST, the right password, throttled');
    like(rest_header($res, 'retry-after') // '', qr/^[1-9]\d*$/, '  Retry-After in seconds');
    # The throttle's own words, as httpd's page.
    is_page($ua->get($env->url($GIT), { headers => $right }), 429, 'git, throttled', qr/^Too many failed logins/);
};

# Last: the database stays down (BBTokenCache off: every token is asked of
# it).
subtest '503: the database unavailable' => sub {
    $env->pg_stop;
    my $auth = { Authorization => $env->bearer($tok) };
    my $res = $env->get($REPO, $auth);
    is_envelope($res, 503, qr/\.ServiceUnavailableException$/,
                qr/^The token database is unavailable; try again later\.$/, 'REST, a token');
    like(rest_header($res, 'retry-after') // '', qr/^[1-9]\d*$/, '  Retry-After in seconds');
    is_page($env->get($GIT, $auth), 503, 'git, a token');
};

# Each request's line is written after its answer: all are once httpd has
# stopped.
subtest 'the access log has the words as they are' => sub {
    $env->httpd_stop(graceful => 1);
    my @lines = split /\n/, BBT::Env::slurp($env->dir . '/logs/notes_log');
    for my $req ('GET /scm/PROJ/repo.git/info/refs', 'HEAD /scm/PROJ/repo.git/info/refs',
                 'GET /edt/scm/PROJ/repo.git/info/refs', 'GET /edr/scm/PROJ/repo.git/info/refs',
                 "PUT $REPO/browse/README.md") {
        my @l = grep { index($_, "403 $req ") == 0 } @lines;
        ok(@l && !grep({ $_ ne "403 $req [$LACKS] [$LACKS]" } @l), "$req: the words, no space before them")
            or diag join("\n", @l);
    }
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
