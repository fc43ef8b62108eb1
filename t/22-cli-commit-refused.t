# A command of many transactions (`revoke --user`, `list --all
# --revoke`) whose COMMIT's answer is lost after a batch committed, and
# whose session made again to ask about it meets the owner guard's
# refusal (a role that is no superuser given CREATE in the schema
# meanwhile).  Its one line said what the batches before did, with
# "(running the command again revokes the rest)", where a run again meets
# the same refusal and revokes nothing until it is put right.  Now, as db
# upgrade's (t/22-cli-upgrade-commit-lost), "; once that is put right,
# running the command again revokes the rest"; a run again refused alike;
# put right, the rest revoked.  The COMMIT is cut as a failover cuts it
# (BBT::Cli's cli_commit_cut_at), the standby named once the CLI's
# second batch waits for a token this test holds.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;

my $REFUSAL = qr/role bbtoken_httpd, which is no superuser, may create objects there \(schema public\): [^\n]*/;

# bbtoken @args, its second batch's COMMIT cut once the guard would
# refuse a session: its first batch (token $base + 1 on) committed, the
# second waiting for token $held, which a session of ours holds, while
# CREATE in the schema is granted.  (exit code, stdout, stderr, whether
# the COMMIT was cut).
sub cut_refused {
    my ($held, @args) = @_;
    my $h = $env->pg_session('refused-token');
    $h->send("BEGIN; SELECT id FROM bbtoken_tokens WHERE id = '$held' FOR UPDATE;");
    ok($h->done, "another session holds token $held") or diag $h->out;
    my @r = $env->cli_commit_cut_at(undef, {
        at => sub {
            ok($env->pg_wait_backend('bbt-commit-cut', "wait_event_type = 'Lock'"),
               'the second batch waits for the token, the first committed');
            $env->psql('GRANT CREATE ON SCHEMA public TO bbtoken_httpd');
        },
        go => sub { $h->send('ROLLBACK;'); $h->done },
    }, @args);
    # Ended once the CLI is: its process, forked meanwhile, holds the pipe.
    $h->finish;
    return @r;
}

# The CLI run again: refused alone; put right, run again: exit 0.
sub rerun {
    my (@args) = @_;
    my ($rc, $out, $err) = $env->cli(@args);
    is($rc, 1, 'run again: exit 1') or diag $err;
    is($out, '', '  nothing done');
    like($err, qr/\Abbtoken: $REFUSAL\n\z/, '  the same refusal, alone') or diag $err;
    $env->psql('REVOKE CREATE ON SCHEMA public FROM bbtoken_httpd');
    ($rc, $out, $err) = $env->cli(@args);
    is($rc, 0, 'put right, run again: exit 0') or diag $err;
    return $out;
}

subtest 'revoke --user: the session made again refused by the guard' => sub {
    $env->user_add_bulk_tokens('gus', 2500, 610000000000);
    my ($rc, $out, $err, $cut) = cut_refused('610000001001', 'revoke', '--user', 'gus');
    ok($cut, 'the COMMIT of the second batch cut while it waited for the standby') or return;
    is($rc, 1, 'exit 1') or diag $err;
    is($out, '', 'stdout: no summary');
    like($err, qr/\Abbtoken: revoking the tokens: the connection was lost at its COMMIT \([^\n]*\), so whether it took effect is not known \(look before running it again\); the database could not say: not connected again: $REFUSAL; whatever became of it, 1000 tokens of gus were revoked before it; once that is put right, running the command again revokes the rest\n\z/,
         'stderr, one line: not known, refused, the first batch revoked, the rest once that is put right') or diag $err;
    unlike($err, qr/\(running the command again/, '  no rest promised to a run again as it is');
    is($env->user_live_tokens('gus'), 500, 'in the database: 2000 revoked (the second committed locally)');

    $out = rerun('revoke', '--user', 'gus');
    is($out, "revoked 500 tokens of gus\n", '  the rest revoked');
    is($env->user_live_tokens('gus'), 0, '  none left');
};

subtest 'list --all --revoke: the session made again refused by the guard' => sub {
    $env->user_add_bulk_tokens('gwen', 2500, 620000000000);
    my ($rc, $out, $err, $cut) = cut_refused('620000001001', 'list', '--all', '--owner', 'gwen', '--revoke');
    ok($cut, 'the COMMIT of the second batch cut while it waited for the standby') or return;
    is($rc, 1, 'exit 1') or diag $err;
    is(scalar(() = $out =~ /\bgwen \d+\b/g), 1000, 'stdout: the first batch listed');
    like($err, qr/\Abbtoken: revoking the tokens: the connection was lost at its COMMIT \([^\n]*\), so whether it took effect is not known \(look before running it again\); the database could not say: not connected again: $REFUSAL; whatever became of it, the 1000 tokens listed above were revoked before it; once that is put right, running the command again revokes the rest\n\z/,
         'stderr, one line: not known, refused, those listed revoked, the rest once that is put right') or diag $err;
    unlike($err, qr/\(running the command again/, '  no rest promised to a run again as it is');
    is($env->user_live_tokens('gwen'), 500, 'in the database: 2000 revoked (the second committed locally)');

    $out = rerun('list', '--all', '--owner', 'gwen', '--revoke');
    is(scalar(() = $out =~ /\bgwen \d+\b/g), 500, '  the rest listed') or diag $out;
    is($env->user_live_tokens('gwen'), 0, '  and revoked');
};

is($env->psql("SELECT has_schema_privilege('bbtoken_httpd', 'public', 'CREATE')"), 'f',
   'CREATE in the schema is not left granted');
is($env->psql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names is reset');
done_testing;
