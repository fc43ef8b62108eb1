# A backup restored data only into a new schema (pg_restore --data-only
# --disable-triggers into a database made by sql/schema.sql), by the
# README's steps as they are written (The cache, a data-only restore step
# by step), with a role that is no superuser owning the new tables: the
# one-row tables emptied first by the owner, the restore run by postgres
# (runuser) and whole (exit 0), the policy and the skipped notifications'
# row as dumped, bbtoken_schema one row, every trigger the schema makes
# ENABLE ALWAYS firing always again by the README's one statement, run by
# the owner (27: the notifying ones, the lookup's,
# bbtoken_token_nets_keep), `bbtoken db check` as the owner content, and
# the cache believed.  Run as the owner, as the README said before,
# pg_restore may not disable the foreign keys' triggers (only a superuser
# may), exits 1 and loads bbtoken_lookup's rows without the users' (-S
# postgres does not help); a superuser's db check is refused there.  The
# superuser loads the rows as the dump's owner of each table
# (--use-set-session-authorization): a CHECK of the owner's runs as the
# owner, and as postgres without it (control).  Without emptying the
# one-row tables the dump's rows are refused, and from version 60
# bbtoken_schema's too, which took the dump's beside its own before
# (control).  The listener reads the largest version, as every other
# reader does: a bbtoken_schema of two rows (a database restored so before
# version 60) no longer fails its every try with "connection failed", and
# a table without a row is said as what it is.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer run_cmd parse_token);
use BBT::Cache qw(served_from_cache until_status wait_log log_mark log_since);

my $ROOT = $BBT::Env::ROOT;

