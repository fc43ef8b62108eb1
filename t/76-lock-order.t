# Concurrent token operations take their rows in one order, so PostgreSQL
# never has to abort one of two to break a deadlock (40P01), and a
# revocation of all a holder's tokens misses none made meanwhile by a
# rotation.  Each race is made deterministic with sessions of psql: one
# holds a row, the others queue behind it (pg_stat_activity says they wait
# for a lock), then it lets go; no sleep decides anything.  A bulk
# revocation's rows lie on disk higher id first and are read without an
# index, so that only the statement's own order takes them lowest id
# first.  Which of two PostgreSQL aborts is down to timing, and the CLI
# runs an aborted transaction again: the deadlocks in PostgreSQL's log
# are counted too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add($_) for qw(alice bob carol dave erin filler);
# A table of realistic size, so that the planner reads rows by index (in
# the order it is handed ids) rather than in one sequential scan.
$env->psql("UPDATE bbtoken_policy SET max_tokens_per_user = 100000");
$env->psql("SET session_replication_role = replica;"
           . " INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
           . " SELECT lpad((g * 7919)::text, 12, '0'), u.id, 'filler ' || g, 'PROJECT_READ', 'REPO_READ',"
           . " repeat('a', 32), repeat('b', 64) FROM generate_series(1, 3000) g, bbtoken_users u"
           . " WHERE u.name = 'filler'; ANALYZE");

# Two live tokens of $user, made in the order given: (lower id, higher id).
my $made = 0;
sub two_tokens {
    my ($user) = @_;
    $made++;
    my (undef, $a) = $env->token_insert($user, name => "$user one $made");
    my (undef, $b) = $env->token_insert($user, name => "$user two $made");
    return $a lt $b ? ($a, $b) : ($b, $a);
}

sub hash_of { $env->psql("SELECT secret_hash FROM bbtoken_tokens WHERE id = '$_[0]'") }

sub live_of {
    my ($user) = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                      . " WHERE u.name = '$user' AND t.revoked_at IS NULL");
}

# Tokens $lo and $hi of a holder, the higher id inserted first: on disk
# (and in the index of a holder's tokens by creation) the rows lie in the
# other order.  $holder: the holder's columns and their values, SQL (a
# user's id, a project's key, a repository's key and slug, whose token has
# a repository permission alone).
sub two_rows_hi_first {
    my ($lo, $hi, %holder) = @_;
    my %perm = (project_perm => "'PROJECT_READ'", repo_perm => "'REPO_READ'");
    delete $perm{project_perm} if $holder{repo_slug};
    my %col = (%holder, %perm, salt => "repeat('a', 32)", secret_hash => "repeat('f', 64)");
    my @cols = sort keys %col;
    for my $id ($hi, $lo) {
        $env->psql("INSERT INTO bbtoken_tokens (id, name, " . join(', ', @cols) . ")"
                   . " SELECT '$id', 'lock $id', " . join(', ', @col{@cols}));
    }
}

sub user_id_sql { "(SELECT id FROM bbtoken_users WHERE name = '$_[0]')" }

sub live_ids {
    my @ids = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL"
                      . " AND id IN ('" . join("','", @ids) . "')");
}

# How many deadlocks PostgreSQL has broken so far, as its log says: the
# CLI runs again a transaction aborted for one (and exits 0), so only the
# log tells that it was.
sub deadlocks { scalar(() = $env->pg_log_text =~ /deadlock detected/g) }

# Index scans off: a statement reads the rows in their order on disk, so
# that only its own ORDER BY takes them lowest id first.  For the CLI
# (PGOPTIONS) and for a session of psql.
my @no_index = qw(enable_indexscan enable_indexonlyscan);
my $no_index_cli = join ' ', map {"-c $_=off"} @no_index;
my $no_index_sql = join ' ', map {"SET $_ = off;"} @no_index;

sub leak_sql {
    my ($addr, @ids) = @_;
    return "SELECT 'revoked ' || bbtoken_api_revoke_leaked('$addr', ARRAY['" . join("','", @ids)
        . "'], ARRAY['" . join("','", map { hash_of($_) } @ids) . "']);";
}

