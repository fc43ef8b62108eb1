# A rotation and a change that rewrites the rows of bbtoken_lookup of the
# rotated token's holder (a disable, an admin flag or a rename of the
# owner; a grant added, lowered or removed; a rename of the user of a
# ~name token) take the holder's row and the lookup rows in one order, so
# PostgreSQL never aborts one of them to break a deadlock (40P01).  As in
# t/76-lock-order: each race is made with sessions of psql, a third
# session holding the rotated token's lookup row until the rotation and
# the change both wait (pg_stat_activity says so), and no sleep decides
# anything; the CLI runs an aborted transaction again, so the deadlocks
# in PostgreSQL's log are counted too.  A rotation that took no holder's
# row before the lookup row fails every race; one that took the owner's
# FOR KEY SHARE alone (migration 24) the grants' (an update of a user's
# row waits for KEY SHARE: sql/migrations/0035_lookup_order.sql).  A
# grant change, or the removal of the grants on ~name with user name,
# and the deletion of a grantee take the grantee's row and the grant in
# one order too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;

sub deadlocks { scalar(() = $env->pg_log_text =~ /deadlock detected/g) }

sub cli_bg { $env->cli_bg(shift, {}, @_) }

# Rotate token $id into $new while the change $change (['cli', ARGS] or
# ['sql', SQL]) is made: the rotation reaches the token's lookup row,
# which a third session holds, then the change is started and waits too;
# then the hold goes.  Both end well and no deadlock was broken.
my $n = 0;
sub race {
    my ($id, $new, $change) = @_;
    $n++;
    my $broken = deadlocks();
    my $h = $env->pg_session("hold$n");
    $h->send("BEGIN; SELECT 1 FROM bbtoken_lookup WHERE id = '$id' FOR NO KEY UPDATE;");
    ok($h->done, 'a third session holds the token\'s lookup row');
    my $r = $env->pg_session("rotate$n");
    $r->send("SELECT 'rotated ' || COALESCE(bbtoken_rotate('$id', '$new', repeat('c', 32),"
             . " repeat('d', 64))::text, 'for good');");
    ok($r->blocked, 'the rotation waits');
    my ($kind, @what) = @$change;
    my ($wait, $s);
    if ($kind eq 'cli') {
        $wait = cli_bg("change$n", @what);
        ok($env->pg_wait_backend("bbt-change$n", "wait_event_type = 'Lock'"), "$what[0] waits");
    } else {
        $s = $env->pg_session("change$n");
        $s->send($what[0]);
        ok($s->blocked, 'the change waits');
    }
    $h->send('ROLLBACK;');
    ok($h->done && $r->done, 'the holder and the rotation finish');
    my $out = $r->finish;
    $h->finish;
    like($out, qr/^rotated /m, 'the rotation was made, not aborted') or diag $out;
    if ($wait) {
        my ($rc, undef, $err) = $wait->();
        is($rc, 0, "$what[0] exits 0") or diag $err;
    } else {
        ok($s->done, 'the change finishes');
        my $o = $s->finish;
        unlike($o, qr/ERROR|deadlock/, 'the change was not aborted') or diag $o;
    }
    is(deadlocks(), $broken, 'no deadlock: neither was aborted and run again either');
}

sub uid { "(SELECT id FROM bbtoken_users WHERE name = '$_[0]')" }

subtest 'a rotation and a change of its owner at once: neither aborted' => sub {
    my $m = 0;
    for my $case (['mia', ['cli', 'user', 'disable', 'mia']],
                  ['mina', ['sql', "UPDATE bbtoken_users SET is_admin = true WHERE name = 'mina';"]],
                  ['nia', ['sql', "UPDATE bbtoken_users SET name = 'nia2' WHERE name = 'nia';"]]) {
        my ($user, $change) = @$case;
        $env->user_add($user);
        my (undef, $id) = $env->token_insert($user, name => "$user one");
        $env->token_insert($user, name => "$user two");
        race($id, sprintf('99999999910%d', ++$m), $change);
    }
    is($env->psql("SELECT active FROM bbtoken_users WHERE name = 'mia'"), 'f', 'mia is disabled');
    is($env->psql("SELECT is_admin FROM bbtoken_users WHERE name = 'mina'"), 't', 'mina is an admin');
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE name = 'nia2'"), 1, 'nia is nia2');
};

subtest 'a rotation and a grant of its owner added, lowered or removed at once: neither aborted' => sub {
    my $m = 0;
    $env->user_add($_) for qw(oda ola ona);
    $env->grant('ola', 'PROJECT_WRITE', 'LKO');
    $env->grant('ona', 'PROJECT_WRITE', 'LKO');
    for my $case (['oda', 'grant', 'oda', 'PROJECT_WRITE', 'LKO'],
                  ['ola', 'grant', 'ola', 'PROJECT_READ', 'LKO'],
                  ['ona', 'ungrant', 'ona', 'LKO']) {
        my ($user, @args) = @$case;
        my (undef, $id) = $env->token_insert($user, name => "$args[0] one");
        $env->token_insert($user, name => "$args[0] two");
        race($id, sprintf('99999999920%d', ++$m), ['cli', @args]);
    }
    is($env->psql("SELECT string_agg(u.name || ':' || g.permission, ' ' ORDER BY u.name)"
                  . " FROM bbtoken_project_grants g JOIN bbtoken_users u ON u.id = g.user_id"
                  . " WHERE g.project_key = 'LKO'"), 'oda:PROJECT_WRITE ola:PROJECT_READ',
       'the grants are as changed');
};

