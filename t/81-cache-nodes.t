# Two httpd servers on one PostgreSQL, each with its cache on: every change
# that lowers access is refused on both, without restarting either, though
# both answered the token from memory just before.  A revoked token, a
# disabled owner, a removed grant, a token's lowered permissions, a lowered
# project grant, a lowered repository grant, a removed admin flag.  Each
# server holds one listener connection, however many children it has.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA ();
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer forge_token parse_token);
use BBT::Assert;
use BBT::Cache qw(served_from_cache until_status listener_count settle wait_log log_mark log_since);

my $a = BBT::Env->new->start;
my $b = BBT::Env->new(pg_from => $a)->start;
my @nodes = ([A => $a], [B => $b]);
$_->make_repo('PROJ', 'repo') for $a, $b;
$a->make_repo('~carol', 'mine');
$b->make_repo('~carol', 'mine');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';

subtest 'one listener per server, both up' => sub {
    for my $n (@nodes) {
        ok(wait_log($n->[1], 0, qr/BBT309: the token cache's listener hears PostgreSQL/),
           "$n->[0]: the listener hears PostgreSQL");
    }
    my $deadline = time + 30;
    sleep 0.2 while listener_count($a) != 2 && time < $deadline;
    is(listener_count($a), 2, 'PostgreSQL sees two listener connections, one per server');
};

# Warm both caches with the token on $path, change something, and see both
# refuse it (status $want) without a restart.
sub refused_everywhere {
    my ($name, $tok, $id, $path, $change, $want) = @_;
    subtest $name => sub {
        settle();
        for my $n (@nodes) {
            ok(served_from_cache($n->[1], $path, auth_bearer($tok), $id),
               "$n->[0]: the token is answered from the cache");
        }
        $change->();
        for my $n (@nodes) {
            my ($ok, $tries, $seen) = until_status($n->[1], $path, auth_bearer($tok), $want);
            ok($ok, "$n->[0]: now $want ($tries requests)") or diag $seen;
            is($n->[1]->get($path, auth_bearer($tok))->{status}, $want, "$n->[0]: and it stays $want");
        }
    };
}

$a->user_add('alice');
$a->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($t1, $i1) = $a->token_create('alice', name => 'revoked');
refused_everywhere('a revoked token: 401 on both', $t1, $i1, $UP,
                   sub { $a->cli_ok('revoke', $i1) }, 401);

$a->user_add('bob');
$a->grant('bob', 'PROJECT_WRITE', 'PROJ');
my ($t2, $i2) = $a->token_create('bob', name => 'disabled');
refused_everywhere('a disabled owner: 401 on both', $t2, $i2, $UP,
                   sub { $a->cli_ok('user', 'disable', 'bob') }, 401);

$a->user_add('dave');
$a->grant('dave', 'PROJECT_READ', 'PROJ');
my ($t3, $i3) = $a->token_create('dave', name => 'ungranted');
refused_everywhere('a removed grant: 403 on both', $t3, $i3, $UP,
                   sub { $a->cli_ok('ungrant', 'dave', 'PROJ') }, 403);

$a->user_add('erin');
$a->grant('erin', 'PROJECT_WRITE', 'PROJ');
my ($t4, $i4) = $a->token_create('erin', name => 'lowered', perms => ['REPO_WRITE']);
refused_everywhere("the token's own permissions lowered: 403 on both for a push", $t4, $i4, $RP,
                   sub { $a->cli_ok('update', $i4, '--perm', 'REPO_READ') }, 403);
is_ok_res($_->get($UP, auth_bearer($t4)), 'and it still reads') for $a, $b;

$a->user_add('frank');
$a->grant('frank', 'PROJECT_WRITE', 'PROJ');
my ($t5, $i5) = $a->token_create('frank', name => 'project');
refused_everywhere('a project grant lowered: 403 on both for a push', $t5, $i5, $RP,
                   sub { $a->cli_ok('grant', 'frank', 'PROJECT_READ', 'PROJ') }, 403);

$a->user_add('gina');
$a->grant('gina', 'REPO_WRITE', 'PROJ/repo');
my ($t6, $i6) = $a->token_create('gina', name => 'repo');
refused_everywhere('a repository grant lowered: 403 on both for a push', $t6, $i6, $RP,
                   sub { $a->cli_ok('grant', 'gina', 'REPO_READ', 'PROJ/repo') }, 403);

$a->user_add('root', '--admin');
my ($t7, $i7) = $a->token_create('root', name => 'admin');
refused_everywhere('the admin flag removed: 403 on both', $t7, $i7, $RP,
                   sub { $a->psql("UPDATE bbtoken_users SET is_admin = false WHERE name = 'root'") }, 403);

subtest 'a change that grants is seen too: a refused id, then created' => sub {
    $a->user_add('carol');
    my $id = sprintf '%012d', int(rand(1e12));
    my $tok = forge_token($id);
    my $MINE = '/scm/~carol/mine.git/info/refs?service=git-upload-pack';
    settle();
    for my $n (@nodes) {
        is_401($n->[1]->get($MINE, auth_bearer($tok)), 1, "$n->[0]: an unknown id");
        ok(served_refusal($n->[1], $MINE, $tok, $id), "$n->[0]: refused from the cache");
    }
    # The row of exactly that token, hashed as the CLI hashes.
    my $salt = join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
    my $hash = Digest::SHA::hmac_sha256_hex(parse_token($tok)->{raw}, pack('H*', $salt));
    $a->psql("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash) "
             . "SELECT '$id', id, 'later', 'PROJECT_READ', 'REPO_READ', '$salt', '$hash' "
             . "FROM bbtoken_users WHERE name = 'carol'");
    for my $n (@nodes) {
        my ($ok, $tries, $seen) = until_status($n->[1], $MINE, auth_bearer($tok), 200);
        ok($ok, "$n->[0]: let in once the row exists ($tries requests)") or diag $seen;
    }
};

# A 401 for token $id that the module says came from the cache.
sub served_refusal {
    my ($env, $path, $tok, $id) = @_;
    my $mark = log_mark($env);
    return $env->get($path, auth_bearer($tok))->{status} == 401
        && log_since($env, $mark) =~ /BBT035: token \Q$id\E refused: unknown token \(from the cache\)/;
}

is(scalar($_->crash_lines), 0, 'no httpd child crashed') for $a, $b;
done_testing;
