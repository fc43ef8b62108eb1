# A throttled write that could not be made (a lock given up on, BBT085; no
# pooled connection free at once for a request the cache answered) is not
# counted as made: a use a few seconds later makes it, well within
# BBTokenLastUseInterval (an hour here).  Counted as made, it left the
# token's last use unwritten for a whole interval: a job that uses its
# token rarely, all within one interval (a weekly clone), lost its whole
# use, and `bbtoken notify` revoked as unused a token in use.
#
# A new address group whose record failed holds every new group of the
# token for the retry, not for an interval, and not that group alone: held
# alone, a token used from two new groups in turn, while their table was
# locked, tried (and waited 100 ms on the lock) on every request.  A group
# written holds no other.
#
# A write a read-only database refuses is not tried again in a few seconds
# but an interval later, as before: each try is an ERROR in the server's
# log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use HTTP::Tiny;
use BBT::Env;
use BBT::Cache qw(log_mark log_since wait_log served_from_cache);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $U = '/dumb/PROJ/repo.git/HEAD';
# One pooled connection, so that a test can hold it (no statement_timeout
# ends that hold before the test does); an interval no test waits out.
my $env = BBT::Env->new(
    modules => ['remoteip'],
    dbd_options => '',
    extra_conf => "$BBT::Env::DUMB_CONF\nRemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n"
        . "DBDMax 1\nDBDKeep 1\nBBTokenDBWait 3\nBBTokenLastUseInterval 3600\nLogLevel bbtoken:debug\n",
    mpm_conf => BBT::Util::one_child_mpm(8))->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice', '--email', 'alice@example.com');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->cli_ok('policy', '--revoke-unused-after', '8d');

# Every token is made (a change of alice's, after which her entries are
# read from the database again) before any is used.
my %t;
for my $name (qw(warm locked weekly stale roaming hold1 hold2 pong ro)) {
    my ($tok, $id) = $env->token_create('alice', name => $name);
    $t{$name} = { tok => $tok, id => $id };
}
# weekly: idle for 9 days and warned 8 days ago, as a weekly job's token
# looks to notify between its runs.
$env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '9 days' WHERE id = '$t{weekly}{id}'");
$env->psql("INSERT INTO bbtoken_notices (token_id, kind, sent_at, mailed_to) "
           . "VALUES ('$t{weekly}{id}', 'unused', now() - interval '8 days', 'alice\@example.com')");
$env->expire_token($t{stale}{id});
BBT::Cache::settle();

sub use_tok {
    my ($name, $from) = @_;
    my %h = (Authorization => "Bearer $t{$name}{tok}");
    $h{'X-Forwarded-For'} = $from if $from;
    return $env->get($U, \%h)->{status};
}

# Whether a request of token $name from $from (and its status) was answered
# from the cache.
sub cached_use {
    my ($name, $from) = @_;
    my $mark = log_mark($env);
    my $st = use_tok($name, $from);
    my @l = BBT::Cache::wait_lines($env->error_log_path, $mark, qr/BBT03[57]: token \Q$t{$name}{id}\E /, 10);
    return ($st, scalar grep { /BBT03[57]: token \Q$t{$name}{id}\E .*\(from the cache\)/ } @l);
}

# Use token $name (from $from) until $cond holds: 1, or 0 after a generous
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

sub last_used {
    my ($name) = @_;
    return $env->psql("SELECT last_authenticated > now() - interval '1 hour' FROM bbtoken_tokens WHERE id = '$t{$name}{id}'");
}

# Hold bbtoken_tokens as a schema upgrade does (bbtoken_lookup stays
# readable) while $code runs: every write gives up its lock.
my $held = 0;
sub tokens_held {
    my ($code) = @_;
    # A session of its own each time: done() reads the session's output.
    my $hold = $env->pg_session('migration' . ++$held);
    $hold->send('BEGIN; LOCK TABLE bbtoken_tokens IN SHARE ROW EXCLUSIVE MODE;');
    ok($hold->done, 'bbtoken_tokens held');
    $code->();
    $hold->send('ROLLBACK;');
    ok($hold->done, 'bbtoken_tokens released');
    $hold->finish;
}

