# A backup restored data only into a new schema (pg_restore --data-only
# --disable-triggers into a database made by sql/schema.sql), by the
# README's steps as they are written (The cache, a data-only restore step
# by step): the one-row tables emptied first, the restore whole (exit 0),
# the policy and the skipped notifications' row as dumped, bbtoken_schema
# one row, every trigger the schema makes ENABLE ALWAYS firing always
# again by the README's one statement (27: the notifying ones, the
# lookup's, bbtoken_token_nets_keep), `bbtoken db check` content, and the
# cache believed.  Without emptying them the dump's rows are refused, and
# from version 60 bbtoken_schema's too, which took the dump's beside its
# own before (control).  The listener reads the largest version, as every
# other reader does: a bbtoken_schema of two rows (a database restored so
# before version 60) no longer fails its every try with "connection
# failed", and a table without a row is said as what it is.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer run_cmd);
use BBT::Cache qw(served_from_cache until_status wait_log log_mark log_since);

my $ROOT = $BBT::Env::ROOT;

# The README's commands: the block from the TRUNCATE, and the DO statement
# that follows it.
my $readme = BBT::Util::slurp("$ROOT/README");
my ($shell) = $readme =~ /^((?:    psql .*-c 'TRUNCATE bbtoken_schema, .*\n)(?:    \S.*\n)+)/m;
my ($do) = $readme =~ /^(    DO \$\$\n(?:    .*\n)*?    \$\$;\n)/m;
ok($shell && $do, "the README's data-only restore") or BAIL_OUT('not in the README');
s/^    //mg for $shell, $do;
my @steps = split /\n/, $shell;
like($steps[-1], qr/^pg_restore --data-only --disable-triggers /, '  its pg_restore');
like($do, qr/ENABLE ALWAYS TRIGGER/, '  and its statement');

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

my $ALWAYS = "SELECT string_agg(t, ' ' ORDER BY t) FROM (SELECT tgrelid::regclass || '.' || tgname AS t"
           . " FROM pg_trigger WHERE tgenabled = 'A' AND NOT tgisinternal) a";
my $always = $env->psql($ALWAYS);
is(scalar(() = $always =~ /\S+/g), 27, 'the schema makes 27 triggers ENABLE ALWAYS');
my $POLICY = 'SELECT max_tokens_per_user FROM bbtoken_policy';
my $SKIPS = 'SELECT at_usage FROM bbtoken_notify_skips';

my $dir = $env->dir . '/scratch/restore';
mkdir $dir or die "$dir: $!";
my %pgenv = (PGHOST => '127.0.0.1', PGPORT => $env->pg_port, PGUSER => 'postgres', PGCONNECT_TIMEOUT => 5,
             PATH => "$BBT::Env::PGBIN:$ENV{PATH}");
sub sh {
    my ($line) = @_;
    my ($rc, $out, $err) = run_cmd(cmd => ['sh', '-c', $line], cwd => $dir, env => \%pgenv,
                                   tmp => $env->dir . '/run', timeout => 120);
    return $rc ? "exit $rc: $err" : 'ok';
}
is(sh('pg_dump -Fc -f bbtoken.dump bbtoken'), 'ok', 'dumped');

# A new database $db with the schema (sql/schema.sql) and the grants.
sub new_schema {
    my ($db) = @_;
    $env->psql("CREATE DATABASE $db", db => 'postgres');
    $env->psql(undef, db => $db, file => "$ROOT/sql/schema.sql");
    $env->psql(undef, db => $db, file => "$ROOT/sql/$_->[0]", vars => ["role=$_->[1]"])
        for ['grants.sql', 'bbtoken_httpd'], ['grants-api.sql', 'bbtoken_api'];
}

subtest 'control: restored without emptying the one-row tables' => sub {
    new_schema('plain');
    my $r = sh('pg_restore --data-only --disable-triggers -d plain bbtoken.dump');
    like($r, qr/^exit 1:/, 'pg_restore fails');
    like($r, qr/COPY failed for table "bbtoken_schema": ERROR:  duplicate key value violates unique constraint "bbtoken_schema_one"/,
         '  on bbtoken_schema\'s row');
    like($r, qr/COPY failed for table "bbtoken_policy"/, '  on the policy\'s');
    is($env->psql('SELECT count(*) FROM bbtoken_schema', db => 'plain'), 1, 'bbtoken_schema holds one row');
    is($env->psql($POLICY, db => 'plain'), 100, 'the policy is the defaults, not as dumped');
    BBT::PgDirect::disconnect($env->pg_port);
    $env->psql('DROP DATABASE plain', db => 'postgres');
};

# The database made again, empty, and restored by the README's steps.
$env->httpd_stop;
$env->psql('DROP DATABASE bbtoken', db => 'postgres');
new_schema('bbtoken');
is(sh($_), 'ok', $_) for @steps;
my $f = "$dir/always.sql";
BBT::Util::spew($f, $do);
is(sh('psql -X -q -v ON_ERROR_STOP=1 -d bbtoken -f always.sql'), 'ok', "the README's statement");
is($env->psql('SELECT string_agg(version::text, \' \') FROM bbtoken_schema'), $env->psql('SELECT max(version) FROM bbtoken_schema'),
   'bbtoken_schema: one row');
is($env->psql($POLICY), 7, 'the policy as dumped');
is($env->psql($SKIPS), 0.75, "bbtoken_notify_skips's row as dumped");
is($env->psql($ALWAYS), $always, 'the same 27 triggers fire always');
my ($rc, $out, $err) = $env->cli_raw('--db', $env->superuser_conninfo, 'db', 'check');
is($rc, 0, 'bbtoken db check') or diag "$out$err";

my $mark = log_mark($env);
$env->httpd_start;
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the restored token: from the cache');
unlike(log_since($env, $mark), qr/BBT308/, 'no BBT308');

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
    my ($tok2, $id2) = $env->token_create('alice', name => 'after the restore');
    ok(served_from_cache($env, $UP, auth_bearer($tok2), $id2), '  the cache is believed');
    $env->cli_ok('revoke', $id2);
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
