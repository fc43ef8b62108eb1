# What requests see while `bbtoken db upgrade` runs (README: Install,
# Upgrading), with the token cache on (the main server) and off (two
# virtual hosts: one with httpd's usual statement_timeout, one with a long
# one), for a good token and a revoked one: a good token gets 200 or 503,
# never a refusal; a revoked one never 200.  Nothing here is timed: each
# migration's lock is held by a psql session this test controls, and a
# request that must wait is seen waiting in pg_stat_activity before the
# lock is let go.
#   - The upgrade to the version this module needs (BBT_SCHEMA_MIN),
#     held before its last migration: 503 throughout, then 200 and 401
#     once it is done and sql/grants.sql has run.
#   - A later migration's locks on a schema the module serves: SHARE ROW
#     EXCLUSIVE on the tables bbtoken_lookup derives from (what migration
#     26 takes to fill it) keeps no lookup waiting; ACCESS EXCLUSIVE on
#     bbtoken_lookup (a rewrite, as 27's) keeps the uncached ones waiting
#     until statement_timeout (503), while the cache answers what it holds.
#   - A rewrite of bbtoken_lookup committed while a lookup waits for it:
#     the lookup sees the rewritten rows (200), not a table that looks
#     empty to a snapshot taken before the rewrite (401).  PostgreSQL takes
#     a statement's locks on the tables it names before its snapshot (the
#     module of version 20 read the grants inside a function, which locks
#     them after, and refused a good token with 403 when it waited on
#     migration 23's rewrite of the grant tables, until 23 took the locks
#     of the tables that lookup names first: bench/upgrade.pl).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep);
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(served_from_cache);

my $ROOT = $BBT::Env::ROOT;
my ($MIN) = BBT::Env::slurp("$ROOT/mod_bbtoken/bbt_schema.h") =~ /^#define BBT_SCHEMA_MIN (\d+)$/m;
my @MIGRATIONS = sort glob "$ROOT/sql/migrations/0*.sql";
my ($LATEST) = $MIGRATIONS[-1] =~ m{/0*(\d+)_\w+\.sql\z};

# The main server: cache on.  Port 2: cache off, the same DBDParams
# (statement_timeout 2 s).  Port 3: cache off, a statement_timeout of ten
# minutes, for a lookup that must still be waiting when the lock goes.
my ($port2, $port3) = (BBT::Util::free_port(), BBT::Util::free_port());
my $env = BBT::Env->new(httpd => 0, grants => 0, dbd_options => '-cstatement_timeout=2000',
                        schema_files => ["$ROOT/sql/migrations/0001_initial.sql"])->start;
$env->{extra_conf} = $BBT::Env::DUMB_CONF . <<"EOC";
Listen 127.0.0.1:$port2
<VirtualHost 127.0.0.1:$port2>
    BBTokenCache off
</VirtualHost>
Listen 127.0.0.1:$port3
<VirtualHost 127.0.0.1:$port3>
    BBTokenCache off
    DBDParams "host=127.0.0.1 port=@{[$env->pg_port]} dbname=bbtoken user=bbtoken_httpd connect_timeout=2 options=-cstatement_timeout=600000"
</VirtualHost>
EOC

# The database as the release of the version before $MIN made it.
my $from = (map { m{/0*(\d+)_} ? $1 : () } grep { m{/0*(\d+)_} && $1 < $MIN } @MIGRATIONS)[-1];
my @upto = grep { m{/(\d{4})_} && $1 > 1 && $1 <= $from } @MIGRATIONS;
BBT::Util::spew($env->dir . '/scratch/upto.sql', join '', map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto);
$env->psql(undef, file => $env->dir . '/scratch/upto.sql');
is($env->psql('SELECT version FROM bbtoken_schema'), $from, "the database is at version $from");
$env->psql("INSERT INTO bbtoken_users (name) VALUES ('alice')");
$env->psql("INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
           . " SELECT id, 'PROJ', 'PROJECT_READ' FROM bbtoken_users WHERE name = 'alice'");
my ($good, $good_id) = $env->token_insert('alice', name => 'good', project => 'PROJECT_READ', repo => 'REPO_READ');
my ($revoked) = $env->token_insert('alice', name => 'revoked', project => 'PROJECT_READ', repo => 'REPO_READ',
                                   created => "now() - interval '2 days'", revoked => "now() - interval '1 day'");
grants_as_then();
$env->make_repo('PROJ', 'repo');
$env->write_cgi;
$env->httpd_start;

