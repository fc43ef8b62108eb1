# The failed-login throttle's shared memory holds under many addresses, and
# BBTokenThrottleSize sizes it.  shmcb lays out each of its caches from the
# hints it is given and does not check that room is left for the data; it
# says at debug level how it laid them out, and every subcache's data must
# lie inside the subcache, at the default size and at the least one.  Then
# an address one failure short of the threshold, failures from two
# thousand other loopback addresses (each a new entry), and the first
# address's last failure: the default 1 MiB holds them all, so the address
# is throttled (429); 64 KiB holds about a thousand, so its count, the
# first to end, was pushed out and starts again (401).  Every child stays
# alive, and a fresh address is still throttled after
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
my $env = BBT::Env->new(loglevel => 'warn bbtoken:debug socache_shmcb:debug', throttle => $THROTTLE)->start;
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
$env->make_repo('PROJ', 'repo');

# A wrong password from address $from: the status.
sub fail_from {
    my ($from) = @_;
    return HTTP::Tiny->new(timeout => 30, local_address => $from)
        ->get($env->url($UP), { headers => { Authorization => $env->basic('nobody', 'wrong') } })->{status};
}

# shmcb's own account of each cache it made (the token cache, the
# throttle) in $log: every subcache's data inside it.
sub layout_ok {
    my ($log, $what) = @_;
    my @size = $log =~ /subcache_size = (\d+)/g;
    my @offset = $log =~ /subcache_data_offset = (\d+)/g;
    my @data = $log =~ /subcache_data_size = (\d+)/g;
    cmp_ok(scalar(@size), '>=', 2, "$what: shmcb described both caches") or diag $log;
    for my $i (0 .. $#size) {
        ok(defined $offset[$i] && defined $data[$i] && $offset[$i] + $data[$i] <= $size[$i],
           "$what: cache $i: its data ($offset[$i] + $data[$i]) lies inside its subcache ($size[$i])");
    }
}

# Address $who one failure short, a token-shaped wrong credential from
# each of 2000 addresses in 127.$net.0.0/16 (each a failure, each a new
# entry), then $who's last failure and one more request: its status.
sub after_flood {
    my ($who, $net) = @_;
    is(fail_from($who), 401, "$who: failure $_") for 1 .. $FAILS - 1;
    my $n = 0;
    for my $b (1 .. 8) {
        for my $c (1 .. 250) {
            my $r = HTTP::Tiny->new(timeout => 30, local_address => "127.$net.$b.$c")
                ->get($env->url($UP), { headers => { Authorization => 'Bearer BBDC-x' } });
            $n++ if $r->{status} == 401;
        }
    }
    is($n, 2000, 'two thousand other addresses, each refused (401)');
    is(fail_from($who), 401, "$who: failure $FAILS");
    return fail_from($who);
}

subtest 'the default size, 1 MiB: the count outlives two thousand other addresses' => sub {
    ok(wait_log($env, 0, qr/BBT503: failed-login throttle on: .*; 1048576 bytes of shmcb/),
       'BBT503 says the size');
    layout_ok($env->error_log_text, 'default');
    is(after_flood('127.3.0.1', 1), 429, 'then throttled: 429');
    is_deeply([map { fail_from('127.2.0.1') } 1 .. $FAILS + 1], [(401) x $FAILS, 429],
              "a fresh address: $FAILS failures, then 429");
};

subtest 'BBTokenThrottleSize 65536: the count, first to end, is pushed out' => sub {
    my $mark = log_mark($env);
    $env->httpd_restart(throttle => "$THROTTLE\nBBTokenThrottleSize 65536");
    ok(wait_log($env, $mark, qr/BBT503: failed-login throttle on: .*; 65536 bytes of shmcb/),
       'BBT503 says the size');
    layout_ok(log_since($env, $mark), 'at 64 KiB');
    is(after_flood('127.3.0.2', 4), 401, 'then counted afresh: 401, not 429');
    is_deeply([map { fail_from('127.2.0.2') } 1 .. $FAILS + 1], [(401) x $FAILS, 429],
              "a fresh address: $FAILS failures, then 429");
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
