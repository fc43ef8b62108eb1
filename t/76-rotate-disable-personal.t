# `bbtoken user disable` while the tokens of the user's personal project
# (~slug) are rotated or made: httpd takes such a token only while its
# user is active, so the disable stops them too.  A rotation of one took
# the user's row FOR SHARE (bbtoken_rotate), and so did every new token of
# the project, refused at the policy's limit or not
# (bbtoken_tokens_personal); SHARE does not queue behind an update of the
# row that waits (as t/76-rotate-disable tells of KEY SHARE), so with such
# changes always in flight the disable waited as long as they came.
#
# Eight loops rotate tokens of ~pam through the REST API (pam, or anyone
# with her password) while pam is disabled: the disable commits while they
# run and every rotation asked after it is refused.  Nothing is timed: the
# loops run until they are refused or told to stop, and they are told to
# stop only once the disable has committed or they have rotated 1000 times
# since it began.  What the disable waited for meanwhile (pg_stat_activity)
# is noted.  New tokens refused at the limit are too quick in the database
# for such loops to keep the row locked; so, as t/76-lock-order races
# them, psql sessions hold one change while the disable waits, and a
# second change, a rotation or a creation at the limit, waits behind the
# disable (pg_blocking_pids) instead of taking the row beside the first.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);
use BBT::Util qw(spew);

my $LOOPS = 8;
my $BOUND = 1000;
my $env = rest_env(passwords => [pam => 'pam-Pa55-word'], users => [qw(pam dee bea)]);
my $run = $env->dir . '/run';
my $R = '/rest/access-tokens/1.0/projects';
my %XSRF = ('X-Atlassian-Token' => 'no-check');
# The API's answers to a caller who is not an active user: its own look
# at the caller, or bbtoken_api_may's.
my $NOT_ACTIVE = qr/401 (You are not permitted to manage access tokens\.|not permitted: pam is not an active user)/;

sub count_of {
    my ($key) = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE project_key = '$key'");
}

# Token $id of ~pam rotated by pam through the REST API.
sub rotate {
    my ($id) = @_;
    return $env->rest(POST => "$R/~pam/$id/rotate", as => 'pam', headers => \%XSRF);
}

