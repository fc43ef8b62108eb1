# `bbtoken user disable` while the user's tokens are rotated over and over
# through the REST API (the user, or anyone with their password, in
# loops): the disable waits for the rotations under way, and every
# rotation after its commit is refused.  An update of a user's row waits
# for FOR KEY SHARE as one of a key would
# (sql/migrations/0035_lookup_order.sql), and KEY SHARE does not queue
# behind it: a rotation that took the owner's row so first joined the
# row's lockers, and with rotations always in flight the disable waited as
# long as the loops ran, each rotation handing out a working token.
# Nothing here is timed: the loops run until they are refused or told to
# stop, and they are told to stop only once the disable has committed or
# they have made 1000 rotations since it began.  Also a rename of a token
# (the CLI's update, the REST API's bbtoken_api_update) racing its
# rotation, each first: both take the owner's row before the token's, so
# neither is aborted by a deadlock (40P01), as PostgreSQL's log tells.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);
use BBT::Util qw(spew);

my $LOOPS = 8;
my $BOUND = 1000;
my $env = rest_env(passwords => [uma => 'uma-Pa55-word', vic => 'vic-Pa55-word'], users => [qw(uma vic)]);
my $run = $env->dir . '/run';
# The API's answer to a caller who is not an active user.
my $NOT_ACTIVE = qr/401 You are not permitted to manage access tokens\./;

sub deadlocks { scalar(() = $env->pg_log_text =~ /deadlock detected/g) }

sub count_of {
    my ($user) = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                      . " WHERE u.name = '$user'");
}

# Token $id of uma rotated by uma through the REST API.
sub rotate {
    my ($id) = @_;
    return $env->rest(POST => "/rest/access-tokens/1.0/users/uma/$id/rotate", as => 'uma',
                      headers => { 'X-Atlassian-Token' => 'no-check' });
}

