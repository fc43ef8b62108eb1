# The access-tokens REST API in httpd with the module, one process (-X),
# under valgrind's memcheck: every endpoint, bodies that are refused (too
# large, over LimitRequestBody, a broken chunk, not JSON), a request
# without a login, one with a token, what AuthType BBToken refuses before
# the handler (in JSON), a path and a method that are not the
# API's, query strings to decode and malformed ones, the cross-site check, a project's and a repository's tokens,
# rotation, the places a user may manage tokens of, a database outage,
# a PostgreSQL restart under the pooled connection.
# Any invalid read or write, use of uninitialised memory or bad free fails
# the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env;
use BBT::Assert;
use BBT::Rest qw(rest_env);
use POSIX qw(WNOHANG);

my $valgrind = `sh -c 'command -v valgrind'`;
chomp $valgrind;
plan skip_all => 'valgrind is not installed' unless $valgrind;

# /rest/access-tokens/early logs in with AuthType BBToken and keeps tokens
# out: its refusals come before the handler, in JSON all the same.
my $extra = <<'EOC';
<Location /rest/access-tokens/1.0/revoke-by-value>
    AuthType None
    Require all granted
</Location>
<Location /rest/access-tokens/early>
    AuthType BBToken
    AuthName "Bitbucket"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes none
</Location>
EOC
# httpd starts below, under valgrind.
my $env = rest_env(env => { httpd => 0, http_timeout => 300 }, error_paths => 1, extra_conf => $extra,
                   passwords => [alice => 'alice-pw', root => 'root-pw'],
                   users => ['alice', [root => '--admin'], 'carol'],
                   grants => [[alice => PROJECT_ADMIN => 'PROJ']]);
my $carol_tok = $env->token_create('carol', name => 'ci', perms => ['REPO_READ']);
my $leaked = $env->token_create('carol', name => 'leaked', perms => ['REPO_READ']);
my $conf = $env->write_conf;
my $log = $env->dir . '/valgrind.log';

my $pid = fork // die "fork: $!";
if (!$pid) {
    exec($valgrind, '--error-exitcode=99', "--log-file=$log", '--track-origins=yes',
         '/usr/sbin/apache2', '-X', '-f', $conf);
    die "exec valgrind: $!";
}
my $up;
for (1 .. 200) {
    last if $up = BBT::Env::port_open($env->port);
    select undef, undef, undef, 0.25;
}
ok($up, 'httpd came up under valgrind') or BAIL_OUT('httpd under valgrind did not start');

my $auth = $env->basic('alice', 'alice-pw');
my $B = '/rest/access-tokens/1.0/users/alice';
my %json = (Authorization => $auth, 'Content-Type' => 'application/json');
my %nock = (Authorization => $auth, 'X-Atlassian-Token' => 'no-check');
sub req { my ($m, $p, $h, $c) = @_; return $env->request($m, $p, $h, $c) }
sub raw_put {
    my ($path, $rest) = @_;
    return $env->raw_request("PUT $path HTTP/1.1\r\nHost: 127.0.0.1:" . $env->port
                             . "\r\nAuthorization: $auth\r\nContent-Type: application/json\r\n"
                             . "Connection: close\r\n$rest");
}

my $res = req(PUT => $B, \%json, '{"name":"vg","permissions":["REPO_WRITE"],"expiryDays":5}');
is_status($res, 200, 'create');
my $id = eval { decode_json($res->{content})->{id} } // '000000000000';
is_status(req(GET => "$B?start=0&limit=2", { Authorization => $auth }), 200, 'list');
is_status(req(GET => "$B?%73tart=0&limit=%32&limit=3&x=%C3%A9+b&y", { Authorization => $auth }), 200,
          'list, a query to decode');
