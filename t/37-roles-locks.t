# Least privilege: httpd's database roles take no lock that the schema's
# and the CLI's work waits for, and give no revocation its reason.  Any
# role that may connect may take any advisory lock, and the keys were
# computed from known names: a session of the lookup role (whose password
# every repository host holds) that held notify's stopped every `bbtoken
# notify` at once (no notice mailed, no unused token revoked), and one
# that held a project's made each creation of its tokens wait (the REST
# API until its statement_timeout, the CLI for ever).  The rows that stand
# for those locks now (bbtoken_locks) are the tables' owner's alone.  And
# the audit trigger took the reason of a revocation from a setting any
# session may make: the API role's revocations were recorded, and told,
# as for not being used or as leaked.  Nor does notify wait for a token's
# row that such a session holds: bbtoken_touch (no proof of the token
# needed) left uncommitted held the run that would revoke that token for
# not being used, and with it notify's lock, so every later run stopped
# at it; a leak report or a rotation through the API's functions left
# uncommitted held the run that recorded the token's notices.  The API
# role's functions still take a place's turn (and an owner's row) as the
# tables' owner, in the caller's transaction: one left open holds up that
# place's new tokens, so the CLI's create and rotate give up at their
# lock_timeout (the session's, else 30 s), naming that session's pid.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PRJ');
my $SENDMAIL = "$BBT::Env::ROOT/t/mail/sendmail";
my @NOTIFY = ('notify', '--sendmail', $SENDMAIL, '--from', 'x@example.com');
my @LOW = qw(bbtoken_httpd bbtoken_api);
sub as { my ($role, $sql) = @_; return $env->psql_try($sql, user => $role) }
# A project's (slug undef) or a repository's token made through the API's
# function, as the REST API makes it.
my $n = 20;
sub scope_create {
    my ($slug, $name) = @_;
    return sprintf("SELECT bbtoken_api_scope_create('alice', 'PRJ', %s, '%012d', '%s', %s, 'REPO_READ',"
                   . " md5('q'), md5('w') || md5('e'), 10, NULL)",
                   defined $slug ? "'$slug'" : 'NULL', ++$n, $name, defined $slug ? 'NULL' : "'PROJECT_READ'");
}
sub revoked_event {
    my ($id) = @_;
    return $env->psql("SELECT string_agg(event, ' ') FROM bbtoken_audit WHERE token_id = '$id'"
                      . " AND event LIKE 'revoked%'");
}

subtest 'neither low role may read, lock or write the owner\'s locks and reasons' => sub {
    for my $role (@LOW) {
        for my $t (qw(bbtoken_locks bbtoken_revoke_reasons)) {
            my $has = $env->psql("SELECT string_agg(p, ' ') FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE',"
                                 . " 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p"
                                 . " WHERE has_table_privilege('$role', to_regclass('$t'), p) IS NOT FALSE");
            is($has, '', "$role has no privilege on $t");
        }
        for my $sql ("SELECT FROM bbtoken_locks WHERE name = 'notify' FOR UPDATE",
                     "SELECT FROM bbtoken_locks WHERE name = 'notify' FOR KEY SHARE",
                     "INSERT INTO bbtoken_revoke_reasons VALUES (txid_current(), 'unused')") {
            my ($rc, $out, $err) = as($role, $sql);
            ok($rc != 0 && $err =~ /permission denied/, "$role may not: $sql") or diag "exit $rc: $out$err";
        }
    }
};

subtest 'the lookup role holds the advisory locks of old: notify and a project\'s new tokens go on' => sub {
    my $hold = $env->pg_session('hold', user => 'bbtoken_httpd');
    $hold->send("SELECT pg_advisory_lock(hashtext('bbtoken notify')),"
                . " pg_advisory_lock(hashtext('bbtoken_tokens project:PRJ')),"
                . " pg_advisory_lock(hashtext('bbtoken_tokens repo:PRJ/r'));");
    ok($hold->done, 'the lookup role holds them');
    ok($env->pg_wait_backend('bbt-hold', "state = 'idle' AND usename = 'bbtoken_httpd'"), '  idle');
    my ($rc, $out, $err) = $env->cli(@NOTIFY);
    is($rc, 0, 'bbtoken notify runs') or diag "exit $rc: $err";
    ($rc, $out, $err) = $env->psql_try("SET statement_timeout = '10s'; " . scope_create(undef, 'by the API'),
                                       user => 'bbtoken_api');
    is($rc, 0, 'the API creates a project\'s token') or diag "exit $rc: $err";
    ($rc, $out, $err) = $env->psql_try("SET statement_timeout = '10s'; " . scope_create('r', 'by the API'),
                                       user => 'bbtoken_api');
    is($rc, 0, '  and a repository\'s') or diag "exit $rc: $err";
    {
        local $env->{cli_timeout} = 30;
        ($rc, $out, $err) = $env->cli('create', '--project', 'PRJ', '--name', 'by the CLI');
        is($rc, 0, 'bbtoken create --project') or diag "exit $rc: $err";
    }
    $hold->finish;
};