# A leak report of $lo and $hi waiting behind a third session's hold on
# $lo, and the CLI command @args started meanwhile, until it waits too;
# then the hold goes.  Both must finish, the report not aborted, the
# command with exit 0, and no deadlock broken on the way.
sub report_and_cli {
    my ($n, $addr, $lo, $hi, $app, @args) = @_;
    my $broken = deadlocks();
    my $h = $env->pg_session("hold$n");
    $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$lo' FOR UPDATE;");
    ok($h->done, 'a third session holds the lower token');
    my $a = $env->pg_session("leak$n")->send(leak_sql($addr, $lo, $hi));
    ok($a->blocked, 'the report waits');
    my $wait = cli_bg($app, @args);
    ok($env->pg_wait_backend("bbt-$app", "wait_event_type = 'Lock'"), "$args[0] waits");
    $h->send('ROLLBACK;');
    ok($h->done && $a->done, 'the holder and the report finish');
    my ($rc, $stdout, $stderr) = $wait->();
    my $out = $a->finish;
    $h->finish;
    unlike($out, qr/deadlock|ERROR/, 'the report was not aborted') or diag $out;
    is($rc, 0, "$args[0] exits 0") or diag $stderr;
    is(deadlocks(), $broken, "no deadlock: $args[0] was not aborted and run again either");
}

# As report_and_cli, with SQL $sql in a session of psql (index scans off)
# in place of the command: both end without an error.
sub report_and_psql {
    my ($n, $addr, $lo, $hi, $sql) = @_;
    my $broken = deadlocks();
    my $h = $env->pg_session("hold$n");
    $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$lo' FOR UPDATE;");
    ok($h->done, 'a third session holds the lower token');
    my $a = $env->pg_session("leak$n")->send(leak_sql($addr, $lo, $hi));
    ok($a->blocked, 'the report waits');
    my $d = $env->pg_session("sql$n");
    $d->send("$no_index_sql $sql");
    ok($d->blocked, 'the statement waits');
    $h->send('ROLLBACK;');
    ok($h->done && $a->done && $d->done, 'all three finish');
    my $out = $a->finish . $d->finish;
    $h->finish;
    unlike($out, qr/deadlock|ERROR/, 'neither was aborted') or diag $out;
    is(deadlocks(), $broken, 'no deadlock');
}

# The CLI in the background, with %cli_env in its environment.
our %cli_env;
sub cli_bg { $env->cli_bg(shift, {%cli_env}, @_) }

subtest 'two leak reports of the same tokens in opposite orders: both answered, none aborted' => sub {
    my ($lo, $hi) = two_tokens('alice');
    my $h = $env->pg_session('hold1');
    $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$lo' FOR UPDATE;");
    ok($h->done, 'a third session holds the lower token');
    my $a = $env->pg_session('leak1a')->send(leak_sql('192.0.2.1', $lo, $hi));
    ok($a->blocked, 'the report [lower, higher] waits');
    my $b = $env->pg_session('leak1b')->send(leak_sql('192.0.2.2', $hi, $lo));
    ok($b->blocked, 'the report [higher, lower] waits');
    $h->send('ROLLBACK;');
    ok($h->done && $a->done && $b->done, 'all three finish');
    my $out = $a->finish . $b->finish;
    $h->finish;
    unlike($out, qr/deadlock|ERROR/, 'neither was aborted') or diag $out;
    is(() = $out =~ /^revoked /mg, 2, 'each token revoked once, by one report or the other');
    is(live_of('alice'), 0, 'no token of alice is live');
};

subtest 'a leak report and bbtoken revoke --user, --project or --repo at once: none aborted' => sub {
    local %cli_env = (PGOPTIONS => $no_index_cli);
    my $n = 0;
    for my $case (['--user', 'carol', user_id => user_id_sql('carol')],
                  ['--project', 'LOCK', project_key => "'LOCK'"],
                  ['--repo', 'LOCK/rep', project_key => "'LOCK'", repo_slug => "'rep'"]) {
        my ($opt, $who, %holder) = @$case;
        $n++;
        my ($lo, $hi) = ("1000000003${n}1", "1000000003${n}2");
        two_rows_hi_first($lo, $hi, %holder);
        report_and_cli("2$n", "192.0.2.3$n", $lo, $hi, "revoke2$n", 'revoke', $opt, $who);
        is(live_ids($lo, $hi), 0, "revoke $opt: neither token is live");
    }
};

