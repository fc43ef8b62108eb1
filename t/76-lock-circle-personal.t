# `bbtoken grant` of user bea on the personal project ~pam, while pam is
# renamed or deleted and changes queue on bea's row.  A rename or a
# deletion of pam holds pam's row, then takes the rows of ~pam's grantees
# (bea's, who has a grant there already) FOR SHARE; the grant took bea's
# row FOR SHARE, then pam's (the project keeps a user).  With a change of
# bea's row held (a rotation of a token of ~bea, or of bea's own, FOR NO
# KEY UPDATE) and a second queued behind the waiting grant (a rotation, a
# disable), the rename's request for bea's row queued behind the second:
# once the first committed, the grant held bea's row and waited for pam's,
# the second for the grant, the rename for the second, and PostgreSQL
# aborted one (40P01).  The grant now takes pam's row first: it waits for
# the rename, holding nothing the rename needs.
#
# Each race is made deterministic with sessions of psql, as t/76-lock-order
# makes them: pg_blocking_pids says who waits for whom, and the deadlocks
# in PostgreSQL's log are counted (the CLI runs an aborted transaction
# again).  No sleep decides anything.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;

sub deadlocks { scalar(() = $env->pg_log_text =~ /deadlock detected/g) }

# The sessions (application names without bbt-) that backend $app waits
# for, by name, sorted.
sub blockers_of {
    my ($app) = @_;
    return $env->psql("SELECT string_agg(substr(b.application_name, 5), ', '"
                      . " ORDER BY b.application_name) FROM pg_stat_activity s"
                      . " CROSS JOIN unnest(pg_blocking_pids(s.pid)) p"
                      . " JOIN pg_stat_activity b ON b.pid = p"
                      . " WHERE s.application_name = 'bbt-$app'", db => 'postgres');
}

my $n = 0;
sub rotate_sql {
    my ($id) = @_;
    my $new = 999999999800 + ++$n;
    return "SELECT 'rotated ' || COALESCE(bbtoken_rotate('$id', '$new', repeat('c', 32),"
         . " repeat('d', 64))::text, 'for good');";
}

# Case $c: users pam$c and bea$c, bea$c granted REPO_READ on ~pam$c/r.
# $first holds bea$c's row; the grant of PROJECT_READ on ~pam$c to bea$c
# waits for it; $second queues behind the grant; $change (a rename or a
# deletion of pam$c) comes last.  The first commits, then the second and
# the change.  What the sessions printed, and the grant's exit code and
# stderr.
sub race {
    my ($c, $first, $second, $change) = @_;
    my ($pam, $bea) = ("pam$c", "bea$c");
    my $before = deadlocks();
    my $h = $env->pg_session("first$c");
    ok($h->send("BEGIN; $first")->done, "$c: the first change holds $bea\'s row");
    my $wait = $env->cli_bg("grant$c", {}, 'grant', $bea, 'PROJECT_READ', "~$pam");
    ok($env->pg_wait_backend("bbt-grant$c", "wait_event_type = 'Lock'"), "$c: the grant waits");
    is(blockers_of("grant$c"), "first$c", "$c: the grant waits for the first change");
    my $s = $env->pg_session("second$c");
    is($s->send("BEGIN; $second")->settled, 'blocked', "$c: the second change waits");
    my $r = $env->pg_session("change$c");
    is($r->send("BEGIN; $change")->settled, 'blocked', "$c: the change of $pam waits");
    is(blockers_of("change$c"), "grant$c", "$c: the change of $pam waits for the grant (on $pam\'s row),"
       . " not for $bea\'s row");
    ok($h->send('COMMIT;')->done, "$c: the first commits");
    my ($rc, undef, $err) = $wait->();
    # Which of the two takes bea's row first is down to timing: neither
    # waits for what the other holds.
    $_->send('COMMIT;') for $s, $r;
    ok($s->done && $r->done, "$c: the second and the change go on and commit");
    my $out = $h->finish . $s->finish . $r->finish;
    unlike($out, qr/deadlock|ERROR/, "$c: no session was aborted") or diag $out;
    is(deadlocks() - $before, 0, "$c: no deadlock");
    return ($out, $rc, $err);
}

