# The failed-login throttle's shared memory holds under many addresses, and
# BBTokenThrottleSize sizes it.  An address takes one entry however often
# it fails: at the least size (64 KiB, room for 2728), an address twenty
# failures short keeps its count through nineteen failures from each of 150
# others (2850 failures; a socache, which stores a copy per failure, held
# about a thousand).  At the default 1 MiB, an address one failure short
# keeps its count through failures from two thousand other loopback
# addresses.  An address has its place in one set of eight: failures from
# eight other addresses of its set, whose windows end later, push its count
# out, and it starts again.  A throttled address makes room only for
# throttled ones: failures from any number of others of its set leave it
# held back, until eight of them are throttled; pushed out, it is held back
# no more, and bbtoken_throttled_clients stops counting it.  Which set is a
# keyed hash's, under a key made at each start: addresses that share one
# under the old public hash (FNV-1a), as an attacker would choose them, do
# not push a count out; the sets are learnt from BBT780 (LogLevel
# bbtoken:trace1) of requests that fail nothing.  shmcb (the token cache's) lays out each of
# its caches from the hints it is given and does not check that room is
# left for the data: every subcache's data must lie inside the subcache.
# Every child stays alive, and a fresh address is still throttled after
# BBTokenThrottleFailures of them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env;
use BBT::Cache qw(log_mark log_since wait_log);

my $FAILS = 3;
my $THROTTLE = "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600";
# The probes of many addresses with a good token ask for a file httpd
# serves itself (/dumb: the same routes, no CGI), thousands of times.
my $env = BBT::Env->new(loglevel => 'warn bbtoken:trace1 socache_shmcb:debug', throttle => $THROTTLE,
                        extra_conf => "<Location /metrics>\n    SetHandler bbtoken-metrics\n</Location>\n"
                                    . $BBT::Env::DUMB_CONF)->start;
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
$env->make_repo('PROJ', 'repo');
$env->user_add('probe');
$env->grant('probe', 'PROJECT_READ', 'PROJ');
my $probe_tok = $env->token_create('probe', name => 'probe');

# A wrong password from address $from: the status.
sub fail_from {
    my ($from) = @_;
    return HTTP::Tiny->new(timeout => 30, local_address => $from)
        ->get($env->url($UP), { headers => { Authorization => $env->basic('nobody', 'wrong') } })->{status};
}

# shmcb's own account of each cache it made (the token cache's segments)
# in $log: every subcache's data inside it.
sub layout_ok {
    my ($log, $what) = @_;
    my @size = $log =~ /subcache_size = (\d+)/g;
    my @offset = $log =~ /subcache_data_offset = (\d+)/g;
    my @data = $log =~ /subcache_data_size = (\d+)/g;
    cmp_ok(scalar(@size), '>=', 2, "$what: shmcb described the token cache's segments") or diag $log;
    for my $i (0 .. $#size) {
        ok(defined $offset[$i] && defined $data[$i] && $offset[$i] + $data[$i] <= $size[$i],
           "$what: cache $i: its data ($offset[$i] + $data[$i]) lies inside its subcache ($size[$i])");
    }
}

# A token-shaped wrong credential (a failure) from address $from: the
# status.
sub token_from {
    my ($from) = @_;
    return HTTP::Tiny->new(timeout => 30, local_address => $from)
        ->get($env->url($UP), { headers => { Authorization => 'Bearer BBDC-x' } })->{status};
}

# Address $who one failure short ($fails in all), then $each failures from
# each of @others, then $who's last failure and one more request: its
# status.
sub after_flood {
    my ($who, $fails, $each, @others) = @_;
    is(fail_from($who), 401, "$who: failure $_") for 1 .. $fails - 1;
    my $n = 0;
    for my $a (@others) {
        $n += token_from($a) == 401 for 1 .. $each;
    }
    is($n, $each * @others, scalar(@others) . " other addresses, $each failures each, each refused (401)");
    is(fail_from($who), 401, "$who: failure $fails");
    return fail_from($who);
}

# Addresses 127.$net.$b.$c: $n of them.
sub addresses {
    my ($net, $n) = @_;
    return map { "127.$net." . (1 + int($_ / 250)) . '.' . (1 + $_ % 250) } 0 .. $n - 1;
}

