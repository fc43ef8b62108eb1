# The lookup's triggers order a change of a user or of a user's grants
# and a token created meanwhile only in READ COMMITTED, where each of their
# statements reads what was committed when it began (README, The schema).
# A database whose default_transaction_isolation is REPEATABLE READ (or
# SERIALIZABLE) would have bbtoken's own commands read the owner's tokens
# as of a snapshot taken before such a token committed: `bbtoken user
# disable` waited for the new token's owner lock, then rewrote the rows of
# the tokens it saw, and the new one kept working for a disabled user.
# bbtoken sets READ COMMITTED for its sessions, whatever the database says.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);

my $env = BBT::Env->new(extra_conf => "BBTokenCache off\n")->start;
$env->make_repo('PROJ', 'repo');
$env->user_add($_) for qw(bob carol);
$env->grant($_, 'PROJECT_WRITE', 'PROJ') for qw(bob carol);
$env->psql("ALTER DATABASE bbtoken SET default_transaction_isolation = 'repeatable read'");
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
sub status { $env->get($UP, auth_bearer($_[0]))->{status} }

sub race {
    my ($who, @cli) = @_;
    my ($ins, $raw) = $env->token_insert_sql($who, name => 'new', project => 'PROJECT_READ',
                                             repo => 'REPO_READ');
    my $s = $env->pg_session("insert-$who");
    $s->send("BEGIN ISOLATION LEVEL READ COMMITTED; $ins;");
    ok($s->done, 'a token created, not committed (its owner\'s row held)');
    my $wait = $env->cli_bg($who, {}, @cli);
    ok($env->pg_wait_backend("bbt-$who", "wait_event_type = 'Lock'"), "bbtoken @cli waits for it");
    $s->send('COMMIT;');
    ok($s->done, 'the token committed');
    $s->finish;
    my ($rc, $out, $err) = $wait->();
    is($rc, 0, "bbtoken @cli") or diag "$out$err";
    my ($crc, $cout, $cerr) = $env->cli('db', 'check');
    like($cout, qr/\b0 rows wrong\b/, 'db check: no row differs') or diag "$crc $cout$cerr";
    return $raw;
}

is($env->psql('SHOW default_transaction_isolation'), 'repeatable read',
   'the database\'s sessions read repeatably by default');
subtest 'bbtoken user disable while a token of the user is created' => sub {
    my $raw = race('bob', 'user', 'disable', 'bob');
    is(status($raw), 401, 'the new token of the disabled user is refused');
};
subtest 'bbtoken ungrant while a token of the user is created' => sub {
    my $raw = race('carol', 'ungrant', 'carol', 'PROJ');
    is(status($raw), 403, 'the new token gets nothing its owner no longer has');
};
done_testing;
