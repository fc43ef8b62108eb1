# A throttled write due again (a lock given up on, BBT085) that meets a
# pooled connection PostgreSQL dropped while it sat idle (a restart,
# pg_terminate_backend, idle_session_timeout, a middlebox's idle TCP
# timeout) is made on the connection connected again, not counted as made:
# mod_dbd's check asks libpq's status, which says a dropped connection is
# up until a statement fails on it, so the write is the first to find it
# gone.  Counted as made, it left the token's last use (or a new address
# group) unwritten for a whole BBTokenLastUseInterval, and `bbtoken
# notify` could revoke a token in use (t/32-last-use-retry.t).  Where the
# connection cannot be connected again (PostgreSQL refuses it), the write
# is not counted as made either: a use 5 seconds later makes it, once
# PostgreSQL takes connections again.
#
# The listener's probe sends a NOTIFY from a pooled connection every ten
# seconds, and connects a dropped one again without a word: the connection
# is dropped just before each use, and a case the probe spoils is made
# again with another token or group.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env;
use BBT::Cache qw(log_mark log_since wait_log served_from_cache);

# Under prefork a request may reach another child, whose connection is
# another.
plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $U = '/dumb/PROJ/repo.git/HEAD';
# One pooled connection, the one the writes find dropped; an interval no
# test waits out.
my $env = BBT::Env->new(
    modules => ['remoteip'],
    dbd_options => '',
    extra_conf => "$BBT::Env::DUMB_CONF\nRemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n"
        . "DBDMax 1\nDBDKeep 1\nBBTokenLastUseInterval 3600\nLogLevel bbtoken:debug\n",
    mpm_conf => BBT::Util::one_child_mpm(4))->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');

my %t;
for my $name (qw(warm used1 used2 used3 roaming refused)) {
    my ($tok, $id) = $env->token_create('alice', name => $name);
    $t{$name} = { tok => $tok, id => $id };
}
BBT::Cache::settle();

sub use_tok {
    my ($name, $from) = @_;
    return $env->get($U, { Authorization => "Bearer $t{$name}{tok}", 'X-Forwarded-For' => $from })->{status};
}

# Use token $name from $from until $cond holds: 1, or 0 after a generous
# limit (far less than the interval).
sub use_until {
    my ($name, $from, $cond) = @_;
    my $deadline = time + $BBT::Cache::LIMIT;
    while (time < $deadline) {
        use_tok($name, $from);
        return 1 if $cond->();
        sleep 0.2;
    }
    return 0;
}

# Hold $table as a schema upgrade does while $code runs: every write to it
# gives up its lock.
my $held = 0;
sub table_held {
    my ($table, $code) = @_;
    my $hold = $env->pg_session('migration' . ++$held);
    $hold->send("BEGIN; LOCK TABLE $table IN SHARE ROW EXCLUSIVE MODE;");
    ok($hold->done, "$table held");
    $code->();
    $hold->send('ROLLBACK;');
    ok($hold->done, "$table released");
    $hold->finish;
}

# Drop the child's pooled connection as PostgreSQL drops an idle one (the
# listener's is its own, and stays): 1 once it has no pooled backend.
sub pool_dropped {
    my $who = "usename = 'bbtoken_httpd' AND application_name <> 'mod_bbtoken listener'";
    for (1 .. 200) {
        return 1 if $env->psql("SELECT count(*) FROM pg_stat_activity WHERE $who") == 0;
        $env->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE $who");
        sleep 0.05;
    }
    return 0;
}

# Use token $name from $from, its pooled connection dropped just before
# each use, until the write due ($what, made when $made says so) meets
# the dropped connection: 1, once the log says a write met it (BBT073, or
# the write's own error line); 0, where the write was made without (the
# listener's probe, every ten seconds from a pooled connection, got there
# first and connected it again: the case is not made); undef after a
# generous limit.
sub due_write_meets_drop {
    my ($name, $from, $what, $made) = @_;
    my $mark = log_mark($env);
    my $deadline = time + $BBT::Cache::LIMIT;
    while (time < $deadline) {
        pool_dropped() or return undef;
        use_tok($name, $from);
        return 1 if log_since($env, $mark) =~ /BBT073: \Q$what\E \(will retry once\)|BBT07[67]|BBT602/;
        return 0 if $made->();
        sleep 0.2;
    }
    return undef;
}

ok(served_from_cache($env, $U, { Authorization => "Bearer $t{warm}{tok}", 'X-Forwarded-For' => '198.51.100.1' },
                     $t{warm}{id}), 'the cache answers (its listener is up)');