# Hold the child's one pooled connection (a lookup of token $name waiting
# behind a lock) while $code runs.
sub pool_held {
    my ($name, $code) = @_;
    $env->lock_tables('bbtoken_lookup');
    my ($w) = BBT::Util::in_background($env->dir . '/run', sub {
        HTTP::Tiny->new(timeout => 60, keep_alive => 0)
            ->get($env->url($U), { headers => { Authorization => "Bearer $t{$name}{tok}" } })->{status};
    });
    my $n = 0;
    for (1 .. 200) { last if ($n = $env->waiting_on_lock('bbtoken_httpd')) >= 1; sleep 0.05 }
    is($n, 1, "the one pooled connection is taken by a lookup waiting for a lock");
    $code->();
    $env->unlock_tables;
    is($w->(), 200, 'that lookup is answered once the lock is gone');
}

ok(served_from_cache($env, $U, { Authorization => "Bearer $t{warm}{tok}" }, $t{warm}{id}),
   'the cache answers (its listener is up)');

# The first uses of three tokens while bbtoken_tokens is held, each write
# given up on the lock and due again a few seconds on: their waits for
# that retry go on together, the weekly job's (the next subtest's) while
# the other two are taken up here.
subtest 'a last use, and an expired refusal\'s audit, given up on a lock are made by a use a few seconds later' => sub {
    my $audited = sub {
        $env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$t{stale}{id}' AND event = 'expired_refused'");
    };
    tokens_held(sub {
        my $mark = log_mark($env);
        is(use_tok('locked'), 200, 'a first use while bbtoken_tokens is held');
        ok(wait_log($env, $mark, qr/BBT085: recording last use: not made, a lock/), 'its last use given up (BBT085)')
            or diag log_since($env, $mark);
        $mark = log_mark($env);
        is(use_tok('stale'), 401, 'an expired token refused while bbtoken_tokens is held');
        ok(wait_log($env, $mark, qr/BBT085: auditing an expired token: not made, a lock/), 'its audit given up (BBT085)')
            or diag log_since($env, $mark);
        # The next subtest's.
        is(use_tok('weekly'), 200, 'the weekly job starts while bbtoken_tokens is held');
    });
    my ($st, $cached) = cached_use('locked');
    ok($st == 200 && $cached, 'the next use is answered from the cache');
    ($st, $cached) = cached_use('stale');
    ok($st == 401 && $cached, 'the next refusal is answered from the cache');
    ok(use_until('locked', undef, sub { last_used('locked') eq 't' }), 'a later use, within the interval, writes the last use');
    ok(use_until('stale', undef, sub { $audited->() > 0 }), 'a later refusal, within the interval, is audited');
    is($audited->(), 1, 'once');
};

subtest 'a last use lost to a busy pool is written once it is free: notify leaves the token' => sub {
    # Its entry, from the use above whose write gave up, is due again a few
    # seconds on: answered from the cache, such a use takes a connection
    # only if one is free at once.
    pool_held('hold1', sub {
        my $mark = log_mark($env);
        ok(use_until('weekly', undef, sub {
            log_since($env, $mark) =~ /BBT085: the throttled writes of a request the cache answered: not made/ }),
           'a use whose last use is due finds no connection free (BBT085)');
    });
    is(last_used('weekly'), 'f', 'its last use is not written yet');
    ok(use_until('weekly', undef, sub { last_used('weekly') eq 't' }),
       'a later use, within the interval, with the pool free, writes it');
    my ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $env->dir }, '--db', $env->superuser_conninfo, 'notify',
                                         '--sendmail', "$BBT::Env::ROOT/t/mail/sendmail", '--from', 'x@example.com');
    is($rc, 0, 'bbtoken notify runs') or diag "$out$err";
    is($env->token_row($t{weekly}{id})->{revoked_at}, '', 'and does not revoke the token used after its warning');
};

subtest 'a group written holds no other: another new group is recorded at once' => sub {
    my $nets = sub {
        my ($net) = @_;
        return $env->psql("SELECT count(*) FROM bbtoken_token_nets WHERE token_id = '$t{roaming}{id}' AND net = '$net'");
    };
    ok(served_from_cache($env, $U, { Authorization => "Bearer $t{roaming}{tok}", 'X-Forwarded-For' => '198.51.100.1' },
                         $t{roaming}{id}), 'a token used, answered from the cache');
    is($nets->('198.51.100.0/24'), 1, 'its first group recorded');
    pool_held('hold2', sub {
        my $mark = log_mark($env);
        is(use_tok('roaming', '203.0.113.5'), 200, 'a use from a new group A while the pool is busy');
        ok(wait_log($env, $mark, qr/BBT085: the throttled writes of a request the cache answered: not made/),
           'its record not made (BBT085)') or diag log_since($env, $mark);
    });
    is($nets->('203.0.113.0/24'), 0, 'group A is not recorded');
    ok(use_until('roaming', '203.0.113.5', sub { $nets->('203.0.113.0/24') == 1 }),
       'group A is recorded by a use from it a few seconds later, within the interval');
    my ($st, $cached) = cached_use('roaming', '192.0.2.7');
    ok($st == 200 && $cached, 'a use from a new group B, the pool free, answered from the cache');
    is($nets->('192.0.2.0/24'), 1, 'group B is recorded at once, A\'s record holding it back no more');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$t{roaming}{id}' AND event = 'new_address' "
                  . "AND detail LIKE '%192.0.2.0/24%'"), 1, 'and audited as new_address');
};