# The README's commands: the block from the TRUNCATE, one command (&&),
# the DO statement that follows it, and db check's words.
my $readme = BBT::Util::slurp("$ROOT/README");
my ($shell) = $readme =~ /^((?:    psql .*-c 'TRUNCATE bbtoken_schema, .*\n)(?:    \S.*\n)+)/m;
my ($do) = $readme =~ /^(    DO \$\$\n(?:    .*\n)*?    \$\$;\n)/m;
ok($shell && $do, "the README's data-only restore") or BAIL_OUT('not in the README');
s/^    //mg for $shell, $do;
like($shell, qr/&&\nrunuser -u postgres -- pg_restore --data-only --disable-triggers --use-set-session-authorization -d bbtoken < bbtoken\.dump\n\z/,
     '  its pg_restore, as postgres, after the TRUNCATE');
like($shell, qr/\Apsql [^\n]*-d "\$OWNER_DB" /, '  the TRUNCATE as the owner');
like($do, qr/ENABLE ALWAYS TRIGGER/, '  and its statement');
like($readme, qr/in psql -d "\$OWNER_DB", the one statement/, '  run as the owner');
like($readme, qr/`bbtoken --db "\$OWNER_DB" db check`/, '  and db check as the owner');

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my ($tok, $id) = $env->token_create('alice', name => 'before the dump');
# What the schema's defaults are not, to be seen restored.
$env->cli_ok('policy', '--max-tokens', '7');
$env->psql('UPDATE bbtoken_notify_skips SET at_usage = 0.75');
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');
# The new tables' owner, no superuser.
$env->psql('CREATE ROLE bbowner LOGIN');

my $ALWAYS = "SELECT string_agg(t, ' ' ORDER BY t) FROM (SELECT tgrelid::regclass || '.' || tgname AS t"
           . " FROM pg_trigger WHERE tgenabled = 'A' AND NOT tgisinternal) a";
my $always = $env->psql($ALWAYS);
is(scalar(() = $always =~ /\S+/g), 27, 'the schema makes 27 triggers ENABLE ALWAYS');
my $POLICY = 'SELECT max_tokens_per_user FROM bbtoken_policy';
my $SKIPS = 'SELECT at_usage FROM bbtoken_notify_skips';

# Root's directory, which postgres may read and not write, as the README's
# commands are run in it: as root, postgres by runuser (as ourselves, its
# role by PGUSER, where we are not root).
my $dir = $env->dir . '/scratch/restore';
mkdir $dir or die "$dir: $!";
chmod 0755, $dir;
my $port = $env->pg_port;
sub owner_db { "host=127.0.0.1 port=$port dbname=$_[0] user=bbowner connect_timeout=5" }
my %pgenv = (PGHOST => '127.0.0.1', PGPORT => $port, PGUSER => undef, PGCONNECT_TIMEOUT => 5,
             PATH => "$BBT::Env::PGBIN:$ENV{PATH}");
sub sh {
    my ($line, %e) = @_;
    $line =~ s/\brunuser -u postgres -- /env PGUSER=postgres /g unless $BBT::Util::IS_ROOT;
    my ($rc, $out, $err) = run_cmd(cmd => ['sh', '-c', $line], cwd => $dir, env => { %pgenv, %e },
                                   tmp => $env->dir . '/run', timeout => 120);
    return $rc ? "exit $rc: $err" : 'ok';
}
# The README's restore into database $db, its owner's.
sub readme_restore {
    my ($db) = @_;
    (my $cmd = $shell) =~ s/ -d bbtoken / -d $db /g;
    return sh($cmd, OWNER_DB => owner_db($db));
}
is(sh('pg_dump -Fc -f bbtoken.dump bbtoken', PGUSER => 'postgres'), 'ok', 'dumped');

# A new database $db with the schema (sql/schema.sql) and the grants, made
# by bbowner, whose they are.
sub new_schema {
    my ($db) = @_;
    $env->psql("CREATE DATABASE $db OWNER bbowner", db => 'postgres');
    $env->psql(undef, db => $db, user => 'bbowner', file => "$ROOT/sql/schema.sql");
    $env->psql(undef, db => $db, user => 'bbowner', file => "$ROOT/sql/$_->[0]", vars => ["role=$_->[1]"])
        for ['grants.sql', 'bbtoken_httpd'], ['grants-api.sql', 'bbtoken_api'];
}
sub drop_db {
    BBT::PgDirect::disconnect($env->pg_port);
    $env->psql("DROP DATABASE $_[0]", db => 'postgres');
}
my ($TRUNCATE) = $shell =~ /\A(.*) &&\n/;

subtest 'control: pg_restore run as the tables\' owner, as the README said before' => sub {
    new_schema('asowner');
    is(sh($TRUNCATE, OWNER_DB => owner_db('asowner')), 'ok', 'the one-row tables emptied');
    my $r = sh('pg_restore --data-only --disable-triggers -d asowner bbtoken.dump', PGUSER => 'bbowner');
    like($r, qr/^exit 1:/, 'pg_restore fails');
    like($r, qr/permission denied: "RI_ConstraintTrigger_c_\d+" is a system trigger/, '  on the foreign keys\' triggers');
    is($env->psql('SELECT count(*) FROM bbtoken_users', db => 'asowner'), 0, 'no user loaded');
    is($env->psql('SELECT count(*) FROM bbtoken_tokens', db => 'asowner'), 0, '  no token');
    is($env->psql('SELECT count(*) FROM bbtoken_lookup', db => 'asowner'), 1, "  but the token's lookup row");
    drop_db('asowner');
    new_schema('assuper');
    is(sh($TRUNCATE, OWNER_DB => owner_db('assuper')), 'ok', 'again');
    like(sh('pg_restore -S postgres --data-only --disable-triggers -d assuper bbtoken.dump', PGUSER => 'bbowner'),
         qr/^exit 1: .*permission denied to set session authorization/s, '  -S postgres: refused');
    drop_db('assuper');
};

subtest 'control: restored without emptying the one-row tables' => sub {
    new_schema('plain');
    (my $cmd = $shell) =~ s/\A.*\n//;
    $cmd =~ s/ -d bbtoken / -d plain /;
    my $r = sh($cmd);
    like($r, qr/^exit 1:/, 'pg_restore fails');
    like($r, qr/COPY failed for table "bbtoken_schema": ERROR:  duplicate key value violates unique constraint "bbtoken_schema_one"/,
         '  on bbtoken_schema\'s row');
    like($r, qr/COPY failed for table "bbtoken_policy"/, '  on the policy\'s');
    is($env->psql('SELECT count(*) FROM bbtoken_schema', db => 'plain'), 1, 'bbtoken_schema holds one row');
    is($env->psql($POLICY, db => 'plain'), 100, 'the policy is the defaults, not as dumped');
    drop_db('plain');
};

# The database made again, empty, and restored by the README's steps.
$env->httpd_stop;
drop_db('bbtoken');
new_schema('bbtoken');
my $OWNER_DB = owner_db('bbtoken');
is(readme_restore('bbtoken'), 'ok', "the README's TRUNCATE and pg_restore");
my $f = "$dir/always.sql";
BBT::Util::spew($f, $do);
is(sh('psql -X -q -v ON_ERROR_STOP=1 -d "$OWNER_DB" -f always.sql', OWNER_DB => $OWNER_DB), 'ok',
   "the README's statement, as the owner");
is($env->psql('SELECT string_agg(version::text, \' \') FROM bbtoken_schema'), $env->psql('SELECT max(version) FROM bbtoken_schema'),
   'bbtoken_schema: one row');
is($env->psql($POLICY), 7, 'the policy as dumped');
is($env->psql($SKIPS), 0.75, "bbtoken_notify_skips's row as dumped");
is($env->psql('SELECT count(*) FROM bbtoken_users'), 1, 'the user');
is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$id'"), 1, '  and the token');
is($env->psql($ALWAYS), $always, 'the same 27 triggers fire always');
is($env->psql("SELECT count(*) FROM pg_class WHERE relname LIKE 'bbtoken\\_%' AND relkind = 'r'"
              . " AND relowner <> 'bbowner'::regrole"), 0, "the tables are still bbowner's");
my ($rc, $out, $err) = $env->cli_raw('--db', $OWNER_DB, 'db', 'check');
is($rc, 0, 'bbtoken db check, as the owner') or diag "$out$err";
($rc, $out, $err) = $env->cli('db', 'check');
is($rc, 1, "control: a superuser's db check is refused");
like($err, qr/tables belong to role bbowner, which is no superuser/, '  and says why');

# The owner's CLI.
sub owner_cli {
    my ($r, $o, $e) = $env->cli_raw('--db', $OWNER_DB, @_);
    die "bbtoken @_: exit $r: $e" if $r;
    return $o;
}

my $mark = log_mark($env);
$env->httpd_start;
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the restored token: from the cache');
unlike(log_since($env, $mark), qr/BBT308/, 'no BBT308');

# A CHECK of the owner's that records who loads the rows: the README's
# restore loads them as the dump's owner, bbowner here; without
# --use-set-session-authorization postgres ran the owner's code.
subtest "the rows loaded as the dump's owner, not as postgres" => sub {
    is(sh('pg_dump -Fc -f owner.dump bbtoken', PGUSER => 'postgres'), 'ok', "bbowner's tables dumped");
    my %who;
    for my $db ('probe', 'probe_plain') {
        new_schema($db);
        $env->psql(<<'EOS', db => $db, user => 'bbowner');
CREATE TABLE probe (who text);
CREATE FUNCTION probe_who() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.probe VALUES (current_user);
    RETURN true;
END
$$;
ALTER TABLE bbtoken_users ADD CONSTRAINT probe CHECK (probe_who());
EOS
    }
    (my $cmd = $shell) =~ s/ bbtoken\.dump$/ owner.dump/m;
    $cmd =~ s/ -d bbtoken / -d probe /;
    is(sh($cmd, OWNER_DB => owner_db('probe')), 'ok', "the README's restore");
    is($env->psql("SELECT string_agg(DISTINCT who, ' ') FROM probe", db => 'probe'), 'bbowner', "  the owner's CHECK ran as bbowner");
    $cmd =~ s/ --use-set-session-authorization//;
    $cmd =~ s/ -d probe / -d probe_plain /;
    is(sh($cmd, OWNER_DB => owner_db('probe_plain')), 'ok', 'control: without --use-set-session-authorization');
    is($env->psql("SELECT string_agg(DISTINCT who, ' ') FROM probe", db => 'probe_plain'), 'postgres', '  it ran as postgres');
    drop_db($_) for 'probe', 'probe_plain';
};

sub listener_again {
    my ($m) = @_;
    $env->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'");
    return wait_log($env, $m, qr/BBT309: the token cache's listener hears PostgreSQL again/);
}

subtest 'bbtoken_schema of two rows, as a data-only restore left it before version 60' => sub {
    $env->psql('DROP INDEX bbtoken_schema_one');
    $env->psql('INSERT INTO bbtoken_schema SELECT max(version) - 1 FROM bbtoken_schema');
    is($env->psql('SELECT count(*) FROM bbtoken_schema'), 2, 'two rows');
    my $m = log_mark($env);
    ok(listener_again($m), 'the listener connects again and hears PostgreSQL');
    unlike(log_since($env, $m), qr/BBT308/, '  no BBT308');
    chomp(my $tok2 = owner_cli('create', 'alice', '--name', 'after the restore'));
    my $id2 = parse_token($tok2)->{id};
    ok(served_from_cache($env, $UP, auth_bearer($tok2), $id2), '  the cache is believed');
    owner_cli('revoke', $id2);
    my ($ok, $n, $seen) = until_status($env, $UP, auth_bearer($tok2), 401);
    ok($ok, "  a revocation is refused ($seen)");
};

subtest 'bbtoken_schema without a row: said as it is' => sub {
    my $m = log_mark($env);
    $env->psql('DELETE FROM bbtoken_schema');
    $env->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'");
    ok(wait_log($env, $m, qr/BBT308: the token cache's listener cannot reach PostgreSQL \(bbtoken_schema holds no version\)/),
       'BBT308 names the empty bbtoken_schema');
    unlike(log_since($env, $m), qr/BBT308[^\n]*\(connection failed\)/, '  never "connection failed"');
};

is_deeply([$env->crash_lines], [], 'no httpd child crashed');
done_testing;
