# The failed-login throttle's memory in each thread of the last address it
# saw throttled (bbt_throttle_seen), and the room an ended window leaves in
# the shared table.  A thread that saw an address throttled counts its
# further failures no more: the count BBT506 shows stops rising there.
# That memory lasts the address's window and no longer: once the window
# ends, a guesser sending tokens alone (verified, never stopped at the
# gate) is counted again, and throttled again.  Nor does it outlive the
# address's entry: pushed out of its set by eight throttled addresses
# (in another child), the address is counted afresh by the thread that
# remembered it, from its next password.  And an entry whose window has
# ended makes room before any whose window runs, even one that was
# throttled: a live count one short of the limit is not pushed out for it.
# Prefork, two children: a kept-alive connection holds one, every other
# connection goes to the other.  httpd's boot clock, which the windows are
# on, stands still and is moved on by the test (t/dso/clockback.c); the
# sets are learnt from BBT780 (LogLevel bbtoken:trace1) of requests that
# fail nothing.  Real httpd and PostgreSQL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_basic auth_bearer forge_token get_from mistype_token);
use BBT::Cache qw(log_mark log_since wait_log);
use BBT::Clock qw(boot_now clock_preload stopped_at);

my $FAILS = 3;
my $WINDOW = 60;
my $THROTTLE = "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow $WINDOW";
clock_preload();
my $mpm = "StartServers 2\nMinSpareServers 2\nMaxSpareServers 2\nServerLimit 2\nMaxRequestWorkers 2\n"
        . "KeepAlive On\nKeepAliveTimeout 300\nMaxKeepAliveRequests 0\n";
my $extra = <<'EOC' . $BBT::Env::DUMB_CONF;
BBTokenCache off
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
EOC
my $env = BBT::Env->new(mpm => 'prefork', mpm_conf => $mpm, loglevel => 'warn bbtoken:trace1',
                        extra_conf => $extra, modules => [qw(authn_file)], throttle => $THROTTLE)->start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $probe_tok = $env->token_create('carol', name => 'probe');
my $url = $env->url('/scm/PROJ/repo.git/info/refs?service=git-upload-pack');
my $bad = auth_basic('carol', 'wrong');
my $good = auth_basic('carol', 'carol-Pa55-word');
# A token guess refused before any database work (its checksum wrong).
my $guess = auth_bearer(mistype_token(forge_token('999999999999')));

# A client from $from over one kept-alive connection: its child's one
# thread serves every request it sends.
sub kept { HTTP::Tiny->new(timeout => 30, keep_alive => 1, local_address => $_[0]) }
sub status { my ($ua, $h) = @_; return $ua->get($url, { headers => $h })->{status} }

# The client ports $from's requests since $mark came from: one for a
# client that kept its connection (and so its child) throughout.
sub ports_since {
    my ($mark, $from) = @_;
    my %p = map { $_ => 1 } log_since($env, $mark) =~ /\[client \Q$from\E:(\d+)\]/g;
    return scalar keys %p;
}

# The count of the last BBT506 about $from since $mark.
sub count_506 {
    my ($mark, $from) = @_;
    my $re = qr/BBT506: a password from throttled client \Q$from\E refused \(429\), (\d+) failed logins/;
    wait_log($env, $mark, $re);
    my @n = log_since($env, $mark) =~ /$re/g;
    return $n[-1];
}

# Whole seconds: they read back exactly.
my $t = int(boot_now()) + 1;
stopped_at($env, $t);

subtest "a thread's memory of a throttled address lasts its window" => sub {
    my $from = '127.0.0.9';
    my $A = kept($from);
    my $m = log_mark($env);
    is(status($A, $guess), 401, "token guess $_") for 1 .. $FAILS;
    ok(wait_log($env, $m, qr/BBT505: client 127\.0\.0\.9 throttled: $FAILS failed logins in $WINDOW s/),
       'throttled (BBT505)');
    is(status($A, $guess), 401, "token guess $_ past the limit: verified, 401") for 1 .. 4;
    is(status($A, $good), 429, '  the right password: 429');
    is(count_506($m, $from), $FAILS, "  BBT506: $FAILS failed logins: the thread counted no more after them");

    # No password from there now: the gate that reads the entry would make
    # the thread forget the address.  Tokens alone, the guesser's way.
    stopped_at($env, $t + $WINDOW + 1);
    my $m2 = log_mark($env);
    is(status($A, $guess), 401, "the window ended: token guess $_") for 1 .. $FAILS;
    ok(wait_log($env, $m2, qr/BBT505: client 127\.0\.0\.9 throttled: $FAILS failed logins in $WINDOW s/),
       'counted again, and throttled again (BBT505)');
    is(status($A, $good), 429, '  the right password: 429 again');
    is(ports_since($m, $from), 1, "  one connection, one child's thread, throughout");
};