subtest 'user disable while the personal project\'s tokens are rotated in loops' => sub {
    my @ids = map {
        my $res = $env->rest(PUT => "$R/~pam", as => 'pam', headers => \%XSRF,
                             json => { name => "pam loop $_", permissions => ['PROJECT_READ'] });
        is($res->{status}, 200, "~pam: token $_ made") or diag $res->{content};
        $res->{json}{id};
    } 1 .. $LOOPS;
    my ($disabled, $stop) = ("$run/t76p-disabled", "$run/t76p-stop");
    # Loop $i rotates its token until an answer is not 200, a rotation
    # asked once the disable was seen committed is made, or it is told to
    # stop: "refused STATUS MESSAGE", "made after the disable" or
    # "stopped", then the loop's live token.  A rotation asked before the
    # disable commits may wait for it and then be made: httpd refuses the
    # token while its user is disabled, as it does the one before.
    my @loops = map {
        my ($i, $cur) = ($_, $ids[$_ - 1]);
        BBT::Util::in_background($run, sub {
            delete $env->{ua};    # a connection of its own
            my $made = 0;
            while (!-e $stop) {
                my $after = -e $disabled;
                my $res = rotate($cur);
                if ($res->{status} != 200) {
                    my $msg = ref $res->{json} eq 'HASH' ? $res->{json}{errors}[0]{message} // '' : '';
                    return "refused $res->{status} $msg\n$cur";
                }
                $cur = $res->{json}{id};
                return "made after the disable\n$cur" if $after;
                spew("$run/t76p-loop$i", '') if ++$made == 1;
            }
            return "stopped\n$cur";
        });
    } 1 .. $LOOPS;
    my $all = 0;
    for (1 .. 1200) {
        last if ($all = grep { -e "$run/t76p-loop$_" } 1 .. $LOOPS) == $LOOPS;
        select undef, undef, undef, 0.05;
    }
    is($all, $LOOPS, "all $LOOPS loops rotate");
    my $from = count_of('~pam');
    my $wait = $env->cli_bg('disable', {}, 'user', 'disable', 'pam');
    # Until the disable commits, or the loops have rotated $BOUND times
    # more; how the disable was seen waiting meanwhile.
    my ($committed, $made, %how) = (0, 0);
    do {
        select undef, undef, undef, 0.05;
        my $seen = $env->psql("SELECT wait_event_type || ':' || wait_event FROM pg_stat_activity"
                              . " WHERE application_name = 'bbt-disable' AND wait_event_type = 'Lock'",
                              db => 'postgres');
        $how{$seen}++ if length $seen;
        $committed = $env->psql("SELECT NOT active FROM bbtoken_users WHERE name = 'pam'") eq 't';
        $made = count_of('~pam') - $from;
    } until $committed || $made >= $BOUND;
    spew($disabled, '') if $committed;
    note('the disable was seen waiting on ' . (join(', ', map {"$_ ($how{$_} times)"} sort keys %how) || 'nothing'));
    ok($committed, "user disable committed while the loops ran ($made rotations after it began; the bound: $BOUND)");
    # Once it has committed, the next rotation of each loop ends it.
    spew($stop, '') unless $committed;
    my ($rc, undef, $err) = $wait->();
    is($rc, 0, 'user disable exits 0') or diag $err;
    my @live;
    for my $i (1 .. $LOOPS) {
        my ($how, $cur) = split /\n/, $loops[$i - 1]->(), 2;
        like($how, qr/^refused $NOT_ACTIVE$/, "loop $i: its rotation asked once the disable committed is refused")
            or diag $how;
        push @live, $cur // '';
    }
    is($env->psql("SELECT string_agg(id, ' ' ORDER BY id) FROM bbtoken_tokens"
                  . " WHERE project_key = '~pam' AND revoked_at IS NULL"),
       join(' ', sort @live), 'the live tokens are the loops\' last ones');
    my $res = rotate($live[0]);
    like("$res->{status} " . ($res->{json}{errors}[0]{message} // ''), qr/^$NOT_ACTIVE$/,
         'a rotation asked now is refused');
};

# A token of ~$user (of its repository $repo, if given), as
# bbtoken_api_scope_create makes one for $user: the statement, and the
# token's id.
my $n = 0;
sub create_sql {
    my ($user, $repo) = @_;
    my $id = 999999999700 + ++$n;
    # A repository's token has no project level.
    my ($slug, $level) = defined $repo ? ("'$repo'", 'NULL') : ('NULL', "'PROJECT_READ'");
    return ("SELECT 'made ' || bbtoken_api_scope_create('$user', '~$user', $slug, '$id', 'made $n',"
            . " $level, 'REPO_READ', repeat('c', 32), repeat('d', 64), 30);", $id);
}

sub rotate_sql {
    my ($id) = @_;
    my $new = 999999999800 + ++$n;
    return "SELECT 'rotated ' || bbtoken_rotate('$id', '$new', repeat('c', 32), repeat('d', 64));";
}

# $user's personal project changed by two sessions, each in a transaction
# of its own: $first, then `user disable $user`, which waits for it, then
# $second, which waits for the disable (as pg_blocking_pids tells), not
# for the first; the first committed, the disable commits before the
# second goes on.  What the sessions printed.
sub disable_between {
    my ($what, $user, $first, $second) = @_;
    my $h = $env->pg_session("first-$user-$n");
    $h->send("BEGIN; $first");
    ok($h->done, "$what: the first holds $user\'s row");
    my $app = "disable-$user-$n";
    my $wait = $env->cli_bg($app, {}, 'user', 'disable', $user);
    ok($env->pg_wait_backend("bbt-$app", "wait_event_type = 'Lock'"), "$what: the disable waits");
    my $s = $env->pg_session("second-$user-$n");
    $s->send("BEGIN; $second");
    my $how = $s->settled;
    my $blockers = $env->psql("SELECT string_agg(CASE b WHEN d.pid THEN 'the disable' WHEN f.pid THEN 'the first'"
                              . " ELSE b::text END, ', ' ORDER BY b) FROM pg_stat_activity s"
                              . " CROSS JOIN unnest(pg_blocking_pids(s.pid)) b,"
                              . " pg_stat_activity d, pg_stat_activity f"
                              . " WHERE s.application_name = 'bbt-second-$user-$n'"
                              . " AND d.application_name = 'bbt-$app'"
                              . " AND f.application_name = 'bbt-first-$user-$n'", db => 'postgres');
    is($how eq 'blocked' ? $blockers : $how, 'the disable', "$what: the second waits for the disable");
    ok($h->send('COMMIT;')->done, "$what: the first commits");
    ok($s->done, "$what: the second goes on");
    is($env->psql("SELECT active FROM bbtoken_users WHERE name = '$user'"), 'f',
       "$what: by then the disable has committed");
    ok($s->send('COMMIT;')->done, "$what: the second ends");
    my ($rc, undef, $err) = $wait->();
    is($rc, 0, "$what: user disable exits 0") or diag $err;
    my $out = $h->finish . $s->finish;
    unlike($out, qr/deadlock/, "$what: none aborted");
    $env->cli_ok('user', 'enable', $user);
    return $out;
}

subtest 'a change of the personal project after a waiting disable waits for it' => sub {
    my @made = map { [create_sql('dee')] } 1 .. 2;
    $env->psql(join ' ', map { $_->[0] } @made);
    my @ids = map { $_->[1] } @made;
    is(count_of('~dee'), 2, 'dee has two tokens of ~dee');
    my $out = disable_between('two rotations', 'dee', rotate_sql($ids[0]), rotate_sql($ids[1]));
    is(scalar(() = $out =~ /^rotated /mg), 2, 'two rotations: both made') or diag $out;

    $out = disable_between('two repositories\' new tokens', 'dee', (create_sql('dee', 'one'))[0],
                           (create_sql('dee', 'two'))[0]);
    is(scalar(() = $out =~ /^made /mg), 2, 'two new tokens: both made') or diag $out;

    $env->cli_ok('policy', '--max-tokens', '1');
    my ($sql, $id) = create_sql('bea');
    $env->psql($sql);
    $out = disable_between('a rotation, then a new token at the limit', 'bea', rotate_sql($id), (create_sql('bea'))[0]);
    like($out, qr/^rotated /m, 'the rotation is made') or diag $out;
    like($out, qr/project ~bea already has 1 live tokens/, 'the new token is refused at the limit') or diag $out;
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE project_key = '~bea' AND revoked_at IS NULL"), 1,
       '~bea has one live token');
};

done_testing;