subtest 'grant on ~pam, rotations of two tokens of ~bea, rename of pam' => sub {
    $env->user_add($_) for qw(pam1 bea1);
    $env->grant('bea1', 'REPO_READ', '~pam1/r');
    my @ids = map {
        my $id = "10000000000$_";
        $env->psql("SELECT bbtoken_api_scope_create('bea1', '~bea1', NULL, '$id', 'one$_', 'PROJECT_READ',"
                   . " 'REPO_READ', repeat('c', 32), repeat('d', 64), 30)");
        $id;
    } 1, 2;
    my ($out, $rc, $err) = race(1, rotate_sql($ids[0]), rotate_sql($ids[1]),
                                "UPDATE bbtoken_users SET name = 'pam1x' WHERE name = 'pam1';");
    is($rc, 0, 'the grant was made before the rename') or diag $err;
    is(scalar(() = $out =~ /^rotated /mg), 2, 'both rotations made') or diag $out;
    is($env->psql("SELECT count(*) FROM bbtoken_project_grants g JOIN bbtoken_users u ON u.id = g.user_id"
                  . " WHERE u.name = 'bea1'")
       + $env->psql("SELECT count(*) FROM bbtoken_repo_grants g JOIN bbtoken_users u ON u.id = g.user_id"
                    . " WHERE u.name = 'bea1'"), 0, 'the rename took back the grants on ~pam1');
};

subtest 'grant on ~pam, a rotation of a token of bea, disable of bea, deletion of pam' => sub {
    $env->user_add($_) for qw(pam2 bea2);
    $env->grant('bea2', 'REPO_READ', '~pam2/r');
    my (undef, $id) = $env->token_insert('bea2', name => 'bea2 own');
    my ($out, $rc, $err) = race(2, rotate_sql($id), "UPDATE bbtoken_users SET active = false WHERE name = 'bea2';",
                                "DELETE FROM bbtoken_users WHERE name = 'pam2';");
    is($rc, 0, 'the grant was made before the deletion') or diag $err;
    like($out, qr/^rotated /m, 'the rotation made') or diag $out;
    is($env->psql("SELECT active FROM bbtoken_users WHERE name = 'bea2'"), 'f', 'bea2 is disabled');
    is($env->psql("SELECT count(*) FROM bbtoken_project_grants WHERE project_key = '~pam2'")
       + $env->psql("SELECT count(*) FROM bbtoken_repo_grants WHERE project_key = '~pam2'"), 0,
       'the deletion took back the grants on ~pam2');
};

# The CLI in the background as $app: 'done' once it has ended, 'blocked'
# while its backend waits for a lock, '' after a minute.
sub cli_settled {
    my ($app) = @_;
    for (1 .. 1200) {
        return 'done' if -e $env->dir . "/run/cli-$app";
        return 'blocked' if $env->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bbt-$app'"
                                       . " AND wait_event_type = 'Lock'", db => 'postgres') > 0;
        select undef, undef, undef, 0.05;
    }
    return '';
}

# The grant takes the project's user's row first, but FOR KEY SHARE: taken
# FOR SHARE, it waited for a rotation of the user's token, holding
# nothing, then took the grantee's row; were the grantee renamed meanwhile
# (its row held, then, as a grantee on ~grantee, the user's FOR SHARE,
# queued behind a second rotation), the grant, the second rotation and
# the rename waited in a circle.
subtest 'grant on ~pam while pam\'s token is rotated and bea, a grantee on ~bea, is renamed' => sub {
    $env->user_add($_) for qw(pam3 bea3);
    $env->grant('pam3', 'REPO_READ', '~bea3/r');
    my @ids = map { ($env->token_insert('pam3', name => "pam3 own $_"))[1] } 1, 2;
    my $before = deadlocks();
    my $h = $env->pg_session('first3');
    ok($h->send('BEGIN; ' . rotate_sql($ids[0]))->done, 'a rotation holds pam3\'s row');
    my $wait = $env->cli_bg('grant3', {}, 'grant', 'bea3', 'PROJECT_READ', '~pam3');
    is(cli_settled('grant3'), 'done', 'the grant waits for no rotation of pam3\'s tokens');
    my $s = $env->pg_session('second3');
    $s->send('BEGIN; ' . rotate_sql($ids[1]));
    my $r = $env->pg_session('change3');
    $r->send("BEGIN; UPDATE bbtoken_users SET name = 'bea3x' WHERE name = 'bea3';");
    $s->settled;
    $r->settled;
    $_->send('COMMIT;') for $h, $s, $r;
    ok($h->done && $s->done && $r->done, 'the rotations and the rename commit');
    my ($rc, undef, $err) = $wait->();
    is($rc, 0, 'the grant was made') or diag $err;
    my $out = $h->finish . $s->finish . $r->finish;
    unlike($out, qr/deadlock|ERROR/, 'no session was aborted') or diag $out;
    is(deadlocks() - $before, 0, 'no deadlock');
};

done_testing;