my $PATH = '/dumb/PROJ/repo.git/HEAD';
my %URL = (on => $env->url($PATH), off => "http://127.0.0.1:$port2$PATH", long => "http://127.0.0.1:$port3$PATH");
my %TOK = (good => $good, revoked => $revoked);
my $ua = HTTP::Tiny->new(timeout => 900, keep_alive => 0);


# The grants as that release's sql/grants.sql and grants-api.sql gave them:
# this release's, without the functions of later migrations (they name
# each function they grant, and a function not there yet stops psql), nor
# the revocations on tables of later migrations.
sub grants_as_then {
    for my $f (['grants.sql', 'bbtoken_httpd'], ['grants-api.sql', 'bbtoken_api']) {
        my $sql = BBT::Util::slurp("$ROOT/sql/$f->[0]");
        my %gone;
        while ($sql =~ /\b(bbtoken_\w+\([^()]*\))/g) {
            my $sig = $1;
            next if $sig =~ /'/;
            $gone{$sig} = 1
                if $env->psql("SELECT to_regprocedure('$sig') IS NULL") eq 't';
        }
        for my $sig (keys %gone) {
            $sql =~ s/\s*\Q$sig\E,//g or $sql =~ s/,\s*\Q$sig\E//g;
        }
        $sql =~ s{^REVOKE ALL ON ([\w, ]+) FROM :"role";\n}{
            (grep { $env->psql("SELECT to_regclass('$_') IS NULL") eq 't' } split /,\s*/, $1) ? '' : $&
        }gme;
        # A table of a later version (bbtoken_notify_skips, 59).
        $sql =~ s{^GRANT SELECT ON (\w+) TO :"role";\n}{
            $env->psql("SELECT to_regclass('$1') IS NULL") eq 't' ? '' : $&
        }gme;
        my $file = $env->dir . "/scratch/then-$f->[0]";
        BBT::Util::spew($file, $sql);
        # What both include (psql's \ir: beside the file).
        BBT::Util::spew($env->dir . '/scratch/grants-connect.sql',
                        BBT::Util::slurp("$ROOT/sql/grants-connect.sql"));
        $env->psql(undef, file => $file, vars => ["role=$f->[1]"]);
    }
}
sub status { my ($host, $which) = @_; return $ua->get($URL{$host}, { headers => auth_bearer($TOK{$which}) })->{status} }

# Each host with each token: "host token status" joined by ", ".
sub statuses {
    my @hosts = @_ ? @_ : qw(on off long);
    return join ', ', map { my $h = $_; map {"$h $_ " . status($h, $_)} qw(good revoked) } @hosts;
}

# A request in a child of its own: a sub that gives its status when it ends.
sub request_bg {
    my ($host, $which) = @_;
    my $out = $env->dir . "/run/bg-$host-$which";
    unlink $out;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        BBT::Util::spew($out, status($host, $which));
        POSIX::_exit(0);
    }
    return sub { waitpid $pid, 0; return BBT::Util::slurp($out) };
}

# The lookup role's backends that wait for a lock on bbtoken_lookup: 1 once
# $n of them do, 0 after a minute.
sub lookups_waiting {
    my ($n) = @_;
    return $env->pg_wait_backend('%', "usename = 'bbtoken_httpd' AND wait_event_type = 'Lock'"
                                 . " AND query LIKE '%bbtoken_lookup%'", $n);
}

subtest "the upgrade from version $from: 503 until it is done, then served" => sub {
    is(statuses(), 'on good 503, on revoked 503, off good 503, off revoked 503, long good 503, long revoked 503',
       "version $from, older than the module needs: 503 for both");
    # Migration $MIN's first statement that wants bbtoken_lookup waits for
    # this session's lock.
    my $hold = $env->pg_session('hold');
    $hold->send('BEGIN; LOCK TABLE bbtoken_lookup IN SHARE MODE;');
    ok($hold->done, 'a session holds bbtoken_lookup');
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', $env->dir . '/run/upgrade.out' or die $!;
        open STDERR, '>&', \*STDOUT or die $!;
        exec $env->cli_path, '--db', $env->superuser_conninfo, 'db', 'upgrade' or die "exec: $!";
    }
    ok($env->pg_wait_backend('bbtoken', "wait_event_type = 'Lock'"), 'the upgrade waits for it');
    # Not port 3: a lookup queues behind the upgrade's ALTER TABLE, which
    # waits for the lock, and would wait its ten minutes.
    is(statuses(qw(on off)), 'on good 503, on revoked 503, off good 503, off revoked 503',
       'meanwhile: 503 for both');
    $hold->send('ROLLBACK;');
    $hold->finish;
    waitpid $pid, 0;
    is($? >> 8, 0, 'the upgrade ends') or diag BBT::Util::slurp($env->dir . '/run/upgrade.out');
    is($env->psql('SELECT version FROM bbtoken_schema'), $LATEST, "at version $LATEST");
    $env->grants_apply;
    for my $host (qw(on off long)) {
        my ($ok, $n, $seen) = poll_status($host, 'good', 200, 401, 403);
        ok($ok, "$host: the good token is served") or diag "statuses: $seen";
    }
    is(statuses(), 'on good 200, on revoked 401, off good 200, off revoked 401, long good 200, long revoked 401',
       'then: 200 for the good token, 401 for the revoked one');
};

