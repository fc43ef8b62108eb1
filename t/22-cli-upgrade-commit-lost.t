# `bbtoken db upgrade` whose migration's COMMIT answer the connection
# loses.  The CLI asked, as for any write, whether the audit trail held a
# record of the transaction written by the CLI, which a migration never
# writes: a migration committed was "not known" (exit 1) while `db status`
# showed its version, and db upgrade never stopped as the README says it
# does after one judged done.  And --init's first migration ran its own
# BEGIN and COMMIT, its id never read: "server closed the connection
# unexpectedly", exit 1, the schema committed at version 1, and a rerun
# of --init refused it with no word of `db upgrade`.  Now a migration's
# evidence is bbtoken_schema's version having reached it (the first's,
# that bbtoken_schema is there): committed so, it is done, and db upgrade
# stops there, exit 3, its session's owner role and search path (--init:
# its lock) gone with the connection; run again, it does the rest.  The
# last migration's stopped there too, "the rest was not done (run the
# command again)", exit 3, where nothing was left: a rerun said "already
# up to date".  What follows it needs nothing of the session lost: it
# ends as it would have, exit 0.  The COMMIT is cut as a failover cuts it
# (BBT::Cli's cli_commit_cut).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Migrations qw(later_migrations latest_version cli_db psql_script create_db db_at);

my $env = BBT::Env->new(httpd => 0)->start;
my $LATEST = latest_version();

sub version_of { $env->psql('SELECT max(version) FROM bbtoken_schema', db => $_[0]) }

# The two lines db upgrade ends with after migration $name, judged done
# (its wait for the standby cut: not confirmed there), where its session
# held $held.
sub stopped_re {
    my ($name, $evidence, $held) = @_;
    return qr/^bbtoken: applying migration \Q$name\E: done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds \Q$evidence\E; but the synchronous standby did not confirm it: a failover may lose it\nbbtoken: stopped there: the database session that held \Q$held\E was lost with the connection, and a new one does not hold it: the rest was not done \(run the command again\)\n\z/m;
}

subtest 'a migration committed, its answer lost: done, then stopped' => sub {
    is(db_at($env, 'v59', 59), 59, 'a database at version 59');
    my ($rc, $out, $err, $cut) = $env->cli_commit_cut('v59', 'db', 'upgrade');
    ok($cut, 'the COMMIT of migration 0060 cut while it waited for the standby') or return;
    is($rc, 3, 'exit 3') or diag $err;
    like($err, stopped_re('0060_schema_one_row', "bbtoken_schema's version 60",
                          'the role and search path of db upgrade'),
         'done, by the version reached, then stopped, saying why') or diag $err;
    unlike($err, qr/not known/, '  not "not known"');
    unlike($out, qr/^applied 0061/m, '  the next migration not applied');
    is(version_of('v59'), 60, 'in the database: version 60');
    my ($src, $sout) = cli_db($env, 'v59', 'db', 'status');
    like($sout, qr/^schema version: 60$/m, '  as db status says');

    ($rc, $out, $err) = cli_db($env, 'v59', 'db', 'upgrade');
    is($rc, 0, 'run again: exit 0') or diag $err;
    like($out, qr/\Aapplied 0061_\w+\n.*schema version: \Q$LATEST\E\n\z/s, '  the rest applied') or diag $out;
    is(version_of('v59'), $LATEST, '  the latest version');
};