for my $q ('x=a%00b', 'x=%zz', 'x=%', 'x=%FF', '%00') {
    is_status(req(GET => "$B?limit=2&$q", { Authorization => $auth }), 400, "list, a malformed query ($q)");
}
is_status(req(GET => "$B/$id", { Authorization => $auth }), 200, 'get');
is_status(req(POST => "$B/$id", \%json, '{"name":"vg 2","permissions":["PROJECT_READ"]}'), 200, 'update');
is_status(req(POST => "$B/$id", \%json, '{"name":"vg 2","permissions":["REPO_PUSH"]}'), 400, 'bad permission');
is_status(req(PUT => $B, \%json, '{"name":"vg 2","permissions":["REPO_READ"]}'), 400, 'name in use');
is_status(req(PUT => $B, \%json, '{"name":'), 400, 'bad JSON');
is_status(req(PUT => $B, { %json, 'Content-Type' => 'text/plain', 'X-Atlassian-Token' => 'no-check' }, '{}'),
          415, 'not JSON');
is_status(req(PUT => $B, \%json, '{"name":"' . ('x' x 70000) . '"}'), 413, 'over 64 KiB');
is_status(req(PUT => '/rest/access-tokens/latest/users/alice', \%json, '{"name":"' . ('x' x 200) . '"}'),
          413, 'over LimitRequestBody');
is_status(raw_put('/rest/access-tokens/latest/users/alice',
                  "Transfer-Encoding: chunked\r\n\r\n" . sprintf("%x\r\n%s\r\n0\r\n\r\n", 150, 'x' x 150)),
          413, 'chunked, over LimitRequestBody');
is_status(raw_put($B, "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"), 400, 'a broken chunk');
is_status(req(GET => '/rest/access-tokens/1.0/users/carol', {}), 401, 'no login');
is_status(req(GET => '/rest/access-tokens/1.0/users/carol', { Authorization => "Bearer $carol_tok" }), 401,
          'a token');
my $E = '/rest/access-tokens/early/users/alice';
for ([{}, 401, 'no login'], [{ Authorization => $env->basic('alice', 'wrong') }, 401, 'a wrong password'],
     [{ Authorization => "Bearer $carol_tok" }, 403, 'a token']) {
    my ($h, $want, $name) = @$_;
    $res = req(GET => $E, $h);
    is_status($res, $want, "before the handler: $name");
    is($res->{headers}{'content-type'}, 'application/json;charset=UTF-8', '  in JSON');
}
is_status(req(HEAD => $E, {}), 401, 'before the handler: HEAD, no login');
is_status(req(GET => '/rest/access-tokens/2.0/users/alice', { Authorization => $auth }), 404, 'not a path of ours');
is_status(req(PATCH => $B, \%json, '{}'), 405, 'another method');
is_status(req(PUT => $B, { %json, Origin => 'http://evil.example' }, '{}'), 403, 'cross-site');
$res = req(POST => "$B/$id/rotate", \%nock);
is_status($res, 200, 'rotate');
my $old = $id;
$id = eval { decode_json($res->{content})->{id} } // '000000000000';
is_status(req(POST => "$B/$old/rotate", \%nock), 400, 'rotate the revoked one');
is_status(req(GET => "$B/$id/rotate", { Authorization => $auth }), 405, 'rotate: GET');
is_status(req(DELETE => "$B/$id", \%nock), 204, 'revoke');
is_status(req(DELETE => "$B/$id", \%nock), 404, 'revoke again');
# A project's and a repository's tokens.
my $PB = '/rest/access-tokens/1.0/projects/proj';
for my $where ($PB, "$PB/repos/repo") {
    my $perms = $where =~ /repos/ ? '["REPO_WRITE"]' : '["PROJECT_READ"]';
    $res = req(PUT => $where, \%json, qq({"name":"vg","permissions":$perms}));
    is_status($res, 200, "create at $where");
    my $sid = eval { decode_json($res->{content})->{id} } // '000000000000';
    is_status(req(GET => "$where?limit=5", { Authorization => $auth }), 200, "list at $where");
    is_status(req(GET => "$where/$sid", { Authorization => $auth }), 200, "get at $where");
    is_status(req(POST => "$where/$sid", \%json, '{"name":"vg 2"}'), 200, "update at $where");
    $res = req(POST => "$where/$sid/rotate", \%nock);
    is_status($res, 200, "rotate at $where");
    $sid = eval { decode_json($res->{content})->{id} } // '000000000000';
    is_status(req(DELETE => "$where/$sid", \%nock), 204, "revoke at $where");
}
is_status(req(PUT => "$PB/repos/repo", \%json, '{"name":"x","permissions":["PROJECT_READ"]}'), 400,
          'a project permission for a repository token');
