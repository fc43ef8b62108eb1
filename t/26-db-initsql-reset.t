#!/usr/bin/perl
# A pooled connection PostgreSQL dropped (a restart, pg_terminate_backend)
# is connected again by the pgsql driver's check with PQreset: a new
# backend with libpq's defaults, without the DBDInitSQL mod_dbd ran when
# it made the connection.  The module's statements must still run in the
# session DBDInitSQL makes.  The schema is in public and again in bbt2,
# and the main server's DBDInitSQL sets the search_path to bbt2: a token
# that is only in bbt2 is let in before and after the restart (and after
# its backends are killed), and a token revoked in bbt2 but live in public
# stays refused.  With DBDInitSQL's SET ROLE to the one role that may read
# bbt2, the requests are still answered after a restart (the role is set
# again); when the role can no longer be set, the answer is 503 (BBT080),
# never 401 or 200 from the tables the login role finds, and the
# statement itself is not logged; so too when mod_dbd's own DBDInitSQL
# failed on a connection it made.  Each with the cache off and on.  A
# list that failed halfway is run again from a new backend, not on top of
# what of it ran.  A virtual host's pool runs the host's DBDInitSQL and
# the main server's again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::SchemaCopy qw(schema_copy cli_in token_in copy_to_public);
use BBT::Cache qw(wait_log log_mark log_since settle);

my $env = BBT::Env->new(httpd => 0)->start;
my $dir = $env->dir;
my $root = $BBT::Env::ROOT;
schema_copy($env, 'bbt2');

# The CLI on bbt2, as the server's sessions read it.
sub cli2 { return cli_in($env, 'bbt2', @_) }
sub token2 { return token_in($env, 'bbt2', 'alice', $_[0]) }


$env->make_repo('PROJ', 'repo');
cli2('user', 'add', 'alice');
cli2('grant', 'alice', 'PROJECT_WRITE', 'PROJ');
# Live in both, then revoked in bbt2 only.
my ($both, $both_id) = token2('in both');
note 'public: db check --repair: ' . copy_to_public($env, 'bbt2');
cli2('revoke', $both_id);
# In bbt2 only.
my ($only, $only_id) = token2('bbt2 only');
is($env->psql("SELECT count(*) FROM public.bbtoken_tokens WHERE id = '$only_id'"), 0,
   'public lacks the bbt2-only token');
is($env->psql("SELECT count(*) FROM public.bbtoken_tokens WHERE id = '$both_id' AND revoked_at IS NULL"), 1,
   'public holds the other, live');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# Ask with $h until $want comes three times running: (1, statuses), or
# (0, statuses) at the first other answer than $want or 503 (PostgreSQL
# coming back), or after the limit.
sub settles_at {
    my ($h, $want, $limit) = @_;
    my $deadline = time + ($limit || 30);
    my ($run, @seen) = (0);
    while (time < $deadline) {
        my $st = $env->get($UP, $h)->{status};
        push @seen, $st;
        return (0, "@seen") if $st != $want && $st != 503;
        $run = $st == $want ? $run + 1 : 0;
        return (1, "@seen") if $run >= 3;
        sleep 0.1 if $st == 503;
    }
    return (0, "@seen");
}

my $made = 0;

# Both tokens answered as bbt2 says, and a token made now (never cached).
sub answers_as_bbt2 {
    my ($what) = @_;
    my ($ok, $seen) = settles_at(auth_bearer($only), 200);
    ok($ok, "$what: the bbt2-only token is let in") or diag $seen;
    ($ok, $seen) = settles_at(auth_bearer($both), 401);
    ok($ok, "$what: the token revoked in bbt2 (live in public) is refused") or diag $seen;
    my ($new) = token2('new' . ++$made);
    ($ok, $seen) = settles_at(auth_bearer($new), 200);
    ok($ok, "$what: a new bbt2 token is let in") or diag $seen;
}

sub kill_backends {
    $env->psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'");
}

sub start_httpd {
    my ($cache, $init, $no_listener) = @_;
    $env->{extra_conf} = "BBTokenCache $cache\n$init";
    my $mark = log_mark($env);
    $env->httpd_start;
    if ($cache eq 'on' && !$no_listener) {
        ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
    }
}

for my $cache (qw(off on)) {
    subtest "DBDInitSQL's search_path, cache $cache" => sub {
        start_httpd($cache, "DBDInitSQL \"SET search_path TO bbt2\"\n");
        answers_as_bbt2('at first');
        my $mark = log_mark($env);
        $env->pg_restart;
        answers_as_bbt2('after a restart');
        kill_backends();
        answers_as_bbt2('after pg_terminate_backend');
        $env->pg_restart;
        answers_as_bbt2('after another restart');
        if ($cache eq 'on') {
            ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/),
               'the listener is back');
            unlike(log_since($env, $mark), qr/BBT711/, 'and finds the tables the requests read');
        }
        unlike(log_since($env, $mark), qr/BBT080/, 'DBDInitSQL ran again without error');
        $env->httpd_stop(graceful => 1);
    };
}

# Only bbt2r may read bbt2; httpd's login role does not inherit its
# privileges, so a statement reads bbt2 only once the session has taken it.
BBT::Util::spew("$dir/run/bbt2-role.sql", "CREATE ROLE bbt2r NOLOGIN;\nGRANT bbt2r TO bbtoken_httpd;\n"
                . "ALTER ROLE bbtoken_httpd NOINHERIT;\n"
                . "REVOKE USAGE ON SCHEMA bbt2 FROM bbtoken_httpd;\nSET search_path TO bbt2;\n"
                . "GRANT USAGE ON SCHEMA bbt2 TO :\"role\";\n\\i $root/sql/grants.sql\n");