subtest 'a last use due again is written on the connection connected again' => sub {
    for my $name (qw(used1 used2 used3)) {
        my $used = sub {
            $env->psql("SELECT last_authenticated IS NOT NULL FROM bbtoken_tokens WHERE id = '$t{$name}{id}'") eq 't';
        };
        table_held('bbtoken_tokens', sub {
            my $mark = log_mark($env);
            is(use_tok($name, '198.51.100.1'), 200, 'a first use while bbtoken_tokens is held');
            ok(wait_log($env, $mark, qr/BBT085: recording last use: not made, a lock/),
               'its last use given up (BBT085)') or diag log_since($env, $mark);
        });
        my $mark = log_mark($env);
        my $met = due_write_meets_drop($name, '198.51.100.1', 'recording last use', $used);
        ok(defined $met, 'the retry comes') or last;
        next if !$met && $name ne 'used3';
        ok($met, 'the retry finds the pooled connection dropped');
        ok(use_until($name, '198.51.100.1', $used), 'a use, within the interval, writes the last use')
            or diag log_since($env, $mark);
        like(log_since($env, $mark), qr/BBT073: recording last use \(will retry once\) failed: /,
             'the write that found the connection dropped says so, and is tried again (BBT073)');
        unlike(log_since($env, $mark), qr/BBT07[67]|BBT602/, 'no write is said to have failed');
        last;
    }
};

subtest 'a new address group due again is recorded on the connection connected again' => sub {
    ok(served_from_cache($env, $U, { Authorization => "Bearer $t{roaming}{tok}", 'X-Forwarded-For' => '198.51.100.1' },
                         $t{roaming}{id}), 'a token used, answered from the cache, its last use written');
    my @groups = (['203.0.113.5', '203.0.113.0/24'], ['192.0.2.7', '192.0.2.0/24'], ['100.64.0.9', '100.64.0.0/24']);
    for my $i (0 .. $#groups) {
        my ($from, $net) = @{ $groups[$i] };
        my $recorded = sub {
            $env->psql("SELECT count(*) FROM bbtoken_token_nets WHERE token_id = '$t{roaming}{id}' AND net = '$net'")
                == 1;
        };
        table_held('bbtoken_token_nets', sub {
            my $mark = log_mark($env);
            is(use_tok('roaming', $from), 200, 'a use from a new group while bbtoken_token_nets is held');
            ok(wait_log($env, $mark, qr/BBT085: recording a new address group: not made, a lock/),
               'its record given up (BBT085)') or diag log_since($env, $mark);
        });
        my $mark = log_mark($env);
        my $met = due_write_meets_drop('roaming', $from, 'recording a new address group', $recorded);
        ok(defined $met, 'the retry comes') or last;
        next if !$met && $i < $#groups;
        ok($met, 'the retry finds the pooled connection dropped');
        ok(use_until('roaming', $from, $recorded), 'a use from it, within the interval, records the group')
            or diag log_since($env, $mark);
        like(log_since($env, $mark), qr/BBT073: recording a new address group \(will retry once\) failed: /,
             'the write that found the connection dropped says so, and is tried again (BBT073)');
        unlike(log_since($env, $mark), qr/BBT07[67]|BBT602/, 'no write is said to have failed');
        last;
    }
};

subtest 'a last use whose dropped connection cannot be connected again is written once it can' => sub {
    my $used = sub {
        $env->psql("SELECT last_authenticated IS NOT NULL FROM bbtoken_tokens WHERE id = '$t{refused}{id}'") eq 't';
    };
    table_held('bbtoken_tokens', sub {
        my $mark = log_mark($env);
        is(use_tok('refused', '198.51.100.1'), 200, 'a first use while bbtoken_tokens is held');
        ok(wait_log($env, $mark, qr/BBT085: recording last use: not made, a lock/), 'its last use given up (BBT085)')
            or diag log_since($env, $mark);
    });
    # New connections refused, as pg_hba, a password changed or a
    # connection limit would; the listener's own stays.
    $env->psql('ALTER ROLE bbtoken_httpd NOLOGIN');
    my $mark = log_mark($env);
    my $met = due_write_meets_drop('refused', '198.51.100.1', 'recording last use', $used);
    $env->psql('ALTER ROLE bbtoken_httpd LOGIN');
    ok($met, 'the retry finds the pooled connection dropped');
    like(log_since($env, $mark), qr/\[bbtoken:error\] .*BBT076: recording last use failed: the connection PostgreSQL dropped could not be connected again: /,
         'it could not be connected again, and says why (BBT076)') or diag log_since($env, $mark);
    ok(use_until('refused', '198.51.100.1', $used),
       'connections taken again, a use within the interval writes the last use') or diag log_since($env, $mark);
};

done_testing;