subtest 'the last migration committed, its answer lost: done, and the upgrade ends' => sub {
    my ($prev, $last) = (later_migrations())[-2, -1];
    my ($v) = $prev =~ /^0*(\d+)_/;
    is(db_at($env, 'vlast', $v), $v, "a database at version $v");
    my ($rc, $out, $err, $cut) = $env->cli_commit_cut('vlast', 'db', 'upgrade');
    ok($cut, "the COMMIT of migration $last cut while it waited for the standby") or return;
    is($rc, 0, 'exit 0: nothing was left') or diag $err;
    like($err, qr/\Abbtoken: applying migration \Q$last\E: done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds bbtoken_schema's version \Q$LATEST\E; but the synchronous standby did not confirm it: a failover may lose it\n\z/,
         'done, and nothing more said') or diag $err;
    is($out, "applied $last\nschema version: $LATEST\n", 'stdout: the migration applied, and the version');
    is(version_of('vlast'), $LATEST, 'in the database: the latest version');

    ($rc, $out, $err) = cli_db($env, 'vlast', 'db', 'upgrade');
    is($rc, 0, 'run again: exit 0') or diag $err;
    is($out, "schema version: $LATEST (already up to date)\n", '  nothing to do');
};

subtest '--init: its first migration committed, its answer lost: done, then stopped' => sub {
    psql_script($env, 'fresh', create_db('fresh'));
    my ($rc, $out, $err, $cut) = $env->cli_commit_cut('fresh', 'db', 'upgrade', '--init');
    ok($cut, 'the COMMIT of migration 0001 cut while it waited for the standby') or return;
    is($rc, 3, 'exit 3') or diag $err;
    like($err, stopped_re('0001_initial', 'bbtoken_schema', 'the lock of db upgrade --init'),
         'done, by bbtoken_schema made, then stopped, saying why') or diag $err;
    is(version_of('fresh'), 1, 'in the database: version 1');

    ($rc, $out, $err) = cli_db($env, 'fresh', 'db', 'upgrade', '--init');
    is($rc, 1, '--init run again: exit 1');
    is($err, "bbtoken: --init: this database has a mod_bbtoken schema already (version 1): bbtoken db upgrade "
           . "upgrades it to version $LATEST\n", '  saying db upgrade upgrades it');
    ($rc, $out, $err) = cli_db($env, 'fresh', 'db', 'upgrade');
    is($rc, 0, 'db upgrade: exit 0') or diag $err;
    like($out, qr/\Aapplied 0002_\w+\n/, '  from migration 0002') or diag $out;
    is(version_of('fresh'), $LATEST, '  to the latest version');

    ($rc, $out, $err) = cli_db($env, 'fresh', 'db', 'upgrade', '--init');
    is($err, "bbtoken: --init: this database has a mod_bbtoken schema already (version $LATEST)\n",
       '--init on it now: refused as before');
};