$env->psql(undef, file => "$dir/run/bbt2-role.sql", vars => ['role=bbt2r']);
my $role_init = "DBDInitSQL \"SET ROLE bbt2r\"\nDBDInitSQL \"SET search_path TO bbt2\"\n";

for my $cache (qw(off on)) {
    subtest "DBDInitSQL's SET ROLE, cache $cache" => sub {
        start_httpd($cache, $role_init);
        answers_as_bbt2('at first');
        $env->pg_restart;
        answers_as_bbt2('after a restart: the role is taken again');
        kill_backends();
        answers_as_bbt2('after pg_terminate_backend');

        # The role can no longer be taken: nothing is read without it.
        $env->psql('REVOKE bbt2r FROM bbtoken_httpd');
        my $mark = log_mark($env);
        $env->pg_restart;
        my @seen = map { $env->get($UP, auth_bearer($_))->{status} } ($only, $both) x 5;
        is("@seen", join(' ', (503) x 10), 'the role lost: 503 for every request');
        my $log = log_since($env, $mark);
        like($log, qr/BBT080: the pool's DBDInitSQL could not be run .*SQLSTATE 42501: permission denied/,
             'BBT080 says why');
        unlike($log, qr/SET ROLE/, 'and not the statement');
        $env->psql('GRANT bbt2r TO bbtoken_httpd');
        answers_as_bbt2('the role given back');
        $env->httpd_stop(graceful => 1);
    };

    # mod_dbd hands out a connection whose DBDInitSQL failed when it made
    # it, too.
    subtest "DBDInitSQL's SET ROLE refused from the start, cache $cache" => sub {
        $env->psql('REVOKE bbt2r FROM bbtoken_httpd');
        my $mark = log_mark($env);
        start_httpd($cache, $role_init, 1);
        my @seen = map { $env->get($UP, auth_bearer($_))->{status} } ($only, $both) x 5;
        is("@seen", join(' ', (503) x 10), '503 for every request');
        like(log_since($env, $mark), qr/BBT080: .*SQLSTATE 42501: permission denied/, 'BBT080 says why');
        $env->psql('GRANT bbt2r TO bbtoken_httpd');
        answers_as_bbt2('the role given');
        $env->httpd_stop(graceful => 1);
    };
}

# A statement of the list that may not run twice on one backend (CREATE
# TEMPORARY VIEW) before the one that fails: what ran of the list does not
# stay for the next try, which starts on a new backend, so the requests
# are let in again once the role is given back, without a restart.
subtest 'a list that failed halfway is run again from a new backend' => sub {
    my $init = "DBDInitSQL \"CREATE TEMPORARY VIEW bbt_initsql_probe AS SELECT 1\"\n$role_init";
    $env->psql('REVOKE bbt2r FROM bbtoken_httpd');
    start_httpd('off', $init);
    my @seen = map { $env->get($UP, auth_bearer($_))->{status} } ($only, $both) x 3;
    is("@seen", join(' ', (503) x 6), "mod_dbd's run failed halfway: 503");
    $env->psql('GRANT bbt2r TO bbtoken_httpd');
    answers_as_bbt2('the role given');
    $env->psql('REVOKE bbt2r FROM bbtoken_httpd');
    $env->pg_restart;
    @seen = map { $env->get($UP, auth_bearer($_))->{status} } ($only, $both) x 3;
    is("@seen", join(' ', (503) x 6), "the module's run failed halfway: 503");
    $env->psql('GRANT bbt2r TO bbtoken_httpd');
    answers_as_bbt2('the role given back');
    $env->httpd_stop(graceful => 1);
};

# A virtual host with a pool of its own (DBDMin differs) runs its own
# DBDInitSQL and then the main server's, as mod_dbd merges them: the role
# from the host's, the search_path from the main server's.  Both run again
# after a restart.
subtest "a virtual host's DBDInitSQL and the main server's, run again" => sub {
    my $port2 = BBT::Util::free_port();
    start_httpd('off', "DBDInitSQL \"SET search_path TO bbt2\"\n"
                . "Listen 127.0.0.1:$port2\n<VirtualHost 127.0.0.1:$port2>\n    DBDMin 0\n"
                . "    DBDInitSQL \"SET ROLE bbt2r\"\n</VirtualHost>\n");
    my $url = "http://127.0.0.1:$port2$UP";
    my $ua = HTTP::Tiny->new(timeout => 30);
    for my $when ('at first', 'after a restart') {
        $env->pg_restart if $when ne 'at first';
        my ($ok, $run, $deadline, @seen) = (0, 0, time + 30);
        while (!$ok && time < $deadline) {
            my $st = $ua->get($url, { headers => auth_bearer($only) })->{status};
            push @seen, $st;
            last if $st != 200 && $st != 503;
            $run = $st == 200 ? $run + 1 : 0;
            $ok = $run >= 3;
            sleep 0.1 if $st == 503;
        }
        ok($ok, "$when: the host's sessions read bbt2 as bbt2r") or diag "@seen";
    }
    $env->httpd_stop(graceful => 1);
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