# The addresses of each set, the fullest sets first.
my @SETS;
subtest 'the sets (BBTokenThrottleSize 65536), from requests that fail nothing' => sub {
    my $m = log_mark($env);
    # Tokens are gated too: a good token's request asks for its address's
    # set, and fails nothing.
    $env->httpd_restart(graceful => 1,
                        throttle => "$THROTTLE\nBBTokenThrottleSize 65536\nBBTokenThrottleTokens refuse");
    ok(wait_log($env, $m, qr/BBT503: .* room for 2728 addresses/), 'restarted: 341 sets of eight');
    $m = log_mark($env);
    my @probes = map { "127.4." . (1 + int($_ / 250)) . '.' . (1 + $_ % 250) } 0 .. 2999;
    my $ok = 0;
    $ok += HTTP::Tiny->new(timeout => 30, local_address => $_)
        ->get($env->url('/dumb/PROJ/repo.git/HEAD'), { headers => { Authorization => "Bearer $probe_tok" } })
        ->{status} == 200 for @probes;
    is($ok, scalar @probes, scalar(@probes) . ' addresses with a good token: each served');
    my ($text, %set) = (log_since($env, $m));
    $set{$1} //= $2 while $text =~ /BBT780: client (\S+) is counted in the failed-login throttle's set (\d+)/g;
    is(scalar(grep { defined $set{$_} } @probes), scalar @probes, '  each told its set (BBT780)');
    my %in;
    push @{ $in{ $set{$_} } }, $_ for grep { defined $set{$_} } @probes;
    @SETS = map { $in{$_} } sort { @{ $in{$b} } <=> @{ $in{$a} } || $a <=> $b } keys %in;
    cmp_ok(scalar @{ $SETS[1] }, '>=', 9, 'two sets of nine addresses or more') or BAIL_OUT('no two full sets');
};

subtest 'pushed out of its set, an address is counted afresh by the thread that saw it throttled' => sub {
    my ($who, @mates) = @{ $SETS[0] };
    my $c = $t + 2 * $WINDOW;
    stopped_at($env, $c);
    my $A = kept($who);
    my $m = log_mark($env);
    is_deeply([map { status($A, $bad) } 1 .. $FAILS + 1], [(401) x $FAILS, 429],
              "$who, on a connection it keeps: $FAILS failures, then 429");
    # Eight of its set throttled, in the other child, their windows ending a
    # second later: the eighth's first failure pushes $who's entry out.
    stopped_at($env, $c + 1);
    for my $mate (@mates[0 .. 7]) {
        is_deeply([map { get_from($mate, $url, $bad) } 1 .. $FAILS], [(401) x $FAILS], "$mate of its set: $FAILS failures");
    }
    is_deeply([map { status($A, $bad) } 1 .. $FAILS + 1], [(401) x $FAILS, 429],
              "$who, on its child again: counted afresh, $FAILS failures, then 429");
    is(ports_since($m, $who), 1, "  one connection, one child's thread, throughout");
};

subtest 'an entry whose window has ended makes room before a live count' => sub {
    my ($x, $who, @mates) = @{ $SETS[1] };
    my $d = $t + 4 * $WINDOW;
    stopped_at($env, $d);
    is_deeply([map { get_from($x, $url, $bad) } 1 .. $FAILS + 1], [(401) x $FAILS, 429],
              "$x: $FAILS failures, then 429");
    # Its window ends; its entry stays, at the limit.  Seven others of its
    # set count, $who first (the soonest of them to end), one short.
    stopped_at($env, $d + $WINDOW + 1);
    is(get_from($who, $url, $bad), 401, "$who: failure $_") for 1 .. $FAILS - 1;
    stopped_at($env, $d + $WINDOW + 2);
    is(get_from($_, $url, $bad), 401, "$_ of its set: one failure") for @mates[0 .. 5];
    is(get_from($mates[6], $url, $bad), 401, "$mates[6]: one failure, the set full: it takes $x\'s ended entry");
    is_deeply([map { get_from($who, $url, $bad) } 1 .. 2], [401, 429], "$who: its last failure, then 429: its count kept");
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
