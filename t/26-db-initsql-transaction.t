# A pooled connection whose session is inside a transaction.  The module's
# statements run in it would read its snapshot, which sees no revocation,
# and keep the row lock of a last-use write until it ends, so that a
# revocation waits for it without end while the token keeps working.
#
# Another module that gives its connection back inside its own transaction
# (a mod_lua handler here): the module rolls it back before its statements
# and says so (BBT082); what DBDInitSQL set when the connection was made,
# outside that transaction, stays.  A DBDInitSQL that begins a transaction
# itself (REPEATABLE READ here): a rollback would take back what it set
# after its BEGIN, so the connection is not used: 503, and the log says why
# (BBT083).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Util qw(spew);
use BBT::Cache qw(wait_log log_mark log_since);

my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

sub env_with {
    my ($conf, $cache) = @_;
    my $env = BBT::Env->new(
        modules    => [qw(lua)],
        mpm_conf   => BBT::Util::one_child_mpm(4),
        extra_conf => ($cache ? '' : "BBTokenCache off\n") . "DBDMin 1\nDBDKeep 1\nDBDMax 1\n$conf",
    )->start;
    $env->user_add('alice');
    $env->grant('alice', 'PROJECT_WRITE', 'PROJ');
    $env->make_repo('PROJ', 'repo');
    return $env;
}

# A mod_lua handler at /leave that takes the pool's connection, begins a
# transaction, takes its snapshot and gives the connection back inside it.
sub with_leave {
    my ($conf, $cache) = @_;
    my $env = env_with($conf . "LuaMapHandler ^/leave\$ \"\@DIR\@/leave.lua\" handle\n", $cache);
    spew($env->dir . '/leave.lua', <<'EOL', 0644);
function handle(r)
    local db, err = r:dbacquire()
    if not db then r:puts("no connection: " .. tostring(err)); return 500 end
    db:query(r, "BEGIN ISOLATION LEVEL REPEATABLE READ")
    db:query(r, "SELECT 1")
    db:close()
    r:puts("left inside a transaction\n")
    return apache2.OK
end
EOL
    return $env;
}

subtest 'another module gives its connection back inside a transaction' => sub {
    # DBDInitSQL's search_path (public, and the schema's own: the same
    # tables) must survive the rollback: it was set outside it.
    my $env = with_leave("DBDInitSQL \"SET search_path TO public\"\n");
    my ($tok, $id) = $env->token_create('alice', name => 'after another module');
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the token: 200');
    my $l = $env->get('/leave');
    is($l->{status}, 200, 'a mod_lua handler leaves the one pooled connection inside a transaction')
        or diag "$l->{status} $l->{content}";
    is($env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'"
                  . " AND state LIKE 'idle in transaction%'"), 1, '  (PostgreSQL says so)');
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the token: 200 still');
    like($env->error_log_text, qr/BBT082: a pooled connection was inside a transaction .*rolled back/,
         '  the transaction rolled back first, and said so (BBT082)');
    is($env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'"
                  . " AND state LIKE 'idle in transaction%'"), 0, '  no session of httpd\'s left in one');
    local $env->{cli_timeout} = 30;
    my ($rc, $out, $err) = $env->cli('revoke', $id);
    is($rc, 0, 'the CLI revokes it (no row lock of httpd\'s in its way)') or diag "exit $rc: $err";
    is($env->get($UP, auth_bearer($tok))->{status}, 401, 'and the token is refused at once (no old snapshot)');
    is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
};

# After PostgreSQL dropped the connection, mod_dbd's check connects it
# again without DBDInitSQL, and the module runs the list before its first
# statement: outside the transaction another module left on the new
# backend, or the rollback would take back what the list set.
subtest 'a connection made again, then left inside a transaction: DBDInitSQL set outside it' => sub {
    my $env = with_leave("DBDInitSQL \"SET application_name TO 'bbt-initsql'\"\n");
    my $tok = $env->token_create('alice', name => 'after a reconnection');
    my $app = "SELECT string_agg(application_name, ',') FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'";
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the token: 200');
    is($env->psql($app), 'bbt-initsql', 'httpd\'s session as DBDInitSQL made it');
    $env->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'");
    # The first finds the connection dead, the second has it made again.
    $env->get('/leave') for 1 .. 2;
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the token: 200 after both');
    like($env->error_log_text, qr/BBT082: /, '  the transaction rolled back (BBT082)');
    is($env->psql($app), 'bbt-initsql', '  and httpd\'s new session as DBDInitSQL makes it');
};

# PostgreSQL ends a session left idle inside a transaction for longer than
# idle_in_transaction_session_timeout; libpq learns it only at the next
# read, the rollback's.  A connection lost so is made again, as any lost
# one is: the token served, no BBT083.
subtest 'a transaction PostgreSQL ended meanwhile: the connection made again' => sub {
    my $env = with_leave("DBDInitSQL \"SET idle_in_transaction_session_timeout = '1s'\"\n");
    my $tok = $env->token_create('alice', name => 'after the server ended it');
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the token: 200');
    is($env->get('/leave')->{status}, 200, 'the handler leaves a transaction');
    # Past the server's limit (a wait for it to act, not a timed assertion).
    sleep 3;
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the token: 200');
    unlike($env->error_log_text, qr/BBT083/, '  not refused as a connection inside a transaction');
};

# The cache's listener takes a pooled connection too, each time it
# connects, to read the session DBDInitSQL made: one left inside another
# module's transaction is rolled back first, and said so (BBT084), as a
# request would.  One child with one pooled connection: the one the
# handler left.
subtest 'the listener finds a pooled connection inside a transaction' => sub {
    my $env = with_leave('', 1);
    ok(wait_log($env, 0, qr/BBT309: /), 'the listener is up');
    my $tok = $env->token_create('alice', name => 'with the listener');
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the token: 200');
    is($env->get('/leave')->{status}, 200, 'the handler leaves a transaction');
    my $mark = log_mark($env);
    $env->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
               . " WHERE application_name = 'mod_bbtoken listener'");
    ok(wait_log($env, $mark, qr/BBT309: /), 'the listener connects again');
    like(log_since($env, $mark),
         qr/BBT084: the token cache's listener, reading the pooled session: a pooled connection was inside a transaction .*rolled back/,
         '  having rolled the transaction back, and said so (BBT084)');
    is($env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'"
                  . " AND state LIKE 'idle in transaction%'"), 0, '  no session of httpd\'s left in one');
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the token: 200');
};

subtest 'a DBDInitSQL that begins a transaction' => sub {
    my $env = env_with("DBDInitSQL \"BEGIN ISOLATION LEVEL REPEATABLE READ\"\n");
    my ($tok, $id) = $env->token_create('alice', name => 'in a transaction');
    is($env->get($UP, auth_bearer($tok))->{status}, 503, 'the token: 503, not served from inside the transaction');
    like($env->error_log_text, qr/BBT083: the pool's DBDInitSQL leaves the session inside a transaction/,
         '  and the log says why (BBT083)');
    is($env->psql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                  . " WHERE a.usename = 'bbtoken_httpd' AND l.locktype = 'transactionid'"), 0,
       'no write of httpd\'s holds a lock');
    local $env->{cli_timeout} = 30;
    my ($rc, $out, $err) = $env->cli('revoke', $id);
    is($rc, 0, 'the CLI revokes the token') or diag "exit $rc: $err";
    isnt($env->get($UP, auth_bearer($tok))->{status}, 200, 'and it is not served');
    is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
};
done_testing;