# A superuser's db upgrade on a schema whose tables a role that is no
# superuser owns first gives that owner what superusers own of it, in a
# transaction of its own, and then refuses to go on.  Its COMMIT's answer
# lost, it said "committing: server closed the connection unexpectedly
# ...", and then, for the server's warning that the COMMIT's wait for the
# standby was given up, "a transaction: committed on this server, but the
# synchronous standby did not confirm it": exit 1, two lines, neither
# saying whether the hand-back was done.  Now it is asked about as any
# write is, by what only it leaves (no object of the schema's a
# superuser's), and the refusal's one line says what became of it.
subtest 'the hand-back to the tables\' owner, its answer lost: one line, saying it was done' => sub {
    my @upto = grep { m{/(\d{4})_} && $1 <= 3 } sort glob "$BBT::Env::ROOT/sql/migrations/0*.sql";
    psql_script($env, 'owned', "CREATE ROLE bbowner LOGIN;\nCREATE DATABASE owned OWNER bbowner;\n"
                . "\\c owned bbowner\n\\ir $upto[0]\n" . join('', map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto[1 .. $#upto])
                . "\\c owned postgres\nALTER TABLE bbtoken_tokens OWNER TO postgres;\n");
    my ($rc, $out, $err, $cut) = $env->cli_commit_cut('owned', 'db', 'upgrade');
    ok($cut, 'the hand-back\'s COMMIT cut while it waited for the standby') or return;
    is($rc, 1, 'exit 1: refused, as without the cut') or diag $err;
    is($out, "gave 1 of the schema's objects that superusers owned to bbowner, the owner of its tables\n",
       'stdout: what it gave');
    like($err, qr/\Abbtoken: giving the schema's objects to the owner of its tables: done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds no object of the schema's that a superuser owns; but the synchronous standby did not confirm it: a failover may lose it; the schema's tables belong to role bbowner, which is no superuser: [^\n]*; connect as bbowner or a member of its role [^\n]*\n\z/,
         'stderr, one line: the hand-back done, then why it stops') or diag $err;
    is($env->psql("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'bbtoken_tokens'", db => 'owned'),
       'bbowner', 'in the database: the table is the owner\'s');
    is(version_of('owned'), 3, '  and nothing migrated');
};

# The session made again after a migration's lost COMMIT meets the
# guard's refusal (a role that is no superuser given CREATE in the schema
# meanwhile): not known, and what came before it.  That said "(running
# db upgrade again applies the rest)", where a run again meets the same
# refusal until it is put right, as the guard's refusal in the session
# itself says.
subtest 'the session made again refused by the guard: no rest a run again applies' => sub {
    is(db_at($env, 'refused', 59), 59, 'a database at version 59');
    # Migration 0061 alters bbtoken_policy, which 0060 leaves alone.
    my $h = $env->pg_session('refused-policy');
    $h->send("\\c refused")->send('BEGIN; LOCK TABLE bbtoken_policy IN ROW EXCLUSIVE MODE;');
    ok($h->done, 'another session holds a lock of bbtoken_policy') or diag $h->out;
    my ($rc, $out, $err, $cut) = $env->cli_commit_cut_at('refused', {
        at => sub {
            ok($env->pg_wait_backend('bbt-commit-cut', "wait_event_type = 'Lock'"),
               'migration 0061 waits for the lock, 0060 committed');
            $env->psql('GRANT CREATE ON SCHEMA public TO bbtoken_httpd', db => 'refused');
        },
        go => sub { $h->send('ROLLBACK;'); $h->done },
    }, 'db', 'upgrade');
    # Ended once the CLI is: its process, forked meanwhile, holds the pipe.
    $h->finish;
    ok($cut, 'the COMMIT of migration 0061 cut while it waited for the standby') or return;
    is($rc, 1, 'exit 1') or diag $err;
    is($out, "applied 0060_schema_one_row\n", 'stdout: the first applied');
    my $refusal = qr/role bbtoken_httpd, which is no superuser, may create objects there \(schema public\): [^\n]*/;
    like($err, qr/\Abbtoken: applying migration 0061_max_expiry_applies: the connection was lost at its COMMIT \([^\n]*\), so whether it took effect is not known \(look before running it again\); the database could not say: not connected again: $refusal; whatever became of it, the migration listed above as applied was committed before it; once that is put right, running db upgrade again applies the rest\n\z/,
         'stderr, one line: not known, refused, the migration applied, the rest once that is put right') or diag $err;
    unlike($err, qr/\(running db upgrade again/, '  no rest promised to a run again as it is');
    is(version_of('refused'), 61, 'in the database: version 61 (committed locally)');

    ($rc, $out, $err) = cli_db($env, 'refused', 'db', 'upgrade');
    is($rc, 1, 'run again: exit 1') or diag $err;
    like($err, qr/\Abbtoken: $refusal\n\z/, '  the same refusal, alone') or diag $err;
    is(version_of('refused'), 61, '  in the database: version 61');

    $env->psql('REVOKE CREATE ON SCHEMA public FROM bbtoken_httpd', db => 'refused');
    ($rc, $out, $err) = cli_db($env, 'refused', 'db', 'upgrade');
    is($rc, 0, 'put right, run again: exit 0') or diag $err;
    like($out, qr/\Aapplied 0062_\w+\n.*schema version: \Q$LATEST\E\n\z/s, '  the rest applied') or diag $out;
    is(version_of('refused'), $LATEST, '  the latest version');
};

is($env->psql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names is reset');
done_testing;