subtest 'a place\'s new tokens still take turns, the first one too' => sub {
    my $max = $env->psql('SELECT max_tokens_per_user FROM bbtoken_policy');
    $env->cli_ok('policy', '--max-tokens', 1);
    my ($a, $b) = map { $env->pg_session($_, user => 'bbtoken_api') } qw(turn-a turn-b);
    $a->send('BEGIN;')->send(scope_create('fresh', 'first') . ';');
    ok($a->done, 'one session makes the repository\'s first token, not committed');
    $b->send(scope_create('fresh', 'second') . ';');
    ok($b->blocked, 'another\'s waits for it');
    $a->send('COMMIT;');
    ok($a->done, 'the first commits');
    ok($b->done, '  and the other goes on');
    like($b->out, qr/already has 1 live tokens, the most the token policy allows/,
         '  to find the place taken') or diag $b->out;
    $a->finish;
    $b->finish;
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE repo_slug = 'fresh'"), 1, 'one token made');
    $env->cli_ok('policy', '--max-tokens', $max);
};

# bbtoken as the superuser with PGOPTIONS $opts ('' for none).
sub cli_opts {
    my ($opts, @args) = @_;
    return $env->cli_env($opts ? { PGOPTIONS => $opts } : {}, '--db', $env->superuser_conninfo, @args);
}

subtest 'the API role holding a place\'s turn or an owner\'s row: the CLI gives up at its lock_timeout, naming it' => sub {
    my $kept = $env->scoped_token_create('--project', 'PRJ', name => 'kept', perms => ['PROJECT_READ']);
    my $kept_id = BBT::Token::parse_token($kept)->{id};
    my (undef, $own_id) = $env->token_create('alice', name => 'own');
    # A project's token made, and one of alice's, through the API's
    # functions as the REST API makes them, in a transaction left open:
    # it holds PRJ's turn and alice's row.
    my $hold = $env->pg_session('turn-held', user => 'bbtoken_api');
    $hold->send('BEGIN;')->send(scope_create(undef, 'held') . ';')
         ->send("SELECT bbtoken_api_create('alice', 'alice', '000000000777', 'held', 'PROJECT_READ', 'REPO_READ',"
                . " repeat('a', 32), repeat('b', 64), NULL);");
    ok($hold->done, 'the API role makes a token of PRJ and one of alice\'s, not committed') or diag $hold->out;
    my $pid = $env->psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'bbt-turn-held'");
    like($pid, qr/^\d+$/, '  (its pid)') or return;
    my $names = qr/\(its pid: $pid; SELECT pg_terminate_backend\($pid\) ends it\)/;
    my ($rc, $out, $err) = cli_opts('-c lock_timeout=1s', 'create', '--project', 'PRJ', '--name', 'held up');
    is("$rc $out", '1 ', 'bbtoken create --project PRJ meanwhile: exit 1, no token printed') or diag $err;
    like($err, qr/^bbtoken: creating the token: gave up after waiting 1s \(lock_timeout\) for a lock that another/,
         '  gives up at the lock_timeout PGOPTIONS sets') or diag $err;
    like($err, $names, '  naming the session that holds PRJ\'s turn') or diag $err;
    like($err, qr/; no token was created\n\z/, '  and what it left') or diag $err;
    ($rc, $out, $err) = cli_opts('-c lock_timeout=1s', 'rotate', $kept_id);
    is("$rc $out", '1 ', 'bbtoken rotate of a token of PRJ: exit 1') or diag $err;
    like($err, qr/^bbtoken: rotating the token: gave up after waiting 1s .*$names.*; token $kept_id was not rotated$/,
         '  names it too') or diag $err;
    ($rc, $out, $err) = cli_opts('-c lock_timeout=1s', 'create', 'alice', '--name', 'held up');
    is("$rc $out", '1 ', 'bbtoken create alice: exit 1') or diag $err;
    like($err, $names, '  naming the session that holds alice\'s row') or diag $err;
    {
        # Without a lock_timeout of the session's, the CLI's own: an
        # end, not a wait for ever.
        local $env->{cli_timeout} = 300;
        ($rc, $out, $err) = cli_opts('', 'create', '--project', 'PRJ', '--name', 'held up');
        is("$rc $out", '1 ', 'bbtoken create --project PRJ, no lock_timeout set: exit 1') or diag $err;
        like($err, qr/^bbtoken: creating the token: gave up after waiting 30s \(lock_timeout\) .*$names/,
             '  after the CLI\'s own 30 s') or diag $err;
    }
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'held up' OR rotated_from = '$kept_id'"), 0,
       'nothing was stored');
    $hold->send('ROLLBACK;');
    ok($hold->done, 'the API role\'s transaction ends');
    $hold->finish;
    ($rc, $out, $err) = cli_opts('-c lock_timeout=1s', 'create', '--project', 'PRJ', '--name', 'held up');
    is($rc, 0, 'then bbtoken create --project PRJ makes its token') or diag $err;
    ($rc, $out, $err) = cli_opts('-c lock_timeout=1s', 'rotate', $kept_id);
    is($rc, 0, '  and bbtoken rotate rotates') or diag $err;
    $env->cli_ok('revoke', $own_id);
};

