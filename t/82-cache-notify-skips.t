#!/usr/bin/perl
# A change commits while PostgreSQL's NOTIFY queue is more than half full
# (sql/migrations/0059): it sends no notification and counts one more in
# bbtoken_notify_skips.n, which the cache's listener reads with every
# heartbeat as part of the tables' identity, and forgets every entry when
# it has changed.  A test cannot fill 4 GB of the queue: the tables' owner
# sets at_usage to 0, so that every change skips its notification, as
# each would with the queue half full.  A token answered from the cache,
# then revoked, is refused all the same, and so is a push after its
# owner's grant is lowered, though a session listening on 'bbtoken' hears
# nothing of either.  With at_usage back at 0.5 the changes notify again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(served_from_cache until_status wait_log settle);

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

my $skips = sub { $env->psql('SELECT n FROM bbtoken_notify_skips') };
is($env->psql('SELECT at_usage FROM bbtoken_notify_skips'), '0.5', 'skipped from half full by default');

# A session of the lookup role's that listens on 'bbtoken', as httpd's
# listener does: what it has heard since $from (a length of its output).
my $listen = $env->pg_session('listen', user => 'bbtoken_httpd');
$listen->send('LISTEN bbtoken;');
ok($listen->done, 'a session listens on bbtoken');
# psql prints what it heard when it runs a statement: one is run first.
my $mark = sub {
    $listen->send('SELECT 1;');
    $listen->done;
    return length BBT::Util::slurp($listen->{out});
};
my $heard = sub {
    my ($from) = @_;
    $listen->send('SELECT 1;');
    $listen->done;
    return join ' ', substr(BBT::Util::slurp($listen->{out}), $from)
        =~ /Asynchronous notification "bbtoken" with payload "([^"]*)"/g;
};

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'revoked');
$env->user_add('bob');
$env->grant('bob', 'PROJECT_WRITE', 'PROJ');
my ($tok2, $id2) = $env->token_create('bob', name => 'lowered');
settle();

# The owner's change (as any session's that writes the tables would be):
# from now on none notifies.
$env->psql('UPDATE bbtoken_notify_skips SET at_usage = 0');

subtest 'a revocation, its notification skipped: refused all the same' => sub {
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');
    my ($n, $from) = ($skips->(), $mark->());
    $env->cli_ok('revoke', $id);
    is($skips->(), $n + 1, 'one more skipped');
    is($heard->($from), '', 'nothing notified');
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "the revoked token is refused ($tries requests)") or diag $seen;
};

subtest 'a grant lowered, its notification skipped: a push refused' => sub {
    ok(served_from_cache($env, $RP, auth_bearer($tok2), $id2), 'a push: from the cache');
    my ($n, $from) = ($skips->(), $mark->());
    $env->cli_ok('grant', 'bob', 'PROJECT_READ', 'PROJ');
    is($skips->(), $n + 1, 'one more skipped');
    is($heard->($from), '', 'nothing notified');
    my ($ok, $tries, $seen) = until_status($env, $RP, auth_bearer($tok2), 403);
    ok($ok, "a push is refused ($tries requests)") or diag $seen;
};

# An admin flag set and taken back: a change of a user's row that notifies.
my $flip = "UPDATE bbtoken_users SET is_admin = NOT is_admin WHERE name = 'alice'";
subtest 'many rows in one transaction count once' => sub {
    my $n = $skips->();
    $env->psql("BEGIN; $flip; $flip; COMMIT");
    is($skips->(), $n + 1, 'one more skipped');
    $env->psql("BEGIN; SAVEPOINT a; $flip; ROLLBACK TO a; SAVEPOINT b; $flip; RELEASE b; $flip; COMMIT");
    is($skips->(), $n + 2, 'a rolled-back subtransaction\'s count goes with it; the rest counts once');
};

subtest 'at_usage back at 0.5: changes notify again' => sub {
    $env->psql('UPDATE bbtoken_notify_skips SET at_usage = 0.5');
    my ($n, $from) = ($skips->(), $mark->());
    my ($tok3, $id3) = $env->token_create('alice', name => 'later');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok3), $id3), 'a new token: from the cache');
    $env->cli_ok('revoke', $id3);
    is($skips->(), $n, 'none skipped');
    like($heard->($from), qr/\bt:\Q$id3\E\b/, 'the revocation notified');
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok3), 401);
    ok($ok, "refused ($tries requests)") or diag $seen;
};

$listen->finish;
done_testing;
