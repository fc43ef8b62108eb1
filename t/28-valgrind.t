# httpd with the module, one process (-X), under valgrind's memcheck, fed
# every kind of request the module handles: no credentials, good Basic and
# Bearer tokens, wrong user, mistyped and forged tokens, malformed headers,
# routes it refuses, bodies a route reads (git LFS's batch), a clone and a
# push, a database outage and recovery; with the token cache on, its
# listener running, and tokens and refusals answered from it.
# Any invalid read or write, use of uninitialised memory or bad free in the
# module (or anything it drives) fails the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(b64 forge_token mistype_token auth_bearer);
use BBT::Assert;
use BBT::Cache qw(served_from_cache wait_log log_mark log_since);
use POSIX qw(WNOHANG);

my $valgrind = `sh -c 'command -v valgrind'`;
chomp $valgrind;
plan skip_all => 'valgrind is not installed' unless $valgrind;

my $env = BBT::Env->new(httpd => 0, http_timeout => 300)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->user_add('bob');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'valgrind');
my $ro = $env->token_create('alice', name => 'read only', perms => ['REPO_READ']);
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
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/, 120),
   "the cache's listener is up");

my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';
my @cases = (
    [401, 'no credentials', {}],
    [200, 'Bearer', { Authorization => "Bearer $tok" }],
    [200, 'Basic', { Authorization => $env->basic('alice', $tok) }],
    [401, 'Basic, wrong user', { Authorization => $env->basic('bob', $tok) }],
    [401, 'mistyped token', { Authorization => 'Bearer ' . mistype_token($tok) }],
    [401, 'forged token', { Authorization => 'Bearer ' . forge_token($id) }],
    [401, 'a password, not a token', { Authorization => $env->basic('alice', 'hunter2') }],
    [400, 'bad base64', { Authorization => 'Basic !!!!' }],
    [400, 'two credentials', { Authorization => "Bearer $tok, Basic eDp5" }],
    [400, 'overlong header', { Authorization => 'Bearer ' . ('A' x 5000) }],
    [401, 'other scheme', { Authorization => 'Digest username="x"' }],
);
for my $round (1, 2) {
    for my $c (@cases) {
        my ($want, $name, $h) = @$c;
        is_status($env->get($UP, $h), $want, "$name (round $round)");
    }
}
# valgrind runs one thread at a time, so the listener's heartbeat may lag:
# ask until the cache answers.
ok(served_from_cache($env, $UP, auth_bearer($tok), $id, 120), 'a token answered from the cache');
my $forged = forge_token('000000000042');
my $mark = log_mark($env);
for (1 .. 3) {
    is_status($env->get($UP, auth_bearer($forged)), 401, 'an unknown id, refused');
}
like(log_since($env, $mark), qr/refused: unknown token \(from the cache\)/, 'refused from the cache');
is_status($env->get($RP, { Authorization => "Bearer $ro" }), 403, 'read-only token, push advertisement');
is_status($env->get('/scm/PROJ/repo.git/config', { Authorization => "Bearer $tok" }), 403, 'no route');
is_status($env->get('/scm/PROJ/repo.git/info/refs?service=git-upload-pack&service=x',
                    { Authorization => "Bearer $tok" }), 403, 'repeated service');
# A route that reads the body (git LFS's batch), kept for the CGI.
my $BATCH = '/env/PROJ/repo.git/info/lfs/objects/batch';
my %lfs = (
    'LFS download batch, read token' => [200, $ro, '{"operation":"download","objects":[]}'],
    'LFS upload batch, read token'   => [403, $ro, '{"operation":"upload","objects":[]}'],
    'LFS batch, not JSON'            => [400, $tok, 'operation=upload'],
    'LFS batch, a twin member'       => [400, $tok, '{"operation":"upload","OPERATION":"download"}'],
    'LFS batch, over 64 KiB'         => [413, $tok, '{"x":"' . ('y' x 70000) . '"}'],
    'LFS batch, declared a form'     => [415, $ro, '{"operation":"download","x":"&operation=upload&"}', 'application/x-www-form-urlencoded'],
);
for my $name (sort keys %lfs) {
    my ($want, $t, $body, $ct) = @{ $lfs{$name} };
    is_status($env->request('POST', $BATCH, { Authorization => "Bearer $t",
                                              'Content-Type' => $ct // 'application/vnd.git-lfs+json' }, $body),
              $want, $name);
}

my $w = $env->workdir('clone');
my ($rc, undef, $err) = $env->git('clone', '-q', $env->clone_url('alice', $tok, 'PROJ', 'repo'), $w);
is($rc, 0, 'clone') or diag $err;
$env->commit_file($w, 'v.txt', "v\n");
($rc, undef, $err) = $env->git({ cwd => $w }, 'push', '-q', 'origin', 'main');
is($rc, 0, 'push') or diag $err;

$mark = log_mark($env);
$env->pg_stop;
ok(wait_log($env, $mark, qr/BBT30[78]: /, 120), 'the listener knows the database is gone');
is_status($env->get($UP, { Authorization => "Bearer $tok" }), 503, 'database down: 503');
$env->pg_start;
my $back;
for (1 .. 10) {
    $back = $env->get($UP, { Authorization => "Bearer $tok" });
    last if $back->{status} == 200;
    sleep 1;
}
is_status($back, 200, 'database back: 200');

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