# Request $host with token $which until it answers $want (a minute at
# most): (1, tries), or (0, tries, the statuses).  Also 0 as soon as it
# answers one of @never.
sub poll_status {
    my ($host, $which, $want, @never) = @_;
    my @seen;
    for (1 .. 600) {
        my $st = status($host, $which);
        push @seen, $st;
        return (1, scalar @seen) if $st == $want;
        last if grep { $_ == $st } @never;
        sleep 0.1;
    }
    return (0, scalar @seen, join ' ', @seen);
}

subtest "a later migration's locks on version $LATEST" => sub {
    # Both tokens' entries in the cache, so that the cache answers them:
    # made once the changes before (the upgrade, the grants, the first
    # uses) are heard, or an entry made before one of them is believed
    # only until it is, and every request after asks the locked table.
    BBT::Cache::settle();
    ok(served_from_cache($env, $PATH, auth_bearer($good), $good_id), 'the good token is answered from the cache');
    my $hold = $env->pg_session('later');
    $hold->send('BEGIN; LOCK TABLE bbtoken_users, bbtoken_project_grants, bbtoken_repo_grants, bbtoken_tokens'
                . ' IN SHARE ROW EXCLUSIVE MODE;');
    ok($hold->done, "the tables bbtoken_lookup derives from held as migration 26 holds them");
    is(statuses(qw(on off)), 'on good 200, on revoked 401, off good 200, off revoked 401',
       '  lookups go on: 200 and 401');
    $hold->send('ROLLBACK;');
    ok($hold->done, '  let go');

    $hold->send('BEGIN; LOCK TABLE bbtoken_lookup IN ACCESS EXCLUSIVE MODE;');
    ok($hold->done, 'bbtoken_lookup held as a rewrite (migration 27) holds it');
    is(statuses(qw(off)), 'off good 503, off revoked 503',
       '  an uncached lookup waits until statement_timeout: 503');
    # The cache answers what it holds, while its listener hears PostgreSQL
    # (a heartbeat late on a loaded machine sends a request to the
    # database, which answers 503 now): never a refusal of the good token,
    # never 200 for the revoked one.
    my ($ok, $n, $seen) = poll_status('on', 'good', 200, 401, 403);
    ok($ok, '  the cache answers the good token: 200') or diag "statuses: $seen";
    ($ok, $n, $seen) = poll_status('on', 'revoked', 401, 200);
    ok($ok, '  and the revoked one: 401') or diag "statuses: $seen";
    $hold->send('ROLLBACK;');
    is($hold->finish, '', '  let go');
    is(statuses(qw(off)), 'off good 200, off revoked 401', '  then the uncached lookups answer again');
};

subtest 'a rewrite of bbtoken_lookup committed while lookups wait for it' => sub {
    my $hold = $env->pg_session('rewrite');
    # A rewrite that changes no row: a new column with a volatile default
    # is written into every row, then dropped again.
    $hold->send('BEGIN; ALTER TABLE bbtoken_lookup ADD COLUMN bbt_rewrite double precision'
                . ' DEFAULT random(); ALTER TABLE bbtoken_lookup DROP COLUMN bbt_rewrite;');
    ok($hold->done, 'bbtoken_lookup rewritten, not yet committed');
    is($env->psql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                  . " WHERE a.application_name = 'bbt-rewrite' AND l.mode = 'AccessExclusiveLock'"
                  . " AND l.relation = 'bbtoken_lookup'::regclass"), 1, '  under ACCESS EXCLUSIVE');
    my @wait = (request_bg('long', 'good'), request_bg('long', 'revoked'));
    ok(lookups_waiting(2), 'two uncached lookups wait for it');
    $hold->send('COMMIT;');
    is($hold->finish, '', 'committed');
    is(join(' ', map { $_->() } @wait), '200 401', 'they see the rewritten rows: 200 for the good token, 401 for the revoked');
};

done_testing;
