# The access-tokens REST API (handler bbtoken-rest): Bitbucket Data Center's
# paths, verbs, shapes and status codes; who may manage whose tokens; the
# database's policy with the CLI's messages; CSRF; a token made over REST
# cloning with git; 405's Allow; no byte ranges; 503 when the database is
# down.  No token is logged.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env qw(b64 in_children);
use BBT::Assert;
use BBT::Rest qw(rest_env);

# /1.0 under AuthType Basic with mod_authn_file; /latest under AuthType
# BBToken with passwords beside tokens (so a token does authenticate there,
# and the handler must refuse it).
my $extra = <<'EOC';
# A misconfiguration: a route that opens the API to tokens.  The handler
# itself must still refuse them.
<Location /rest/access-tokens/latest/users/alice/open>
    BBTokenRoute * "/rest/access-tokens/.*" PROJECT_READ project=PROJ
</Location>
EOC
my %pw = (alice => 'alice-Pa55-word', bob => 'bob-Pa55-word', root => 'root-Pa55-word',
          dave => 'dave-Pa55-word', ALICE => 'ALICE-other-Pa55');
# The login must be the user's name exactly: ALICE, another entry of the
# password file, is not alice.  dave is in the password file only.
my $env = rest_env(latest_bbtoken => 1, extra_conf => $extra, passwords => [%pw],
                   repos => [[PROJ => 'repo']], users => ['alice', 'bob', [root => '--admin']],
                   grants => [[alice => PROJECT_WRITE => 'PROJ']]);

my $J = JSON::PP->new->canonical;
my $BASE = '/rest/access-tokens/1.0/users';

# A REST call as alice, unless it says otherwise (as, auth, noauth).
sub call { my ($method, $path, %o) = @_; return $env->rest($method, $path, as => 'alice', %o) }