# The set of an IPv4 address among $sets under the old public hash, FNV-1a
# of the family byte and the address, as bbt_throttle.c picked it once.
sub fnv_set_of {
    my ($ip, $sets) = @_;
    my $h = 2166136261;
    $h = (($h ^ $_) * 16777619) & 0xffffffff for (ord('4'), split /\./, $ip);
    return $h % $sets;
}

sub throttled_clients {
    my $r = HTTP::Tiny->new(timeout => 30)->get($env->url('/metrics'));
    return ($r->{content} // '') =~ /^bbtoken_throttled_clients (\d+)$/m ? $1 : undef;
}

# The throttle's room, from BBT503 since $mark: (bytes, entries).
sub room {
    my ($mark) = @_;
    return log_since($env, $mark) =~ /BBT503: .*; (\d+) bytes of shared memory, room for (\d+) addresses/;
}

subtest 'the default size, 1 MiB: the count outlives two thousand other addresses' => sub {
    ok(wait_log($env, 0, qr/BBT503: failed-login throttle on: .*; 1048576 bytes of shared memory, room for 43688 addresses/),
       'BBT503 says the size, and the addresses it holds');
    layout_ok($env->error_log_text, 'default');
    is(after_flood('127.3.0.1', $FAILS, 1, addresses(1, 2000)), 429, 'then throttled: 429');
    is_deeply([map { fail_from('127.2.0.1') } 1 .. $FAILS + 1], [(401) x $FAILS, 429],
              "a fresh address: $FAILS failures, then 429");
};

subtest 'BBTokenThrottleSize 65536: an address takes one entry however often it fails' => sub {
    my $mark = log_mark($env);
    $env->httpd_restart(graceful => 1, throttle => "BBTokenThrottleFailures 20\nBBTokenThrottleWindow 3600\nBBTokenThrottleSize 65536");
    ok(wait_log($env, $mark, qr/BBT503: failed-login throttle on: .*; 65536 bytes of shared memory, room for 2728 addresses/),
       'BBT503 says the size, and the addresses it holds');
    layout_ok(log_since($env, $mark), 'at 64 KiB');
    is(after_flood('127.3.0.3', 20, 19, addresses(5, 150)), 429, 'then throttled: 429');
};

# The throttle's set of each address of @from since $mark, from BBT780.
sub sets_since {
    my ($mark, @from) = @_;
    my %want = map { $_ => 1 } @from;
    my ($text, %set) = (log_since($env, $mark));
    $want{$1} and $set{$1} = $2
        while $text =~ /BBT780: client (\S+) is counted in the failed-login throttle's set (\d+)/g;
    return \%set;
}

subtest 'BBTokenThrottleSize 65536: a full set pushes out the count that ends first' => sub {
    my $mark = log_mark($env);
    # Tokens are gated too: a good token's request asks for its address's
    # set, and fails nothing.
    $env->httpd_restart(graceful => 1, throttle => "$THROTTLE\nBBTokenThrottleSize 65536\nBBTokenThrottleTokens refuse");
    ok(wait_log($env, $mark, qr/BBT503: /), 'restarted');
    my (undef, $room) = room($mark);
    my $sets = $room / 8;
    my @probes = addresses(4, 5000);
    my $ok = 0;
    for my $a (@probes) {
        $ok += HTTP::Tiny->new(timeout => 30, local_address => $a)
            ->get($env->url('/dumb/PROJ/repo.git/HEAD'), { headers => { Authorization => "Bearer $probe_tok" } })
            ->{status} == 200;
    }
    is($ok, scalar @probes, scalar(@probes) . ' addresses with a good token: each served');
    my $set = sets_since($mark, @probes);
    is(scalar(keys %$set), scalar @probes, '  and each told its set (BBT780)');
    my %in;
    push @{ $in{ $set->{$_} } }, $_ for grep { defined $set->{$_} } @probes;
    # The set with the most addresses: nine of it.
    my @big = sort { @{ $in{$b} } <=> @{ $in{$a} } || $a <=> $b } keys %in;
    my $one = shift @big;
    my ($who, @mates) = @{ $in{ $one // -1 } || [] };
    cmp_ok(scalar @mates, '>=', 8, "eight addresses of $who\'s set ($one of $sets)");
    is(after_flood($who, $FAILS, 1, @mates[0 .. 7]), 401, 'then counted afresh: 401, not 429');
    my $fresh_mark = log_mark($env);
    is_deeply([map { fail_from('127.2.0.2') } 1 .. $FAILS + 1], [(401) x $FAILS, 429],
              "a fresh address: $FAILS failures, then 429");
    # Seventeen of another set, not the fresh address's: it stays held
    # back, and would be pushed out with the set's own below (once in
    # about 340 runs, the table's key being new at each start).
    my $fresh_set = sets_since($fresh_mark, '127.2.0.2')->{'127.2.0.2'};
    ok(defined $fresh_set, "  the fresh address's set told (BBT780)");
    my ($two) = grep { $_ != ($fresh_set // -1) } @big;
    my ($x, @more) = @{ $in{ $two // -1 } || [] };

    # A throttled address makes room last: a flood of addresses failing
    # once each pushes out each other, not it (else anyone with enough
    # addresses could have a guesser forgotten at the price of one failure
    # per entry).  Only a set of eight throttled addresses pushes it out;
    # it is held back no more then, and the gauge says so.
    my $held = throttled_clients();
    is_deeply([map { fail_from($x) } 1 .. $FAILS + 1], [(401) x $FAILS, 429], "$x: $FAILS failures, then 429");
    is(throttled_clients(), $held + 1, 'one more throttled client');
    cmp_ok(scalar @more, '>=', 16, "sixteen addresses of $x\'s set ($two)");
    is(token_from($_), 401, "$_ of its set: a failure") for @more[0 .. 15];
    is(fail_from($x), 429, "$x kept through sixteen later windows of its set: still 429");
    is(throttled_clients(), $held + 1, '  and still counted as throttled');
    # Pushed out by the later ones, each starts afresh: $FAILS failures.
    for my $m (@more[0 .. 7]) {
        is(token_from($m), 401, "$m of its set: failure $_") for 1 .. $FAILS;
    }
    is(fail_from($x), 401, "$x pushed out by eight throttled addresses: counted afresh (401)");
    # Its own new count took the place of the first of the eight, the set
    # being full of throttled addresses: nine held back, two pushed out.
    is(throttled_clients(), $held + 7, 'bbtoken_throttled_clients no longer counts it, nor the one its count pushed out');
};

subtest 'addresses of one set under the old public hash (FNV-1a) do not share one' => sub {
    my $mark = log_mark($env);
    $env->httpd_restart(graceful => 1, throttle => "$THROTTLE\nBBTokenThrottleSize 65536");
    ok(wait_log($env, $mark, qr/BBT503: /), 'restarted');
    my (undef, $room) = room($mark);
    my $sets = $room / 8;
    my $who = '127.3.0.9';
    my @mates = (grep { fnv_set_of($_, $sets) == fnv_set_of($who, $sets) } addresses(7, 8000))[0 .. 7];
    ok(!grep(!defined, @mates), "eight addresses an attacker would choose: $who\'s set under FNV-1a (of $sets)");
    is(after_flood($who, $FAILS, 1, @mates), 429, "their failures leave $who\'s count alone: 429");
    my $set = sets_since($mark, $who, @mates);
    is(scalar(keys %$set), 9, 'each failing address told its set (BBT780)');
    my %distinct = map { $_ => 1 } values %$set;
    cmp_ok(scalar(keys %distinct), '>', 1, 'they lie in ' . scalar(keys %distinct) . ' sets, not one');
};

subtest 'BBTokenThrottleSize is checked at startup' => sub {
    for my $bad ("BBTokenThrottleSize 1000\n", "BBTokenThrottleSize 1m\n", "BBTokenThrottleSize 67108864\n",
                 "BBTokenThrottleSize\n", "<VirtualHost 127.0.0.1:1>\n    BBTokenThrottleSize 65536\n</VirtualHost>\n") {
        my ($rc, $out) = $env->config_test($bad);
        (my $name = $bad) =~ s/\s+/ /g;
        ok($rc != 0 && $out =~ /BBTokenThrottleSize/, "refused: $name") or diag $out;
    }
    my ($rc, $out) = $env->config_test("BBTokenThrottleSize 67108863\n");
    is($rc, 0, 'accepted: 67108863') or diag $out;
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