subtest 'bbtoken revoke --user while a rotation commits: the new token is revoked too' => sub {
    my ($id) = two_tokens('dave');
    my $r = $env->pg_session('rotate3');
    $r->send("BEGIN; SELECT 'rotated ' || COALESCE(bbtoken_rotate('$id', '999999999901', repeat('c', 32), repeat('d', 64))::text, 'for good');");
    ok($r->done, 'a rotation has made its new token, not committed yet');
    my $wait = cli_bg('revoke3', 'revoke', '--user', 'dave');
    ok($env->pg_wait_backend('bbt-revoke3', "wait_event_type = 'Lock'"), 'revoke --user waits for it');
    $r->send('COMMIT;');
    ok($r->done, 'the rotation commits');
    my ($rc, $stdout, $stderr) = $wait->();
    is($rc, 0, 'revoke --user exits 0') or diag $stderr;
    my $out = $r->finish;
    like($out, qr/^rotated /m, 'the rotation succeeded') or diag $out;
    is(live_of('dave'), 0, 'no token of dave is live: not the rotated one either');
};

subtest 'a rotation and the deletion of its owner at once: neither aborted by a deadlock' => sub {
    for my $case (['personal', 'erin'], ['~erin', 'erin']) {
        my ($kind, $user) = @$case;
        my $id;
        if ($kind eq 'personal') {
            ($id) = two_tokens($user);
        } else {
            $id = sprintf('%012d', 424242424242);
            $env->psql("INSERT INTO bbtoken_tokens (id, project_key, name, project_perm, repo_perm, salt,"
                       . " secret_hash) VALUES ('$id', '~$user', 'erin project', 'PROJECT_READ', 'REPO_READ',"
                       . " repeat('a', 32), repeat('e', 64))");
        }
        my $h = $env->pg_session("hold4$kind");
        $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$id' FOR UPDATE;");
        ok($h->done, "$kind: a third session holds the token");
        my $new = $kind eq 'personal' ? '999999999902' : '999999999903';
        my $r = $env->pg_session("rotate4$kind");
        $r->send("SELECT bbtoken_rotate('$id', '$new', repeat('c', 32), repeat('d', 64)) IS NOT NULL;");
        ok($r->blocked, "$kind: the rotation waits");
        my $d = $env->pg_session("delete4$kind");
        $d->send("DELETE FROM bbtoken_users WHERE name = '$user';");
        ok($d->blocked, "$kind: the deletion waits");
        $h->send('ROLLBACK;');
        ok($h->done && $r->done && $d->done, "$kind: all three finish");
        my $out = $r->finish . $d->finish;
        $h->finish;
        unlike($out, qr/deadlock/, "$kind: no deadlock") or diag $out;
        is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL"
                      . " AND (project_key = '~$user' OR user_id IS NOT NULL AND user_id NOT IN"
                      . " (SELECT id FROM bbtoken_users))"), 0, "$kind: nothing of $user is live");
        $env->user_add($user) if $env->psql("SELECT count(*) FROM bbtoken_users WHERE name = '$user'") == 0;
    }
};

subtest 'a leak report and the deletion of the tokens\' owner at once: neither aborted' => sub {
    $env->user_add('frank');
    my ($lo, $hi) = ('100000000011', '100000000012');
    two_rows_hi_first($lo, $hi, user_id => user_id_sql('frank'));
    report_and_psql(6, '192.0.2.6', $lo, $hi, "DELETE FROM bbtoken_users WHERE name = 'frank';");
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE name = 'frank'"), 0, 'frank is deleted');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'revoked_leaked'"
                  . " AND token_id IN ('$lo', '$hi')"), 2, 'and the report revoked both tokens first');
};

subtest 'a leak report and the deletion or rename of a user with ~name tokens: neither aborted' => sub {
    my $n = 0;
    for my $case (['kate', "DELETE FROM bbtoken_users WHERE name = 'kate';"],
                  ['lena', "UPDATE bbtoken_users SET name = 'lena2' WHERE name = 'lena';"]) {
        my ($user, $sql) = @$case;
        $n++;
        $env->user_add($user);
        my ($lo, $hi) = ("1000000005${n}1", "1000000005${n}2");
        two_rows_hi_first($lo, $hi, project_key => "'~$user'");
        report_and_psql("10$n", "192.0.2.10$n", $lo, $hi, $sql);
        is(live_ids($lo, $hi), 0, "~$user: neither token is live");
    }
};