sub is_error {
    my ($res, $status, $re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $e = ref $res->{json} eq 'HASH' && ref $res->{json}{errors} eq 'ARRAY' ? $res->{json}{errors}[0] : undef;
    my $ok = $res->{status} == $status && $e && exists $e->{context} && !defined $e->{context}
        && defined $e->{message} && $e->{message} =~ $re && defined $e->{exceptionName};
    ok($ok, "$name: $status") or diag res_summary($res);
    return $ok;
}

sub is_num { my ($v) = @_; return defined $v && !ref $v && B::svref_2object(\$v)->FLAGS & (B::SVf_IOK() | B::SVf_NOK()) && !(B::svref_2object(\$v)->FLAGS & B::SVf_POK()) }
use B ();

my %made;
subtest 'create (PUT): Bitbucket\'s shape, the raw token once' => sub {
    my $res = call(PUT => "$BASE/alice", json => { name => 'laptop', permissions => ['PROJECT_READ', 'REPO_WRITE'],
                                                     expiryDays => 30 });
    is_ok_res($res, 'PUT users/alice: 200');
    my $t = $res->{json} || {};
    like($res->{headers}{'content-type'} // '', qr{^application/json}, 'application/json');
    like($t->{id} // '', qr/^\d{12}\z/, 'id: 12 digits');
    ok(!is_num($t->{id}), '  as a string');
    is($t->{name}, 'laptop', 'name');
    like($t->{token} // '', qr/^BBDC-[A-Za-z0-9+\/]{44}\z/, 'token: the raw token');
    ok(is_num($t->{createdDate}) && abs($t->{createdDate} / 1000 - time) < 120, 'createdDate: epoch ms, now');
    ok(is_num($t->{expiryDays}) && $t->{expiryDays} == 30, 'expiryDays: 30, a number');
    ok(is_num($t->{expiryDate}) && abs(($t->{expiryDate} - $t->{createdDate}) / 86400000 - 30) < 0.01,
       'expiryDate: 30 days after createdDate, epoch ms');
    ok(!exists $t->{lastAuthenticated}, 'lastAuthenticated: omitted (never used)');
    is_deeply($t->{permissions}, ['PROJECT_READ', 'REPO_WRITE'], 'permissions');
    my $u = $t->{user} || {};
    is($u->{name}, 'alice', 'user.name');
    is($u->{slug}, 'alice', 'user.slug');
    ok(is_num($u->{id}), 'user.id: a number');
    is($u->{displayName}, 'alice', 'user.displayName');
    ok(!defined $u->{emailAddress}, 'user.emailAddress: null');
    ok($u->{active} && JSON::PP::is_bool($u->{active}), 'user.active: true');
    is($u->{type}, 'NORMAL', 'user.type');
    %made = (laptop => $t);
    my $row = $env->psql("SELECT source || ' ' || actor || ' ' || host(client_addr) FROM bbtoken_audit"
                         . " WHERE event = 'created' AND token_id = '$t->{id}'");
    is($row, 'http alice 127.0.0.1', 'audited: source http, actor the caller, the client address');
    $res = call(PUT => "$BASE/alice", json => { name => 'ci', permissions => ['REPO_READ'] });
    is_ok_res($res, 'without expiryDays');
    ok(!exists $res->{json}{expiryDays} && !exists $res->{json}{expiryDate}, '  no expiry: both omitted');
    is_deeply($res->{json}{permissions}, ['PROJECT_READ', 'REPO_READ'], '  REPO_READ alone: PROJECT_READ, REPO_READ');
    $made{ci} = $res->{json};
};

subtest 'get one, list' => sub {
    my $res = call(GET => "$BASE/alice/$made{laptop}{id}");
    is_ok_res($res, 'GET users/alice/{id}: 200');
    is($res->{json}{name}, 'laptop', '  the token');
    ok(!exists $res->{json}{token}, '  without the raw token');
    $res = call(GET => "/rest/access-tokens/latest/users/ALICE/$made{laptop}{id}");
    is_ok_res($res, 'latest, and the user slug in any case');
    $res = call(GET => "$BASE/alice");
    is_ok_res($res, 'GET users/alice: 200');
    my $p = $res->{json} || {};
    is($p->{size}, 2, 'size 2');
    is($p->{start}, 0, 'start 0');
    is($p->{limit}, 25, 'limit 25 (the default)');
    ok($p->{isLastPage} && JSON::PP::is_bool($p->{isLastPage}), 'isLastPage: true');
    ok(!exists $p->{nextPageStart}, 'no nextPageStart on the last page');
    is_deeply([map { $_->{name} } @{ $p->{values} || [] }], ['ci', 'laptop'], 'values, newest first');
    ok(!grep({ exists $_->{token} } @{ $p->{values} || [] }), 'no raw token in a list');
    # The seed: "You can see the expiry dates for all your tokens".
    my %by = map { $_->{name} => $_ } @{ $p->{values} || [] };
    is($by{laptop}{expiryDate}, $made{laptop}{expiryDate}, 'the list shows the expiry date given at creation');
    ok(!exists $by{ci}{expiryDate}, '  and none for the token without one');
};

subtest 'a token made over REST clones with git; its use shows' => sub {
    my $w = $env->workdir('rest');
    my ($rc, $out, $err) = $env->git('clone', '-q', $env->clone_url('alice', $made{laptop}{token}, 'PROJ', 'repo'), $w);
    is($rc, 0, 'git clone with the new token') or diag $err;
    my $res = call(GET => "$BASE/alice/$made{laptop}{id}");
    ok(is_num($res->{json}{lastAuthenticated}) && abs($res->{json}{lastAuthenticated} / 1000 - time) < 120,
       'lastAuthenticated: now, epoch ms') or diag res_summary($res);
};

subtest 'update (POST): absent fields unchanged' => sub {
    my $id = $made{laptop}{id};
    my $res = call(POST => "$BASE/alice/$id", json => { name => 'laptop 2' });
    is_ok_res($res, 'rename: 200');
    is($res->{json}{name}, 'laptop 2', '  renamed');
    is_deeply($res->{json}{permissions}, ['PROJECT_READ', 'REPO_WRITE'], '  permissions unchanged');
    is($res->{json}{expiryDays}, 30, '  expiry unchanged');
    $res = call(POST => "$BASE/alice/$id", json => { permissions => ['PROJECT_WRITE'] });
    is_ok_res($res, 'permissions: 200');
    is($res->{json}{name}, 'laptop 2', '  name unchanged');
    is_deeply($res->{json}{permissions}, ['PROJECT_WRITE', 'REPO_WRITE'], '  PROJECT_WRITE, REPO_WRITE');
    is_error(call(POST => "$BASE/alice/$id", json => { expiryDays => 5 }), 400, qr/expiry.*cannot be changed/,
             'expiryDays in an update');
    # A client that sends back the token as it read it (expiryDays and
    # all) with one field changed: the expiry it already has passes.
    my $got = call(GET => "$BASE/alice/$id")->{json};
    $got->{name} = 'laptop 3';
    $res = call(POST => "$BASE/alice/$id", json => $got);
    is_ok_res($res, 'the token read back, renamed, expiryDays unchanged: 200');
    is($res->{json}{name}, 'laptop 3', '  renamed');
    is($res->{json}{expiryDays}, 30, '  expiry unchanged');
    is_error(call(POST => "$BASE/alice/$id", json => { name => 'laptop 4', expiryDays => 31 }), 400,
             qr/expiry.*cannot be changed/, 'another expiryDays beside a new name');
    is(call(GET => "$BASE/alice/$id")->{json}{name}, 'laptop 3', '  and the name is not changed either');
    is_error(call(POST => "$BASE/alice/$id", json => { expiryDays => '30' }), 400, qr/expiry.*cannot be changed/,
             'the same expiryDays as a string');
    is_error(call(POST => "$BASE/alice/$made{ci}{id}", json => { expiryDays => 30 }), 400,
             qr/expiry.*cannot be changed/, 'expiryDays for a token that never expires');
    is_error(call(POST => "$BASE/alice/$id", json => { name => 'ci' }), 400, qr/already has a token named 'ci'/,
             'a name in use (the database\'s message)');
    is_error(call(POST => "$BASE/alice/$id", json => { permissions => ['REPO_READ', 'REPO_ADMIN'] }), 400,
             qr/invalid permissions/, 'two repository permissions');
    is_error(call(POST => "$BASE/alice/$id", json => { permissions => ['REPO_CREATE'] }), 400,
             qr/unknown permission REPO_CREATE/, 'REPO_CREATE, a grant no token holds');
    is_error(call(POST => "$BASE/alice/999999999999", json => { name => 'x' }), 404, qr/no such token/,
             'an unknown token');
};

subtest 'create: refusals with the CLI\'s messages' => sub {
    my %bad = (
        'missing name'           => [{ permissions => ['REPO_READ'] }, qr/name is required/],
        'empty name'             => [{ name => '', permissions => ['REPO_READ'] }, qr/must not be empty/],
        'control character'      => [{ name => "a\tb", permissions => ['REPO_READ'] }, qr/control characters/],
        'name not a string'      => [{ name => 5, permissions => ['REPO_READ'] }, qr/string/],
        'missing permissions'    => [{ name => 'x' }, qr/permission is required/],
        'empty permissions'      => [{ name => 'x', permissions => [] }, qr/permission is required/],
        'unknown permission'     => [{ name => 'x', permissions => ['REPO_PUSH'] }, qr/unknown permission REPO_PUSH: expected PROJECT_READ/],
        'lower-case permission'  => [{ name => 'x', permissions => ['repo_read'] }, qr/unknown permission/],
        # A user's project grant (Create repository), never a token's.
        'REPO_CREATE'            => [{ name => 'x', permissions => ['REPO_CREATE'] }, qr/unknown permission REPO_CREATE: expected PROJECT_READ/],
        'REPO_CREATE beside one' => [{ name => 'x', permissions => ['REPO_CREATE', 'REPO_ADMIN'] }, qr/unknown permission REPO_CREATE/],
        'duplicate scope'        => [{ name => 'x', permissions => ['PROJECT_READ', 'PROJECT_WRITE'] }, qr/invalid permissions/],
        'duplicate repository'   => [{ name => 'x', permissions => ['REPO_READ', 'PROJECT_WRITE', 'REPO_WRITE'] }, qr/invalid permissions/],
        'duplicate name'         => [{ name => 'ci', permissions => ['REPO_READ'] }, qr/already has a token named 'ci'/],
        'expiryDays 0'           => [{ name => 'x', permissions => ['REPO_READ'], expiryDays => 0 }, qr/expiryDays/],
        'expiryDays 36501'       => [{ name => 'x', permissions => ['REPO_READ'], expiryDays => 36501 }, qr/expiryDays/],
        'expiryDays a string'    => [{ name => 'x', permissions => ['REPO_READ'], expiryDays => '7' }, qr/expiryDays/],
        'not an object'          => ['[1,2]', qr/not a JSON object/],
        'bad JSON'               => ['{"name": "x",', qr/not a JSON object/],
    );
    for my $k (sort keys %bad) {
        is_error(call(PUT => "$BASE/alice", json => $bad{$k}[0]), 400, $bad{$k}[1], $k);
    }
    $env->cli_ok('policy', '--max-expiry-days', '10');
    is_error(call(PUT => "$BASE/alice", json => { name => 'x', permissions => ['REPO_READ'], expiryDays => 11 }),
             400, qr/the token policy allows an expiry of at most 10 days/, 'over the policy\'s maximum expiry');
    # The maximum alone, no --expiry-required: it bounds every new token.
    my $res = call(PUT => "$BASE/alice", json => { name => 'default expiry', permissions => ['REPO_READ'] });
    is_ok_res($res, 'a maximum, no expiry given');
    is($res->{json}{expiryDays}, 10, '  gets the maximum, as with the CLI');
    ok($res->{json}{expiryDate}, '  and the answer says when it expires');
    $env->cli_ok('policy', '--expiry-optional', '--max-expiry-days', 'none', '--max-tokens', '3');
    is_error(call(PUT => "$BASE/alice", json => { name => 'fourth', permissions => ['REPO_READ'] }),
             400, qr/already has 3 live tokens/, 'the per-user maximum');
    $env->cli_ok('policy', '--max-tokens', '100');
    is(scalar(grep { /^\d{12}/ } split /\n/, $env->cli_ok('list', 'alice')), 3, 'nothing else was created');
};

subtest 'who may: own tokens only; tokens cannot manage tokens' => sub {
    my $id = $made{ci}{id};
    is_error(call(GET => "$BASE/alice", as => 'bob'), 401, qr/not permitted/, 'bob lists alice\'s tokens');
    is_error(call(GET => "$BASE/alice/$id", as => 'bob'), 401, qr/not permitted/, 'bob reads one');
    is_error(call(POST => "$BASE/alice/$id", as => 'bob', json => { name => 'mine' }), 401, qr/not permitted/,
             'bob renames one');
    is_error(call(DELETE => "$BASE/alice/$id", as => 'bob', headers => { 'X-Atlassian-Token' => 'no-check' }),
             401, qr/not permitted/, 'bob revokes one');
    is_error(call(PUT => "$BASE/alice", as => 'bob', json => { name => 'b', permissions => ['REPO_READ'] }),
             401, qr/not permitted/, 'bob creates one for alice');
    is_error(call(GET => "$BASE/alice", as => 'ALICE'), 401, qr/not permitted/,
             'ALICE, another login of the password file, is not alice');
    is_error(call(GET => "$BASE/nosuchuser", as => 'bob'), 401, qr/not permitted/,
             'bob asks for an unknown user: 401, not 404');
    is(call(GET => "$BASE/alice/$id")->{json}{name}, 'ci', 'alice\'s token is unchanged');
    my $res = call(GET => "$BASE/bob", as => 'bob');
    is_ok_res($res, 'bob lists his own');
    is($res->{json}{size}, 0, '  none');
    is_error(call(GET => "$BASE/dave", as => 'dave'), 401, qr/not permitted/, 'dave: a login, no user in the database');
    my $r = call(GET => "$BASE/alice", auth => $env->basic('alice', 'wrong'));
    is($r->{status}, 401, 'a wrong password: 401');
    $r = call(GET => "$BASE/alice", noauth => 1);
    is($r->{status}, 401, 'no credentials: 401');
    my $tok = $made{ci}{token};
    # Under AuthType BBToken the module refuses a token before the handler
    # (no route opens the API to tokens: 403).
    my $r0 = call(GET => "/rest/access-tokens/latest/users/alice", auth => $env->bearer($tok));
    is_status($r0, 403, 'a token under AuthType BBToken: refused by the routes');
    # A route that lets tokens through: the handler refuses them itself.
    my $open = "/rest/access-tokens/latest/users/alice/open";
    is_error(call(GET => $open, auth => $env->bearer($tok)), 401,
             qr/tokens cannot be used/, 'a token (Bearer) that authenticated the request: refused by the handler');
    is_error(call(GET => $open, auth => $env->basic('alice', $tok)), 401,
             qr/tokens cannot be used/, 'a token as a Basic password: refused');
    is_error(call(PUT => $open, auth => $env->bearer($tok),
                  json => { name => 'by token', permissions => ['REPO_READ'] }), 401, qr/tokens cannot be used/,
             'a token cannot create a token');
    is_error(call(GET => $open), 404, qr/No such resource/, '  (while alice\'s password reaches the handler there)');
    is_ok_res(call(GET => "/rest/access-tokens/latest/users/alice"), '  while alice\'s password works there');
    $r = call(GET => "$BASE/alice", auth => $env->bearer($tok));
    is($r->{status}, 401, 'Bearer under AuthType Basic: 401');
};

subtest 'a global admin lists, updates and revokes anyone\'s, creates only their own' => sub {
    my $res = call(GET => "$BASE/alice", as => 'root');
    is_ok_res($res, 'root lists alice\'s tokens');
    is($res->{json}{size}, 3, '  all three');
    my $id = $made{ci}{id};
    $res = call(POST => "$BASE/alice/$id", as => 'root', json => { name => 'renamed by root' });
    is_ok_res($res, 'root renames one');
    is($res->{json}{user}{name}, 'alice', '  still alice\'s');
    is($env->psql("SELECT actor FROM bbtoken_audit WHERE event = 'renamed' AND token_id = '$id'"), 'root',
       '  audited as root');
    is_error(call(PUT => "$BASE/alice", as => 'root', json => { name => 'r', permissions => ['REPO_READ'] }),
             401, qr/only be created by their owner/, 'root cannot create one for alice');
    is_ok_res(call(PUT => "$BASE/root", as => 'root', json => { name => 'r', permissions => ['REPO_READ'] }),
              'root creates his own');
    is_error(call(GET => "$BASE/nosuchuser", as => 'root'), 404, qr/does not exist/, 'an unknown user: 404');
    is_error(call(GET => "$BASE/alice/000000000000", as => 'root'), 404, qr/No access token/, 'an unknown token: 404');
    $res = call(DELETE => "$BASE/alice/$id", as => 'root', headers => { 'X-Atlassian-Token' => 'no-check' });
    is_status($res, 204, 'root revokes it: 204');
    is($res->{content} // '', '', '  no body');
    # As every answer of the handler's (README): no cache keeps it.
    is($res->{headers}{'cache-control'} // '', 'no-store', '  Cache-Control: no-store');
    is($res->{headers}{'x-content-type-options'} // '', 'nosniff', '  X-Content-Type-Options: nosniff');
    is_error(call(GET => "$BASE/alice/$id"), 404, qr/No access token/, 'a revoked token: 404');
    my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('alice', $made{ci}{token}, 'PROJ', 'repo'));
    isnt($rc, 0, 'git refuses the revoked token');
    is_error(call(DELETE => "$BASE/alice/$id", headers => { 'X-Atlassian-Token' => 'no-check' }), 404,
             qr/no such token/, 'revoked again: 404');
};

subtest 'the database checks the caller too (the API\'s role, least privilege)' => sub {
    my $id = call(GET => "$BASE/alice")->{json}{values}[0]{id};
    ok($id, 'a live token of alice');
    my $as = sub { $env->psql_try(@_, user => 'bbtoken_api') };
    my ($rc, $out, $err) = $as->("SELECT bbtoken_api_revoke('bob', 'alice', '$id')");
    ok($rc != 0 && $err =~ /not permitted/, 'bbtoken_api_revoke as bob on alice\'s: refused') or diag $err;
    ($rc, $out, $err) = $as->("SELECT bbtoken_api_update('dave', 'dave', '$id', 'x', NULL, NULL)");
    ok($rc != 0 && $err =~ /not permitted/, 'a caller who is no user: refused') or diag $err;
    ($rc, $out, $err) = $as->("SELECT bbtoken_api_create('root', 'alice', '000000000001', 'x', 'PROJECT_READ',"
                              . " 'REPO_READ', repeat('0', 32), repeat('0', 64), NULL)");
    ok($rc != 0 && $err =~ /not permitted/, 'an admin creating for alice: refused') or diag $err;
    ($rc, $out, $err) = $as->("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'");
    ok($rc != 0 && $err =~ /permission denied/, 'no UPDATE of the table itself') or diag $err;
    ($rc, $out, $err) = $as->("SELECT bbtoken_api_target('alice', 'alice', false)");
    ok($rc != 0 && $err =~ /permission denied/, 'the helper is not callable') or diag $err;
    ($rc, $out, $err) = $env->psql_try("SELECT bbtoken_api_revoke('alice', 'alice', '$id')",
                                       user => 'bbtoken_httpd');
    ok($rc != 0 && $err =~ /permission denied/, 'the lookup role cannot call the API at all') or diag $err;
    is(call(GET => "$BASE/alice/$id")->{status}, 200, 'the token is still live');
};

subtest 'CSRF' => sub {
    my $body = $J->encode({ name => 'csrf', permissions => ['REPO_READ'] });
    is_error(call(PUT => "$BASE/alice", body => $body, headers => { 'Content-Type' => 'text/plain' }), 403,
             qr/XSRF/, 'text/plain, no X-Atlassian-Token (a cross-site form)');
    is_error(call(PUT => "$BASE/alice", body => $body,
                  headers => { 'Content-Type' => 'text/plain', 'X-Atlassian-Token' => 'no-check' }), 415,
             qr/application\/json/, 'with X-Atlassian-Token, still not JSON: 415');
    is_error(call(PUT => "$BASE/alice", json => $body, headers => { Origin => 'http://evil.example' }), 403,
             qr/XSRF/, 'JSON from another Origin');
    is_error(call(PUT => "$BASE/alice", json => $body,
                  headers => { Origin => 'http://evil.example', 'X-Atlassian-Token' => 'no-check' }), 403,
             qr/XSRF/, '  even with X-Atlassian-Token');
    my $res = call(PUT => "$BASE/alice", json => $body, headers => { Origin => $env->base_url });
    is_ok_res($res, 'JSON from this site\'s Origin');
    my $id = $res->{json}{id};
    is_error(call(DELETE => "$BASE/alice/$id", headers => { Origin => 'http://evil.example' }), 403, qr/XSRF/,
             'DELETE from another Origin');
    is_error(call(DELETE => "$BASE/alice/$id", headers => { 'Sec-Fetch-Site' => 'cross-site' }), 403, qr/XSRF/,
             'DELETE that the browser says is cross-site');
    is_status(call(DELETE => "$BASE/alice/$id", headers => { 'X-Atlassian-Token' => 'no-check',
                                                             Origin => $env->base_url }), 204,
              'DELETE with X-Atlassian-Token, from this site: 204');
    $id = call(PUT => "$BASE/alice", json => $body)->{json}{id};
    is_status(call(DELETE => "$BASE/alice/$id"), 204, 'DELETE from a script, without X-Atlassian-Token: 204');
    is(scalar(grep { /csrf/ } split /\n/, $env->cli_ok('list', 'alice')), 0, 'no csrf token is left');
};

subtest 'paging' => sub {
    call(PUT => "$BASE/bob", as => 'bob', json => { name => "p$_", permissions => ['REPO_READ'] }) for 1 .. 5;
    my $res = call(GET => "$BASE/bob?limit=2", as => 'bob');
    my $p = $res->{json} || {};
    is_deeply([$p->{size}, $p->{limit}, $p->{start}, $p->{nextPageStart}], [2, 2, 0, 2], 'first page');
    ok(!$p->{isLastPage} && JSON::PP::is_bool($p->{isLastPage}), '  isLastPage false');
    is_deeply([map { $_->{name} } @{ $p->{values} }], ['p5', 'p4'], '  newest first');
    $p = call(GET => "$BASE/bob?start=2&limit=2", as => 'bob')->{json} || {};
    is_deeply([map { $_->{name} } @{ $p->{values} }], ['p3', 'p2'], 'second page');
    is($p->{nextPageStart}, 4, '  nextPageStart 4');
    $p = call(GET => "$BASE/bob?start=4&limit=2", as => 'bob')->{json} || {};
    is_deeply([map { $_->{name} } @{ $p->{values} }], ['p1'], 'last page');
    ok($p->{isLastPage} && !exists $p->{nextPageStart}, '  isLastPage, no nextPageStart');
    $p = call(GET => "$BASE/bob?limit=100000", as => 'bob')->{json} || {};
    is($p->{limit}, 1000, 'limit capped at 1000');
    is_error(call(GET => "$BASE/bob?start=-1", as => 'bob'), 400, qr/start and limit/, 'a negative start');
};

# Bitbucket's page envelope and nothing else: Eclipse Che's client reads a
# page with a default Jackson ObjectMapper, which fails on a member its Page
# class lacks, so an extra one means Che can neither list tokens nor (as it
# lists first) create one.
my @ENVELOPE = qw(isLastPage limit size start values);
sub members { my ($j) = @_; return [sort keys %{ $j || {} }] }

subtest 'a list is Bitbucket\'s envelope exactly, for users, projects and repositories' => sub {
    my $p = call(GET => "$BASE/bob", as => 'bob')->{json};
    is_deeply(members($p), \@ENVELOPE, 'users/bob, the last page: size, limit, start, isLastPage, values');
    $p = call(GET => "$BASE/bob?limit=2", as => 'bob')->{json};
    is_deeply(members($p), [sort @ENVELOPE, 'nextPageStart'], 'users/bob?limit=2: and nextPageStart');
    $p = call(GET => "$BASE/bob?start=0&limit=25&avatarSize=48", as => 'bob')->{json};
    is_deeply(members($p), \@ENVELOPE, '  an argument the list does not read changes nothing');
    is_status(call(PUT => '/rest/access-tokens/1.0/projects/PROJ', as => 'root',
                   json => { name => 'envelope', permissions => ['PROJECT_READ'] }), 200, 'a project token');
    is_status(call(PUT => '/rest/access-tokens/1.0/projects/PROJ/repos/repo', as => 'root',
                   json => { name => 'envelope', permissions => ['REPO_READ'] }), 200, 'a repository token');
    for my $path ('/rest/access-tokens/1.0/projects/PROJ', '/rest/access-tokens/1.0/projects/PROJ/repos/repo') {
        my $res = call(GET => $path, as => 'root');
        is_ok_res($res, "GET $path");
        is_deeply(members($res->{json}), \@ENVELOPE, '  Bitbucket\'s envelope');
        is(scalar @{ $res->{json}{values} || [] }, 1, '  with the token');
        ok(exists call(GET => "$path?withPolicy=true", as => 'root')->{json}{policy}, '  the policy when asked');
        is_status(call(DELETE => "$path/$_->{id}", as => 'root'), 204, '  revoked') for @{ $res->{json}{values} || [] };
    }
};

subtest 'the list asked withPolicy=true reports the expiry policy (for the page)' => sub {
    my $p = call(GET => "$BASE/bob?withPolicy=true", as => 'bob')->{json} || {};
    is_deeply(members($p), [sort @ENVELOPE, 'policy'], 'the envelope and policy');
    ok($p->{policy} && JSON::PP::is_bool($p->{policy}{expiryRequired}) && !$p->{policy}{expiryRequired},
       'expiry not required by default');
    ok(exists $p->{policy}{maxExpiryDays} && !defined $p->{policy}{maxExpiryDays}, '  no maximum');
    is_deeply(members(call(GET => "$BASE/bob?withPolicy=false", as => 'bob')->{json}), \@ENVELOPE,
              'withPolicy=false: none');
    is_error(call(GET => "$BASE/bob?withPolicy=yes", as => 'bob'), 400, qr/withPolicy is true or false/,
             'withPolicy=yes: 400');
    # A maximum requires an expiry, whether or not it was said.
    $env->cli_ok('policy', '--max-expiry-days', '30');
    $p = call(GET => "$BASE/bob?withPolicy=true", as => 'bob')->{json} || {};
    is_deeply($p->{policy}, { expiryRequired => JSON::PP::true, maxExpiryDays => 30 },
              'after bbtoken policy --max-expiry-days 30: required, at most 30 days');
    is_deeply(members(call(GET => "$BASE/bob", as => 'bob')->{json}), \@ENVELOPE, '  not unless asked');
    $env->cli_ok('policy', '--expiry-required', '--max-expiry-days', '20');
    $p = call(GET => "$BASE/bob?limit=2&withPolicy=true", as => 'bob')->{json} || {};
    is_deeply($p->{policy}, { expiryRequired => JSON::PP::true, maxExpiryDays => 20 },
              'after bbtoken policy --expiry-required --max-expiry-days 20: the same, 20 days');
    $env->cli_ok('policy', '--max-expiry-days', 'none');
    $p = call(GET => "$BASE/bob?withPolicy=true", as => 'bob')->{json} || {};
    is_deeply($p->{policy}, { expiryRequired => JSON::PP::false, maxExpiryDays => undef },
              'the maximum dropped: not required');
};

# The seed: "Repo permissions are inherited from the project permissions".
# Clients written against Bitbucket send a lower repository permission
# beside a project one (a Terraform provider's test: REPO_READ with
# PROJECT_WRITE) and expect it taken.
subtest 'a repository permission below the project one is raised to it (inherited)' => sub {
    my $res = call(PUT => "$BASE/bob", as => 'bob', json => { name => 'tf', permissions => ['REPO_READ', 'PROJECT_WRITE'] });
    is_ok_res($res, 'PUT REPO_READ, PROJECT_WRITE: 200');
    my $id = $res->{json}{id};
    is_deeply($res->{json}{permissions}, ['PROJECT_WRITE', 'REPO_WRITE'], '  answered PROJECT_WRITE, REPO_WRITE');
    return unless defined $id;
    my $r = $env->token_row($id);
    is("$r->{project_perm} $r->{repo_perm}", 'PROJECT_WRITE REPO_WRITE', '  stored so');
    $res = call(POST => "$BASE/bob/$id", as => 'bob', json => { permissions => ['REPO_WRITE', 'PROJECT_ADMIN'] });
    is_ok_res($res, 'POST REPO_WRITE, PROJECT_ADMIN: 200');
    is_deeply($res->{json}{permissions}, ['PROJECT_ADMIN', 'REPO_ADMIN'], '  answered PROJECT_ADMIN, REPO_ADMIN');
    is_deeply(call(GET => "$BASE/bob/$id", as => 'bob')->{json}{permissions}, ['PROJECT_ADMIN', 'REPO_ADMIN'],
              '  and read back so');
    $res = call(POST => "$BASE/bob/$id", as => 'bob', json => { permissions => ['PROJECT_READ', 'REPO_WRITE'] });
    is_deeply($res->{json}{permissions}, ['PROJECT_READ', 'REPO_WRITE'],
              'POST PROJECT_READ, REPO_WRITE: the project level as asked, never raised');
    my %bad = (
        'two repository permissions' => [['REPO_READ', 'PROJECT_WRITE', 'REPO_WRITE'], qr/invalid permissions/],
        'two project permissions'    => [['REPO_READ', 'PROJECT_WRITE', 'PROJECT_ADMIN'], qr/invalid permissions/],
        'REPO_CREATE'                => [['REPO_CREATE', 'PROJECT_WRITE'], qr/unknown permission REPO_CREATE/],
    );
    for my $k (sort keys %bad) {
        is_error(call(PUT => "$BASE/bob", as => 'bob', json => { name => 'no', permissions => $bad{$k}[0] }), 400,
                 $bad{$k}[1], "PUT, $k");
        is_error(call(POST => "$BASE/bob/$id", as => 'bob', json => { permissions => $bad{$k}[0] }), 400,
                 $bad{$k}[1], "POST, $k");
    }
    is_deeply(call(GET => "$BASE/bob/$id", as => 'bob')->{json}{permissions}, ['PROJECT_READ', 'REPO_WRITE'],
              'the refused updates changed nothing');
    ok(!grep({ $_->{name} eq 'no' } @{ call(GET => "$BASE/bob?limit=1000", as => 'bob')->{json}{values} || [] }),
       'the refused creations made nothing');
    is_status(call(DELETE => "$BASE/bob/$id", as => 'bob'), 204, 'revoked');
};

# The seed: "You can see the expiry dates for all your tokens", and revoke
# any of them; an expired token keeps its name until it is revoked.
subtest 'an expired token: listed with its date, revoked by its owner, its name free again' => sub {
    my $res = call(PUT => "$BASE/bob", as => 'bob', json => { name => 'old ci', permissions => ['REPO_READ'],
                                                                expiryDays => 5 });
    is_ok_res($res, 'bob makes a token that expires');
    my $id = $res->{json}{id};
    $env->expire_token($id);
    my ($listed) = grep { $_->{id} eq $id } @{ call(GET => "$BASE/bob?limit=1000", as => 'bob')->{json}{values} || [] };
    ok($listed, 'expired, it is still in the list');
    ok(is_num($listed->{expiryDate}) && $listed->{expiryDate} < time * 1000, '  with its expiry date, past');
    is_error(call(PUT => "$BASE/bob", as => 'bob', json => { name => 'old ci', permissions => ['REPO_READ'] }), 400,
             qr/old ci/, 'its name is still taken');
    is_status(call(DELETE => "$BASE/bob/$id", as => 'bob'), 204, 'bob revokes it: 204');
    ok(!grep({ $_->{id} eq $id } @{ call(GET => "$BASE/bob?limit=1000", as => 'bob')->{json}{values} || [] }),
       '  gone from the list');
    is_ok_res(call(PUT => "$BASE/bob", as => 'bob', json => { name => 'old ci', permissions => ['REPO_READ'] }),
              'the name is free again');
};

subtest 'paths and methods' => sub {
    for my $p ('/rest/access-tokens/2.0/users/alice', '/rest/access-tokens/1.0/users',
               '/rest/access-tokens/1.0/users/alice/123', '/rest/access-tokens/1.0/users/alice/12345678901x',
               '/rest/access-tokens/1.0/projects/PROJ/repos', '/rest/access-tokens/1.0/projects/1PROJ', '/rest/access-tokens/1.0/users/alice/000000000000/x') {
        is_error(call(GET => $p), 404, qr/No such resource/, "GET $p");
    }
    # Allow names HEAD wherever it names GET: a HEAD is answered there.
    my $res = call(PATCH => "$BASE/alice", json => {});
    is_error($res, 405, qr/not allowed/, 'PATCH users/alice');
    is($res->{headers}{allow}, 'GET, HEAD, PUT', '  Allow: GET, HEAD, PUT');
    $res = call(PUT => "$BASE/alice/000000000000", json => {});
    is_error($res, 405, qr/not allowed/, 'PUT on a token');
    is($res->{headers}{allow}, 'GET, HEAD, POST, DELETE', '  Allow: GET, HEAD, POST, DELETE');
    $res = call(GET => '/rest/access-tokens/1.0/revoke-by-value');
    is_error($res, 405, qr/not allowed/, 'GET revoke-by-value');
    is($res->{headers}{allow}, 'POST', '  Allow: POST, no HEAD where there is no GET');
    $res = call(HEAD => "$BASE/alice");
    is($res->{status}, 200, 'HEAD users/alice: 200, as Allow says');
    is($res->{content} // '', '', '  no body');
    $res = call(PUT => "$BASE/alice", body => '{"name":"' . ('x' x 70000) . '"}',
                headers => { 'Content-Type' => 'application/json' });
    is_error($res, 413, qr/too large/, 'a 70 kB body');
};

# A JSON document is whole or nothing: httpd would cut a 200 to the bytes
# a Range asks for (206), and a client would get a slice it cannot parse.
subtest 'a Range is not honoured: the whole JSON, Accept-Ranges: none' => sub {
    my $res = call(GET => "$BASE/alice", headers => { Range => 'bytes=0-10' });
    is($res->{status}, 200, 'GET users/alice, Range: bytes=0-10: 200, not 206') or diag res_summary($res);
    ok(ref $res->{json} eq 'HASH' && ref $res->{json}{values} eq 'ARRAY', '  the whole list, parsed');
    ok(!defined $res->{headers}{'content-range'}, '  no Content-Range');
    is($res->{headers}{'accept-ranges'}, 'none', '  Accept-Ranges: none');
    # A new token's only showing, asked for in part.
    $res = call(PUT => "$BASE/alice", json => { name => 'ranged', permissions => ['REPO_READ'] },
                headers => { Range => 'bytes=0-20,40-60' });
    is($res->{status}, 200, 'PUT with Range: bytes=0-20,40-60: 200, not 206') or diag res_summary($res);
    like(ref $res->{json} eq 'HASH' ? $res->{json}{token} // '' : '', qr/^BBDC-/, '  the whole token in the JSON');
    is($res->{headers}{'accept-ranges'}, 'none', '  Accept-Ranges: none');
    if (ref $res->{json} eq 'HASH') {
        $res = call(DELETE => "$BASE/alice/$res->{json}{id}");
        is_status($res, 204, 'revoked again');
        is($res->{headers}{'accept-ranges'}, 'none', '  Accept-Ranges: none, with no body too');
    }
    # Its errors carry it too, as every answer of the handler.
    $res = call(GET => "$BASE/alice/000000000000", headers => { Range => 'bytes=0-10' });
    is_error($res, 404, qr/./, 'an unknown token with a Range');
    is($res->{headers}{'accept-ranges'}, 'none', '  Accept-Ranges: none');
};

subtest 'the database down: 503, never 401' => sub {
    $env->pg_stop;
    my $res = call(GET => "$BASE/alice");
    is_error($res, 503, qr/unavailable/, 'GET');
    ok(defined $res->{headers}{'retry-after'}, '  Retry-After');
    is_error(call(PUT => "$BASE/alice", json => { name => 'x', permissions => ['REPO_READ'] }), 503,
             qr/unavailable/, 'PUT');
    $env->pg_start;
    my $ok;
    for (1 .. 20) { $res = call(GET => "$BASE/alice"); last if ($ok = $res->{status} == 200); select(undef, undef, undef, 0.25) }
    ok($ok, 'back after the database is') or diag res_summary($res);
};

# Every pooled connection dies in a restart, and libpq learns it only when
# a statement fails: the handler must reset the connection and ask again,
# as the token lookup does, not answer 503 once per stale connection.
subtest 'PostgreSQL restarted under the API\'s pooled connections: no failure' => sub {
    my $burst = sub {
        return scalar grep { $_ != 0 } in_children(8, sub {
            my $bad = 0;
            for (1 .. 3) { $bad++ unless call(GET => "$BASE/alice")->{status} == 200 }
            return $bad ? 1 : 0;
        });
    };
    is($burst->(), 0, 'concurrent calls fill the pools');
    my $before = $env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_api'");
    note "bbtoken_api connections before the restart: $before";
    ok($before >= 1, 'pooled connections to lose');
    $env->pg_restart;
    my @st;
    for my $i (1 .. 16) {
        my $res = call($i % 2 ? 'GET' : 'PUT', "$BASE/alice",
                       $i % 2 ? () : (json => { name => "after restart $i", permissions => ['REPO_READ'] }));
        push @st, $res->{status};
        ok(defined $res->{headers}{'retry-after'}, "  call $i: 503 with Retry-After") if $res->{status} == 503;
    }
    note "statuses after the restart: @st";
    ok(!(grep { $_ != 200 } @st), 'every call answered as if nothing happened') or diag "@st";
    is($burst->(), 0, 'a concurrent burst after the restart all succeeds');
    like($env->error_log_text, qr/BBT280: access-tokens API: the database connection was lost/,
         'the lost connection was logged (BBT280)');
};

subtest 'statement logging: create and rotate send the new salt and hash, which the README\'s advice keeps out' => sub {
    my $logged = sub {
        my ($id) = @_;
        my $row = $env->token_row($id) or return -1;
        my $log = $env->pg_log_text;
        return scalar grep { index($log, $_) >= 0 } $row->{salt}, $row->{secret_hash};
    };
    my $set = sub {
        $env->psql("ALTER SYSTEM SET $_") for @_;
        $env->psql('SELECT pg_reload_conf()');
        sleep 1;
    };
    $set->("log_statement = 'all'");
    my $made = call(PUT => "$BASE/alice", json => { name => 'logged', permissions => ['REPO_READ'] });
    is_ok_res($made, 'PUT with every statement logged');
    my $id = $made->{json}{id} // '';
    is($logged->($id), 2, '  its salt and hash are in the PostgreSQL log (parameters of bbtoken_api_create)');
    my $rot = call(POST => "$BASE/alice/$id/rotate", headers => { 'X-Atlassian-Token' => 'no-check' });
    is_ok_res($rot, 'rotate');
    is($logged->($rot->{json}{id} // ''), 2, '  so are the new token\'s (bbtoken_api_rotate)');
    $set->('log_parameter_max_length = 0', 'log_parameter_max_length_on_error = 0');
    $made = call(PUT => "$BASE/alice", json => { name => 'not logged', permissions => ['REPO_READ'] });
    is_ok_res($made, 'PUT with log_parameter_max_length = 0');
    is($logged->($made->{json}{id} // ''), 0, '  neither is in the log');
    $rot = call(POST => "$BASE/alice/$made->{json}{id}/rotate", headers => { 'X-Atlassian-Token' => 'no-check' });
    is($logged->($rot->{json}{id} // ''), 0, '  nor a rotated one\'s');
    $env->psql("ALTER SYSTEM RESET $_") for qw(log_statement log_parameter_max_length log_parameter_max_length_on_error);
    $env->psql('SELECT pg_reload_conf()');
};

my $logs = $env->error_log_text . $env->access_log_text;
my @tokens = $env->rest_tokens;    # every raw token seen: none may be logged
ok(@tokens >= 5, 'tokens were made (' . scalar(@tokens) . ')');
is(scalar(grep { index($logs, $_) >= 0 } @tokens), 0, 'no raw token in any log');
for my $u (sort keys %pw) {
    unlike($logs, qr/\Q$pw{$u}\E/, "the password of $u is in no log");
}
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