subtest 'the API role gives its revocations no reason' => sub {
    my @id = map { ($env->token_create('alice', name => "t$_"))[1] } 1 .. 5;
    my ($rc, $out, $err) = as('bbtoken_api', "SELECT set_config('bbtoken.revoke_reason', 'unused', false);"
                                             . " SELECT bbtoken_api_revoke('alice', 'alice', '$id[0]')");
    is($rc, 0, 'reason "unused", then bbtoken_api_revoke') or diag $err;
    is(revoked_event($id[0]), 'revoked', '  a plain revocation');
    ($rc, $out, $err) = as('bbtoken_api', "SELECT set_config('bbtoken.revoke_reason', 'leaked', true),"
                                          . " bbtoken_api_revoke('alice', 'alice', '$id[1]')");
    is($rc, 0, 'reason "leaked", then bbtoken_api_revoke') or diag $err;
    is(revoked_event($id[1]), 'revoked', '  a plain revocation');
    ($rc, $out, $err) = as('bbtoken_api', "BEGIN; SELECT bbtoken_api_revoke_leaked('192.0.2.9', ARRAY[id],"
                                          . " ARRAY[secret_hash]) FROM bbtoken_tokens WHERE id = '$id[2]';"
                                          . " SELECT set_config('bbtoken.revoke_reason', 'unused', true);"
                                          . " SELECT bbtoken_api_revoke('alice', 'alice', '$id[3]'); COMMIT;");
    is($rc, 0, 'a leak report, then bbtoken_api_revoke in the same transaction') or diag $err;
    is(revoked_event($id[2]), 'revoked_leaked', '  the leak report\'s revocation: as leaked');
    is(revoked_event($id[3]), 'revoked', '  the other plain');
    $env->psql("SELECT set_config('bbtoken.revoke_reason', 'unused', true);"
               . " UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id[4]'");
    is(revoked_event($id[4]), 'revoked_unused', 'the owner\'s session still gives its reason');
};