subtest 'a rotation of a ~name token and a rename of user name at once: neither aborted' => sub {
    $env->user_add('pia');
    my $id = '424242424301';
    $env->psql("INSERT INTO bbtoken_tokens (id, project_key, name, project_perm, repo_perm, salt,"
               . " secret_hash) VALUES ('$id', '~pia', 'pia project', 'PROJECT_READ', 'REPO_READ',"
               . " repeat('a', 32), repeat('e', 64))");
    race($id, '999999999301', ['sql', "UPDATE bbtoken_users SET name = 'pia2' WHERE name = 'pia';"]);
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE project_key = '~pia' AND revoked_at IS NULL"),
       0, 'no token of ~pia is live: not the rotated one either');
};

# A grant of user $user lowered or removed (the CLI's @args) while the
# deletion of $user waits for a third session's hold on the user's row,
# and starts first when it goes: a grant change that changed the grant
# before it took the user's row would hold the grant the deletion
# deletes, and wait for the user's row the deletion holds.  Neither is
# aborted by a deadlock; the change, made after the deletion, is refused
# with $refused.
sub grant_and_delete {
    my ($user, $refused, @args) = @_;
    $n++;
    my $broken = deadlocks();
    my $h = $env->pg_session("hold$n");
    $h->send("BEGIN; SELECT 1 FROM bbtoken_users WHERE name = '$user' FOR NO KEY UPDATE;");
    ok($h->done, "$args[0]: a third session holds the user's row");
    my $d = $env->pg_session("delete$n");
    $d->send("DELETE FROM bbtoken_users WHERE name = '$user';");
    ok($d->blocked, "$args[0]: the deletion waits");
    my $wait = cli_bg("change$n", @args);
    ok($env->pg_wait_backend("bbt-change$n", "wait_event_type = 'Lock'", 1), "$args[0] waits");
    $h->send('ROLLBACK;');
    ok($h->done && $d->done, "$args[0]: the holder and the deletion finish");
    my $out = $d->finish;
    $h->finish;
    unlike($out, qr/ERROR|deadlock/, "$args[0]: the deletion was not aborted") or diag $out;
    my ($rc, undef, $err) = $wait->();
    isnt($rc, 0, "$args[0] is refused: the user is gone");
    like($err, $refused, "$args[0] says so") or diag $err;
    is(deadlocks(), $broken, "$args[0]: no deadlock: neither was aborted and run again either");
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE name = '$user'"), 0, "$user is deleted");
}

subtest 'a grant lowered or removed and the deletion of its user at once: neither aborted' => sub {
    $env->user_add($_) for qw(rua ruth);
    $env->grant($_, 'PROJECT_WRITE', 'LKD') for qw(rua ruth);
    grant_and_delete('rua', qr/^bbtoken: no such user: rua$/m, 'grant', 'rua', 'PROJECT_READ', 'LKD');
    grant_and_delete('ruth', qr/^bbtoken: ruth has no grant on LKD$/m, 'ungrant', 'ruth', 'LKD');
};

subtest 'a rename or deletion of user name and the deletion of a user granted on ~name at once: neither aborted' => sub {
    my $m = 0;
    for my $case (['sia', "UPDATE bbtoken_users SET name = 'sia2' WHERE name = 'sia';"],
                  ['tia', "DELETE FROM bbtoken_users WHERE name = 'tia';"]) {
        my ($owner, $sql) = @$case;
        my $grantee = "${owner}g";
        $m++;
        $n++;
        $env->user_add($_) for $owner, $grantee;
        $env->grant($grantee, 'PROJECT_WRITE', "~$owner");
        my $broken = deadlocks();
        # The deletion of the grantee waits for a third session's hold on
        # its row, and starts first when it goes; the change of user name
        # then takes the grantee's row too: had it deleted the grant on
        # ~name first, it would hold what the deletion deletes.
        my $h = $env->pg_session("hold$n");
        $h->send("BEGIN; SELECT 1 FROM bbtoken_users WHERE name = '$grantee' FOR NO KEY UPDATE;");
        ok($h->done, "$owner: a third session holds the grantee's row");
        my $d = $env->pg_session("delete$n");
        $d->send("DELETE FROM bbtoken_users WHERE name = '$grantee';");
        ok($d->blocked, "$owner: the deletion of the grantee waits");
        my $c = $env->pg_session("change$n");
        $c->send($sql);
        ok($c->blocked, "$owner: the change of user $owner waits");
        $h->send('ROLLBACK;');
        ok($h->done && $d->done && $c->done, "$owner: all three finish");
        my $out = $d->finish . $c->finish;
        $h->finish;
        unlike($out, qr/ERROR|deadlock/, "$owner: neither was aborted") or diag $out;
        is(deadlocks(), $broken, "$owner: no deadlock");
        is($env->psql("SELECT count(*) FROM bbtoken_project_grants WHERE project_key = '~$owner'"), 0,
           "$owner: no grant on ~$owner is left");
    }
};

# Every lookup row as the live tables compute it: what each change and
# rotation wrote is what they made.
my ($rc, $out, $err) = $env->cli('db', 'check');
is($rc, 0, 'bbtoken db check: every lookup row is true') or diag "$out$err";

done_testing;