subtest 'a leak report and bbtoken list --all --revoke at once: none aborted' => sub {
    $env->user_add('jill');
    local %cli_env = (PGOPTIONS => $no_index_cli);
    my $n = 0;
    for my $case (['--owner', 'jill', user_id => user_id_sql('jill')],
                  ['--project', 'LOCKINV', project_key => "'LOCKINV'"]) {
        my ($opt, $who, %holder) = @$case;
        $n++;
        my ($lo, $hi) = ("1000000006${n}1", "1000000006${n}2");
        two_rows_hi_first($lo, $hi, %holder);
        report_and_cli("11$n", "192.0.2.11$n", $lo, $hi, "inventory11$n", 'list', '--all', $opt, $who,
                       '--revoke');
        is(live_ids($lo, $hi), 0, "list --all $opt --revoke: neither token is live");
    }
};

subtest 'a leak report and bbtoken notify revoking unused tokens at once: neither aborted, notify not held' => sub {
    $env->user_add('gina');
    $env->psql("UPDATE bbtoken_policy SET revoke_unused_after = interval '30 days'");
    # Two tokens of gina's unused for 60 days and warned 8 days ago, the
    # higher id first on disk.
    my ($lo, $hi) = ('100000000021', '100000000022');
    for my $id ($hi, $lo) {
        $env->psql("SET session_replication_role = replica;"
                   . " INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash,"
                   . " created_at) SELECT '$id', id, 'gina $id', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
                   . " repeat('f', 64), now() - interval '60 days' FROM bbtoken_users WHERE name = 'gina';"
                   . " INSERT INTO bbtoken_notices (token_id, kind, sent_at)"
                   . " VALUES ('$id', 'unused', now() - interval '8 days')");
    }
    local %cli_env = (PGOPTIONS => $no_index_cli);
    # notify waits for no token's row: it skips the one held, and the
    # report, once it has both, finds the other revoked by notify.
    my $broken = deadlocks();
    my $h = $env->pg_session('hold8');
    $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$lo' FOR UPDATE;");
    ok($h->done, 'a third session holds the lower token');
    my $a = $env->pg_session('leak8')->send(leak_sql('192.0.2.8', $lo, $hi));
    ok($a->blocked, 'the report waits');
    my ($rc, $stdout, $stderr) = cli_bg('notify8', 'notify', '--sendmail', '/bin/true')->();
    is($rc, 0, 'notify meanwhile exits 0') or diag $stderr;
    like($stdout, qr/^revoked $hi /m, '  revoking the higher token');
    unlike($stdout, qr/^revoked $lo /m, '  not the one held');
    $h->send('ROLLBACK;');
    ok($h->done && $a->done, 'the holder and the report finish');
    my $out = $a->finish;
    $h->finish;
    unlike($out, qr/deadlock|ERROR/, 'the report was not aborted') or diag $out;
    is(deadlocks(), $broken, 'no deadlock');
    is(live_of('gina'), 0, 'no token of gina is live');
    $env->psql("UPDATE bbtoken_policy SET revoke_unused_after = NULL");
};

subtest 'bbtoken purge and bbtoken revoke --user at once over expired tokens: neither aborted' => sub {
    $env->user_add('uma');
    # Two tokens of uma's expired two days ago, the higher id first on
    # disk: revoke --user takes live ones, expired too; purge dead ones.
    my ($lo, $hi) = ('100000000071', '100000000072');
    for my $id ($hi, $lo) {
        $env->psql("SET session_replication_role = replica;"
                   . " INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash,"
                   . " created_at, expires_at) SELECT '$id', id, 'uma $id', 'PROJECT_READ', 'REPO_READ',"
                   . " repeat('a', 32), repeat('f', 64), now() - interval '3 days', now() - interval '2 days'"
                   . " FROM bbtoken_users WHERE name = 'uma'");
    }
    local %cli_env = (PGOPTIONS => $no_index_cli);
    my $broken = deadlocks();
    my $h = $env->pg_session('hold12');
    $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$lo' FOR UPDATE;");
    ok($h->done, 'a third session holds the lower token');
    my $r = cli_bg('revoke12', 'revoke', '--user', 'uma');
    ok($env->pg_wait_backend('bbt-revoke12', "wait_event_type = 'Lock'"), 'revoke --user waits');
    my $p = cli_bg('purge12', 'purge', '--expired-before', '1d');
    ok($env->pg_wait_backend('bbt-purge12', "wait_event_type = 'Lock'"), 'purge waits');
    $h->send('ROLLBACK;');
    ok($h->done, 'the holder lets go');
    $h->finish;
    my ($rc, undef, $err) = $r->();
    is($rc, 0, 'revoke --user exits 0') or diag $err;
    ($rc, undef, $err) = $p->();
    is($rc, 0, 'purge exits 0') or diag $err;
    is(deadlocks(), $broken, 'no deadlock: neither was aborted and run again either');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id IN ('$lo', '$hi')"), 0, 'both are purged');
};