# bbtoken notify with its mail kept in maildir $name: (exit code, stdout,
# stderr).  Killed after a minute: a run that waits for a lock fails.
sub notify_to {
    my ($name) = @_;
    my $d = $env->dir . "/mail-$name";
    make_path($d);
    return $env->cli_env({ BBT_MAILDIR => $d }, '--db', $env->superuser_conninfo, @NOTIFY);
}
sub live { $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$_[0]' AND revoked_at IS NULL") }
sub told {
    my ($id) = @_;
    return $env->psql("SELECT string_agg(kind, ' ' ORDER BY kind) FROM bbtoken_notices WHERE token_id = '$id'");
}

subtest 'the lookup role holding tokens\' rows: notify waits for none, and skips the one due for revocation' => sub {
    $env->user_add('gina', '--email', 'gina@example.com');
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    # Two tokens due for revocation for not being used (idle 40 days,
    # warned 8 days ago), one that expired an hour ago and one that
    # expires in 3 days: a notice each.
    my @due = map { ($env->token_insert('gina', name => "idle $_", created => "now() - interval '40 days'"))[1] }
        1 .. 2;
    $env->psql("INSERT INTO bbtoken_notices (token_id, kind, sent_at) VALUES ('$_', 'unused',"
               . " now() - interval '8 days')") for @due;
    my (undef, $expired) = $env->token_insert('gina', name => 'expired', created => "now() - interval '10 days'",
                                              expires => "now() - interval '1 hour'");
    my (undef, $soon) = $env->token_insert('gina', name => 'soon', created => "now() - interval '10 days'",
                                           expires => "now() + interval '3 days'");
    # A session of the lookup role writes a use of the first due token (a
    # use of any age is due with an interval of 0), an expired token's
    # refusal and a new address group of the other, and stays idle in
    # its transaction, holding their rows.
    my $hold = $env->pg_session('touch', user => 'bbtoken_httpd');
    $hold->send("BEGIN; SELECT bbtoken_touch('$due[0]', NULL, 0), bbtoken_note_expired('$expired', '192.0.2.1', 0),"
                . " bbtoken_note_net('$soon', '192.0.2.0/24', '192.0.2.1');");
    ok($hold->done, 'the lookup role writes them, not committed');
    is($hold->out, "t|t|t\n", '  each written');
    my ($rc, $out, $err) = notify_to('touch');
    is($rc, 0, 'bbtoken notify runs to its end meanwhile') or diag "exit $rc: $err";
    like($out, qr/^revoked $due[1] of gina /m, '  revokes the due token nobody holds');
    unlike($out, qr/^revoked $due[0] /m, '  not the one in use');
    like($out, qr/^mailed gina <gina\@example\.com>: 3 notices$/m, '  and mails its owner');
    is(live($due[0]) . live($due[1]), '10', 'the token in use is live, the other revoked');
    is(told($expired), 'expired', 'the expired token\'s notice recorded');
    is(told($soon), 'expires_7d', 'the other\'s too');
    ($rc, $out, $err) = notify_to('touch');
    is("$rc $out", '0 ', 'a run after it, the session still there: nothing to do, nothing said')
        or diag "exit $rc: $out$err";
    # The use is never written: the next run finds the token still due.
    $hold->send('ROLLBACK;');
    ok($hold->done, 'the lookup role\'s transaction ends, writing nothing');
    $hold->finish;
    ($rc, $out, $err) = notify_to('touch');
    is($rc, 0, 'the next run') or diag "exit $rc: $err";
    like($out, qr/^revoked $due[0] of gina /m, '  revokes it');
    is(live($due[0]), 0, '  and it is revoked');
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

subtest 'the API role holding a token\'s row FOR UPDATE: notify goes on, and records that copy next time' => sub {
    my (undef, $id) = $env->token_insert('gina', name => 'leak', created => "now() - interval '10 days'",
                                         expires => "now() + interval '3 days'");
    my $hold = $env->pg_session('leak', user => 'bbtoken_api');
    $hold->send("BEGIN; SELECT bbtoken_api_revoke_leaked('192.0.2.9', ARRAY[id], ARRAY[secret_hash]) IS NOT NULL"
                . " FROM bbtoken_tokens WHERE id = '$id';");
    ok($hold->done, 'a leak report of a token that expires in 3 days, not committed');
    is($hold->out, "t\n", '  made');
    my ($rc, $out, $err) = notify_to('leak');
    is($rc, 0, 'bbtoken notify runs to its end meanwhile') or diag "exit $rc: $err";
    is($out, "mailed gina <gina\@example.com>: 1 notice\n", '  mailing the token\'s owner');
    is(told($id), '', '  its notice not recorded');
    is($env->psql("SELECT count(*) FROM bbtoken_notice_copies WHERE token_id = '$id'"), 0, '  nor its copy');
    $hold->send('ROLLBACK;');
    ok($hold->done, 'the report is taken back');
    $hold->finish;
    ($rc, $out, $err) = notify_to('leak');
    is("$rc $out", "0 mailed gina <gina\@example.com>: 1 notice\n", 'the next run mails it again')
        or diag $err;
    is(told($id), 'expires_7d', '  and records it');
};

subtest 'notify\'s lock is held by a session, and given back' => sub {
    my $fake = $env->pg_session('fake');
    $fake->send("UPDATE bbtoken_locks SET (holder_pid, holder_role, holder_start) ="
                . " (SELECT pid, usesysid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())"
                . " WHERE name = 'notify' RETURNING holder_pid;");
    ok($fake->done, 'a session of the owner\'s holds it');
    my ($pid) = $fake->out =~ /^(\d+)$/m;
    ok($pid, '  (its pid)') or return;
    my ($rc, $out, $err) = $env->cli(@NOTIFY);
    is($rc, 1, 'bbtoken notify meanwhile: exit 1');
    like($err, qr/another bbtoken notify is running \(its database session's pid: \Q$pid\E\)/, '  says why')
        or diag $err;
    $fake->finish;
    my $gone = 0;
    for (1 .. 1200) {
        last if $gone = $env->psql("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") == 0;
        select undef, undef, undef, 0.05;
    }
    ok($gone, 'that session ends');
    ($rc, $out, $err) = $env->cli(@NOTIFY);
    is($rc, 0, 'then notify runs: a lock whose session is gone is taken over') or diag "exit $rc: $err";
    is($env->psql("SELECT count(*) FROM bbtoken_locks WHERE name = 'notify' AND holder_pid IS NOT NULL"), 0,
       '  and given back at the end');
};

done_testing;