is_status(req(GET => '/rest/access-tokens/1.0/projects/OTHER', { Authorization => $auth }), 401,
          'a project alice does not administer');
my $L = '/rest/access-tokens/1.0/revoke-by-value';
my %ct = ('Content-Type' => 'application/json');
is_status(req(POST => $L, \%ct, encode_json([$leaked, BBT::Env::forge_token('000000000007'), 'x'])), 202,
          'revoke by value: a valid token among others');
is_status(req(POST => $L, \%ct, '[]'), 400, 'revoke by value: nothing to revoke');
is_status(req(POST => $L, \%ct, '[1]'), 400, 'revoke by value: not a string');
my $I = '/rest/access-tokens/1.0/inventory';
my $root = { Authorization => $env->basic('root', 'root-pw') };
is_status(req(GET => $I, $root), 200, 'inventory');
is_status(req(GET => "$I?owner=carol&project=proj&neverUsed=true&expired=false&unusedDays=1"
                     . "&minPermission=REPO_READ&limit=1", $root), 200, 'inventory, every filter');
is_status(req(GET => "$I?owner=%zz&bogus=1", $root), 400, 'inventory, a bad query');
is_status(req(GET => $I, { Authorization => $auth }), 403, 'inventory, not an admin');
my $PL = '/rest/access-tokens/1.0/places';
is_status(req(GET => $PL, { Authorization => $auth }), 200, 'places');
is_status(req(GET => "$PL?start=1&limit=1", $root), 200, 'places, a page');
is_status(req(GET => "$PL?start=x", { Authorization => $auth }), 400, 'places, a bad start');
is_status(req(PUT => $PL, \%json, '{}'), 405, 'places, PUT');
$env->pg_stop;
is_status(req(GET => $B, { Authorization => $auth }), 503, 'database down: 503');
is_status(req(POST => $L, \%ct, encode_json([$leaked])), 503, 'revoke by value, database down: 503');
is_status(req(GET => $I, $root), 503, 'inventory, database down: 503');
is_status(req(GET => $PL, { Authorization => $auth }), 503, 'places, database down: 503');
is_status(req(POST => "$PB/000000000001/rotate", \%nock), 503, 'rotate, database down: 503');
$env->pg_start;
is_status(req(GET => $B, { Authorization => $auth }), 200, 'the database back: 200');
$env->pg_restart;
is_status(req(GET => $B, { Authorization => $auth }), 200,
          'the database restarted under the pooled connection: 200, asked again');
like($env->error_log_text, qr/BBT280: /, '  after a reconnection (BBT280)');

kill 'TERM', $pid;
my $waited = 0;
while (waitpid($pid, WNOHANG) == 0 && $waited++ < 120) {
    select undef, undef, undef, 0.5;
}
my $exit = $? >> 8;
my $report = BBT::Env::slurp($log);
like($report, qr/ERROR SUMMARY: \d+ errors/, 'valgrind wrote its summary');
my @bad = $report =~ /ERROR SUMMARY: ([1-9]\d*) errors/g;
ok(!@bad && $exit != 99, 'valgrind found no memory errors')
    or diag(join "\n", (split /\n/, $report)[0 .. 80]);

done_testing;
