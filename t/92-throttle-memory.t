# The failed-login throttle's shared memory holds under many addresses.
# shmcb lays out each of its caches from the hints it is given and does not
# check that room is left for the data; it says at debug level how it laid
# them out, and every subcache's data must lie inside the subcache.  Then
# failures from two thousand loopback addresses (each a new entry) leave
# every child alive, and a fresh address is still throttled after
# BBTokenThrottleFailures of them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env;

my $FAILS = 3;
my $env = BBT::Env->new(loglevel => 'warn bbtoken:debug socache_shmcb:debug',
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
$env->make_repo('PROJ', 'repo');

# shmcb's own account of each cache it made (the token cache, the
# throttle): offsets and sizes of a subcache.
my $log = $env->error_log_text;
my @size = $log =~ /subcache_size = (\d+)/g;
my @offset = $log =~ /subcache_data_offset = (\d+)/g;
my @data = $log =~ /subcache_data_size = (\d+)/g;
cmp_ok(scalar(@size), '>=', 2, 'shmcb described both caches') or diag $log;
for my $i (0 .. $#size) {
    ok(defined $offset[$i] && defined $data[$i] && $offset[$i] + $data[$i] <= $size[$i],
       "cache $i: its data ($offset[$i] + $data[$i]) lies inside its subcache ($size[$i])");
}

# A token-shaped wrong credential from each of 2000 addresses: each a
# failure, each a new entry.
my $n = 0;
for my $b (1 .. 8) {
    for my $c (1 .. 250) {
        my $r = HTTP::Tiny->new(timeout => 30, local_address => "127.1.$b.$c")
            ->get($env->url($UP), { headers => { Authorization => 'Bearer BBDC-x' } });
        $n++ if $r->{status} == 401;
    }
}
is($n, 2000, 'two thousand addresses, each refused (401)');
my @codes;
for (1 .. $FAILS + 1) {
    push @codes, HTTP::Tiny->new(timeout => 30, local_address => '127.2.0.1')
        ->get($env->url($UP), { headers => { Authorization => $env->basic('nobody', 'wrong') } })->{status};
}
is_deeply(\@codes, [(401) x $FAILS, 429], "a fresh address: $FAILS failures, then 429");
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