# The BBT085 lines of new address groups given up since $mark.
sub groups_given_up {
    my ($mark) = @_;
    return scalar grep { /BBT085: recording a new address group: not made, a lock/ } split /\n/, log_since($env, $mark);
}

subtest 'a group given up on a lock holds every new group of the token for the retry' => sub {
    ok(served_from_cache($env, $U, { Authorization => "Bearer $t{pong}{tok}", 'X-Forwarded-For' => '198.51.100.1' },
                         $t{pong}{id}), 'a token used, answered from the cache');
    my $hold = $env->pg_session('nets' . ++$held);
    $hold->send('BEGIN; LOCK TABLE bbtoken_token_nets IN SHARE MODE;');
    ok($hold->done, 'bbtoken_token_nets held');
    my $mark = log_mark($env);
    my $t0 = time;
    is(use_tok('pong', '203.0.113.5'), 200, 'a use from a new group A');
    ok(wait_log($env, $mark, qr/BBT085: recording a new address group: not made, a lock/),
       'its record given up (BBT085)') or diag log_since($env, $mark);
    # One after the other, each once the one before is answered: A again,
    # then new groups B and C.
    my @st = map { use_tok('pong', $_) } qw(203.0.113.5 192.0.2.7 100.64.0.9 192.0.2.7);
    is("@st", '200 200 200 200', 'more uses, from A and from new groups B and C, are answered');
    # The alternation that tried on every request: 8 uses, A and B in turn.
    push @st, use_tok('pong', $_ % 2 ? '203.0.113.5' : '192.0.2.7') for 1 .. 8;
    sleep 0.5; # a line the last request may still be writing
    SKIP: {
        # A retry is due 5 s after the first; so slow a run cannot tell.
        skip 'the uses took 4 s or more', 1 if time - $t0 >= 4;
        is(groups_given_up($mark), 1, 'none of them tries again (one BBT085 in all)')
            or diag log_since($env, $mark);
    }
    $hold->send('ROLLBACK;');
    ok($hold->done, 'bbtoken_token_nets released');
    $hold->finish;
    my $nets = sub {
        $env->psql("SELECT count(*) FROM bbtoken_token_nets WHERE token_id = '$t{pong}{id}' AND net = '$_[0]'");
    };
    ok(use_until('pong', '192.0.2.7', sub { $nets->('192.0.2.0/24') == 1 }),
       'once the retry is due, a use records its group');
};

subtest 'a write a read-only database refuses is tried again an interval later, not a few seconds later' => sub {
    $env->psql('ALTER ROLE bbtoken_httpd SET default_transaction_read_only = on');
    is($env->httpd_graceful, '', 'httpd restarted gracefully, its connections read-only');
    my $refused = sub {
        my @l = grep { /ERROR: .*read-only transaction/ } split /\n/, substr($env->pg_log_text, $_[0]);
        return scalar @l;
    };
    my $pgmark = length $env->pg_log_text;
    my $mark = log_mark($env);
    ok(served_from_cache($env, $U, { Authorization => "Bearer $t{ro}{tok}", 'X-Forwarded-For' => '198.51.100.1' },
                         $t{ro}{id}), 'a token used, answered from the cache');
    ok($refused->($pgmark) >= 1, 'its last use and address group refused by the database');
    like(log_since($env, $mark), qr/BBT812: /, 'BBT812 says the writes are not recorded');
    $pgmark = length $env->pg_log_text;
    # Uses for longer than the retry (5 s): none finds a write due.
    my $until = time + 6.5;
    my @st;
    while (time < $until) {
        push @st, use_tok('ro', '198.51.100.1');
        sleep 0.5;
    }
    is(scalar(grep { $_ != 200 } @st), 0, scalar(@st) . ' uses over more than the retry, answered');
    is($refused->($pgmark), 0, 'none tries a write again') or diag substr($env->pg_log_text, $pgmark);
};

done_testing;