subtest 'a rotation and user disable at once: neither aborted' => sub {
    $env->user_add('hana');
    my ($id) = two_tokens('hana');
    my $h = $env->pg_session('hold9');
    $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$id' FOR UPDATE;");
    ok($h->done, 'a third session holds the token');
    my $r = $env->pg_session('rotate9');
    $r->send("SELECT 'rotated ' || COALESCE(bbtoken_rotate('$id', '999999999909', repeat('c', 32),"
             . " repeat('d', 64))::text, 'for good');");
    ok($r->blocked, 'the rotation waits');
    # It waits for the rotation (which holds hana's row FOR NO KEY
    # UPDATE), or it is done: either way the rotation then goes on.
    my $wait = cli_bg('disable9', 'user', 'disable', 'hana');
    ok($env->pg_wait_backend('bbt-disable9', "wait_event_type = 'Lock'")
       || $env->psql("SELECT NOT active FROM bbtoken_users WHERE name = 'hana'") eq 't',
       'user disable waits or is done');
    $h->send('ROLLBACK;');
    ok($h->done && $r->done, 'the holder and the rotation finish');
    my ($rc, undef, $err) = $wait->();
    my $out = $r->finish;
    $h->finish;
    unlike($out, qr/deadlock/, 'no deadlock') or diag $out;
    like($out, qr/^rotated |user is disabled: hana/m, 'the rotation is made, or refused as its owner is disabled')
        or diag $out;
    is($rc, 0, 'user disable exits 0') or diag $err;
    is($env->psql("SELECT active FROM bbtoken_users WHERE name = 'hana'"), 'f', 'hana is disabled');
};

subtest 'two leak reports counted while a window ends: none aborted' => sub {
    # y: the first caller's count, its window ending between the two
    # callers' clocks; r: another address's, long over, after y on disk.
    $env->psql("DELETE FROM bbtoken_leak_throttle");
    my $a = $env->pg_session('thr5a');
    my $b = $env->pg_session('thr5b');
    # As a table where most counts are over would be read: in the order
    # of the rows on disk, not of the window_start index.
    $_->send('SET enable_indexscan = off; SET enable_bitmapscan = off;') for $a, $b;
    $a->send("BEGIN; SELECT 'now ' || (extract(epoch FROM now()) * 1000000)::bigint;");
    ok($a->done, 'the first caller has its clock');
    $b->send("BEGIN; SELECT 'now ' || (extract(epoch FROM now()) * 1000000)::bigint;");
    ok($b->done, 'the second caller has its clock');
    my ($ta) = $a->out =~ /^now (\d+)$/m;
    my ($tb) = $b->out =~ /^now (\d+)$/m;
    ok($tb > $ta, 'the second clock is later');
    my $mid = int(($ta + $tb) / 2);
    $env->psql("INSERT INTO bbtoken_leak_throttle (client_net, window_start, calls) VALUES"
               . " ('192.0.2.50', to_timestamp($mid / 1000000.0) - interval '3600 s', 3),"
               . " ('192.0.2.60', now() - interval '2 hours', 7)");
    my $h = $env->pg_session('hold5');
    $h->send("BEGIN; SELECT 1 FROM bbtoken_leak_throttle WHERE client_net = '192.0.2.60' FOR UPDATE;");
    ok($h->done, 'a third session holds the other address\'s count');
    # Each has waited or finished before the next goes on.
    $a->send("SELECT 'wait ' || bbtoken_api_leak_throttle('192.0.2.50', 30, 3600);");
    ok($a->settled, 'the first caller has counted or waits');
    $b->send("SELECT 'wait ' || bbtoken_api_leak_throttle('192.0.2.70', 30, 3600);");
    ok($b->settled, 'the second caller has counted or waits');
    $h->send('ROLLBACK;');
    $a->send('COMMIT;');
    $b->send('COMMIT;');
    ok($h->done && $a->done && $b->done, 'all three finish');
    my $out = $a->finish . $b->finish;
    $h->finish;
    unlike($out, qr/deadlock|ERROR/, 'neither caller was aborted') or diag $out;
    is(() = $out =~ /^wait 0$/mg, 2, 'both may go on');
};

done_testing;