subtest 'user disable while rotation loops run: it commits, and every rotation after it is refused' => sub {
    my @ids = map { ($env->token_insert('uma', name => "uma loop $_"))[1] } 1 .. $LOOPS;
    my ($disabled, $stop) = ("$run/t76-disabled", "$run/t76-stop");
    # Loop $i rotates its token until an answer is not 200 or it is told
    # to stop: "refused STATUS MESSAGE" or "stopped", then the rotations
    # made, those made of requests sent once the disable was seen
    # committed, and the loop's live token.
    my @loops = map {
        my ($i, $cur) = ($_, $ids[$_ - 1]);
        BBT::Util::in_background($run, sub {
            delete $env->{ua};    # a connection of its own
            my ($made, $late) = (0, 0);
            while (!-e $stop) {
                my $after = -e $disabled;
                my $res = rotate($cur);
                if ($res->{status} != 200) {
                    my $msg = ref $res->{json} eq 'HASH' ? $res->{json}{errors}[0]{message} // '' : '';
                    return "refused $res->{status} $msg\n$made $late $cur";
                }
                $cur = $res->{json}{id};
                $made++;
                $late++ if $after;
                spew("$run/t76-loop$i", $made) if $made == 1;
            }
            return "stopped\n$made $late $cur";
        });
    } 1 .. $LOOPS;
    my $all = 0;
    for (1 .. 1200) {
        last if ($all = grep { -e "$run/t76-loop$_" } 1 .. $LOOPS) == $LOOPS;
        select undef, undef, undef, 0.05;
    }
    is($all, $LOOPS, "all $LOOPS loops rotate");
    my $from = count_of('uma');
    my $wait = $env->cli_bg('disable', {}, 'user', 'disable', 'uma');
    # Until the disable commits, or the loops have rotated $BOUND times
    # more.
    my ($committed, $made);
    do {
        select undef, undef, undef, 0.05;
        $committed = $env->psql("SELECT NOT active FROM bbtoken_users WHERE name = 'uma'") eq 't';
        $made = count_of('uma') - $from;
    } until $committed || $made >= $BOUND;
    spew($disabled, '') if $committed;
    ok($committed, "user disable committed while the loops ran ($made rotations after it began; the bound: $BOUND)");
    spew($stop, '');
    my ($rc, undef, $err) = $wait->();
    is($rc, 0, 'user disable exits 0') or diag $err;
    my @live;
    for my $i (1 .. $LOOPS) {
        my ($how, $tail) = split /\n/, $loops[$i - 1]->(), 2;
        my (undef, $late, $cur) = split / /, $tail // '';
        # Refused where the rotation found uma disabled: at the new token
        # (its policy trigger), in bbtoken_api_rotate, or before it (the
        # API's look at the caller).
        my $refused = qr/400 user is disabled: uma|401 not permitted: uma is not an active user/;
        like($how, qr/^refused ($refused|$NOT_ACTIVE)$/,
             "loop $i ended refused, not stopped") or diag $how;
        is($late, 0, "loop $i: no rotation asked once the disable committed was made");
        push @live, $cur;
    }
    is($env->psql("SELECT string_agg(t.id, ' ' ORDER BY t.id) FROM bbtoken_tokens t"
                  . " JOIN bbtoken_users u ON u.id = t.user_id WHERE u.name = 'uma' AND t.revoked_at IS NULL"),
       join(' ', sort @live), 'the live tokens are the loops\' last ones: no rotation they were not told of');
    my $res = rotate($live[0]);
    like("$res->{status} " . ($res->{json}{errors}[0]{message} // ''), qr/^$NOT_ACTIVE$/,
         'a rotation asked now is refused');
};

# A rename of token $id ($how: 'cli', the CLI's update; 'api', the REST
# API's function) and its rotation, $first first, both waiting for a
# third session's hold on the token; then the hold goes.
my $n = 0;
sub rename_race {
    my ($how, $first, $id) = @_;
    $n++;
    my $broken = deadlocks();
    my $h = $env->pg_session("hold$n");
    $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$id' FOR UPDATE;");
    ok($h->done, "$how, $first first: a third session holds the token");
    my $r = $env->pg_session("rotate$n");
    my $new = 999999999800 + $n;
    my $rot = sub {
        $r->send("SELECT 'rotated ' || COALESCE(bbtoken_rotate('$id', '$new', repeat('c', 32),"
                 . " repeat('d', 64))::text, 'for good');");
        ok($r->blocked, "$how, $first first: the rotation waits");
    };
    my ($wait, $s);
    my $ren = sub {
        if ($how eq 'cli') {
            $wait = $env->cli_bg("rename$n", {}, 'update', $id, '--name', "renamed $n");
            ok($env->pg_wait_backend("bbt-rename$n", "wait_event_type = 'Lock'"),
               "$how, $first first: the rename waits");
        } else {
            $s = $env->pg_session("rename$n");
            $s->send("SELECT 'renamed ' || bbtoken_api_update('vic', 'vic', '$id', 'renamed $n', NULL, NULL);");
            ok($s->blocked, "$how, $first first: the rename waits");
        }
    };
    $_->() for $first eq 'rotation' ? ($rot, $ren) : ($ren, $rot);
    $h->send('ROLLBACK;');
    ok($h->done && $r->done && ($s ? $s->done : 1),
       "$how, $first first: the holder, the rotation and the rename finish");
    my $out = $r->finish;
    my ($rc, $err) = $wait ? ($wait->())[0, 2] : (undef, $s->finish);
    $h->finish;
    like($out, qr/^rotated /m, "$how, $first first: the rotation is made") or diag $out;
    if ($first eq 'rotation') {
        # The token the rename waited for is revoked by then.
        like($err, qr/revoked|no such token/, "$how, rotation first: the rename is refused, the token revoked")
            or diag $err;
    } else {
        ok($wait ? $rc == 0 : $err =~ /^renamed /m, "$how, rename first: the rename is made") or diag $err;
        is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$new'"), "renamed $n",
           "$how, rename first: the new token has the name");
    }
    unlike("$out$err", qr/deadlock/, "$how, $first first: neither was aborted");
    is(deadlocks(), $broken, "$how, $first first: no deadlock in PostgreSQL's log");
}

subtest 'a rename of a token and its rotation at once: neither aborted by a deadlock' => sub {
    for my $how (qw(cli api)) {
        for my $first (qw(rotation rename)) {
            my (undef, $id) = $env->token_insert('vic', name => "vic $how $first");
            rename_race($how, $first, $id);
        }
    }
};

done_testing;
