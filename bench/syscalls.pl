#!/usr/bin/perl
# What one request costs the kernel: the system calls httpd's child makes
# for the static file, the floor and a cached token (Bearer and Basic),
# and, with the database asked every time, the token with BBTokenCache off
# and mod_authn_dbd's {SHA} password (bench/bench.pl's peers), counted,
# not timed, so that a change to the module can be judged on a
# busy machine by what it asks of the kernel.
#
#   perl bench/syscalls.pl [REQUESTS]        (default 300 a case)
#   BENCH_SYSCALLS_LOAD=SECONDS: under wrk's load too (perf stat)
#   BENCH_SYSCALLS_KEEP=1: keep strace's files (their directory is printed)
#
# One request at a time: httpd with one child (event MPM, 8 threads) and
# strace following every thread of it from after a case's warm-up to
# after its requests, all over one kept-alive connection; then an idle
# stretch as long, on the same connection, whose calls (the cache's
# listener, the MPM's timers) are taken off the case's.  So each figure is
# the calls a request makes, to about a hundredth (the listener's calls
# come every 100 ms and net to within a few hundredths either way).  A
# case may show a few tenths more epoll_ctl, epoll_wait, futex and read:
# the MPM handing the connection back to its listener when the client was
# slow to send its next request, which moves from case to case between
# runs.
#
# Under load (BENCH_SYSCALLS_LOAD): bench/bench.pl's MPM sizing (2
# children of 32 threads) and wrk (2 threads, 16 connections) for that
# many seconds a case, with perf stat counting the children's calls (its
# syscalls tracepoints), context switches and page faults: what contention
# (a lock's futex, a thread handed a connection) adds, which one request
# at a time cannot show.  Needs perf and wrk; each figure is per request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use BBT::Peers;
use HTTP::Tiny;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use BBT::Env;
use BBT::Util;

my $n = $ARGV[0] || 300;
my $load = $ENV{BENCH_SYSCALLS_LOAD} || 0;
my $file = '/PROJ/repo.git/HEAD';
# Not in build/deps.sh: the tools this alone needs.
for my $tool ('strace', $load ? ('perf', 'wrk') : ()) {
    system("command -v $tool >/dev/null") == 0 or die "bench/syscalls.pl needs $tool (apt-get install "
        . ($tool eq 'perf' ? 'linux-perf' : $tool) . ")\n";
}

# An httpd (and its database) with the token and the cases.
sub setup {
    my ($mpm) = @_;
    my $port2 = BBT::Util::free_port();
    my $env = BBT::Env->new(
        loglevel   => 'warn',
        modules    => [@BBT::Peers::MODULES],
        extra_conf => BBT::Peers::conf() . "\nListen 127.0.0.1:$port2\n<VirtualHost 127.0.0.1:$port2>\n"
                    . "    BBTokenCache off\n</VirtualHost>\n",
        mpm_conf   => $mpm,
    )->start;
    $env->make_repo('PROJ', 'repo');
    $env->user_add('alice');
    $env->grant('alice', 'REPO_READ', 'PROJ/repo');
    my ($token) = $env->token_create('alice', name => 'syscalls', perms => ['REPO_READ']);
    my $pw = BBT::Peers::setup($env);
    sleep 2;    # the listener connects, the setup's notifications are in
    my $base = $env->base_url;
    # The static file, the floor (mod_authn_anon, which checks nothing), a
    # cached token, the token on the host with the cache off and
    # mod_authn_dbd, as bench/bench.pl serves them.
    my @cases = (
        ['static', "$base/raw$file"],
        ['floor', "$base/anon$file", BBT::Peers::anon($env)],
        ['Bearer', "$base/dumb$file", "Bearer $token"],
        ['Basic', "$base/dumb$file", $env->basic('alice', $token)],
        ['uncached', "http://127.0.0.1:$port2/dumb$file", "Bearer $token"],
        ['authn_dbd', "$base/adbd$file", $env->basic('alice', $pw)],
    );
    # The MPM's children: those with threads (mod_cgid's daemon has one).
    my @kids = map { /^\s*(\d+)\s+(\d+)/ && $2 > 1 ? $1 : () }
        `ps -o pid=,nlwp= --ppid $env->{httpd_pid}`;
    die "no child of httpd $env->{httpd_pid}\n" unless @kids;
    return ($env, \@kids, @cases);
}

# Runs $code with strace on $pid's threads; returns {call => count}.
sub traced {
    my ($pid, $code, $out) = @_;
    my $st = fork // die "fork: $!";
    if (!$st) {
        exec('strace', '-f', '-qq', '-o', $out, '-p', $pid) or die "strace: $!";
    }
    # Attached once it has written its first line (a thread waiting in a
    # call); then a moment for the others.
    for (1 .. 200) { last if -s $out; sleep 0.05 }
    sleep 0.5;
    $code->();
    kill 'INT', $st;
    waitpid($st, 0);
    my %c;
    open my $h, '<', $out or die "$out: $!";
    while (<$h>) {
        # A call cut by another thread's line shows as "<unfinished ...>"
        # and again as "<... resumed>": counted once, at its start.
        $c{$1}++ if /^\d+\s+(\w+)\(/;
    }
    return \%c;
}

# Prints the table: one row a call, one column a case.
sub table {
    my ($title, $res) = @_;
    my %all;
    $all{$_}++ for map { keys %{ $_->[1] } } @$res;
    print "$title\n\n";
    printf "%-18s" . (" %8s" x @$res) . "\n", '', map { $_->[0] } @$res;
    for my $s ((sort grep { !/^ / } keys %all), sort grep {/^ /} keys %all) {
        printf "%-18s" . (" %8.2f" x @$res) . "\n", $s, map { $_->[1]{$s} // 0 } @$res;
    }
    print "\n";
}

{
    my ($env, $kids, @cases) = setup(BBT::Util::one_child_mpm(8));
    my $dir = tempdir('bbt-syscalls-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp',
                      CLEANUP => !$ENV{BENCH_SYSCALLS_KEEP});
    my @res;
    for my $c (@cases) {
        my ($label, $url, $auth) = @$c;
        my $i = @res;
        my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
        my %h = $auth ? (headers => { Authorization => $auth }) : ();
        # Warm: the connection open, every thread used, the cache's entry
        # and the threads' copies made.
        $ua->get($url, \%h) for 1 .. 40;
        my %st;
        my $t0 = time;
        my $busy = traced($kids->[0], sub { $st{ $ua->get($url, \%h)->{status} }++ for 1 .. $n }, "$dir/case.$i");
        my $secs = time - $t0;
        my $idle = traced($kids->[0], sub { sleep $secs }, "$dir/idle.$i");
        my %per = map { $_ => (($busy->{$_} // 0) - ($idle->{$_} // 0)) / $n } keys %{ { %$busy, %$idle } };
        my $t = 0;
        $t += $_ for values %per;
        $per{' total'} = $t;
        die "$label: " . join(' ', map {"$_ x$st{$_}"} sort keys %st) . "\n" if ($st{200} // 0) != $n;
        push @res, [$label, \%per];
    }
    table(sprintf('httpd\'s child, system calls per request (strace, %d requests a case, one at a time)', $n), \@res);
    print "strace's files kept in $dir\n\n" if $ENV{BENCH_SYSCALLS_KEEP};
    $env->cleanup;
}

exit 0 unless $load;

{
    my ($env, $kids, @cases) = setup("StartServers 2\nServerLimit 2\nThreadsPerChild 32\n"
                                     . "ThreadLimit 32\nMaxRequestWorkers 64\n");
    my @calls = qw(futex read write writev openat newfstatat epoll_wait epoll_ctl mmap munmap close
                   poll sendto recvfrom clock_gettime getpid fcntl flock semop sched_yield madvise brk
                   mprotect);
    my @ev = ('raw_syscalls:sys_enter', 'context-switches', 'page-faults', map {"syscalls:sys_enter_$_"} @calls);
    my $dir = tempdir('bbt-syscalls-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
    my @res;
    for my $c (@cases) {
        my ($label, $url, $auth) = @$c;
        my @h = $auth ? ('-H', "Authorization: $auth") : ();
        # Warm, unreported.
        system("wrk -t2 -c16 -d2s " . join(' ', map {"'$_'"} @h, $url) . ' >/dev/null') == 0 or die "wrk: $?\n";
        my $i = @res;
        open my $p, '-|', 'perf', 'stat', '-x,', '-o', "$dir/perf.$i", '-e', join(',', @ev),
            '-p', join(',', @$kids), '--', 'wrk', '-t2', '-c16', "-d${load}s", @h, $url
            or die "perf: $!";
        my $out = join '', <$p>;
        close $p or die "perf stat: $?\n";
        my ($reqs) = $out =~ /(\d+) requests in/ or die "wrk: $out\n";
        my ($bad) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
        die "$label: $bad answers not 200\n" if $bad;
        my %per;
        open my $h, '<', "$dir/perf.$i" or die "$dir/perf.$i: $!";
        while (<$h>) {
            my @f = split /,/;
            next unless @f > 3 && $f[0] =~ /^\d+$/;
            (my $k = $f[2]) =~ s/^syscalls:sys_enter_//;
            $k = ' total' if $k eq 'raw_syscalls:sys_enter';
            $k = ' context switches' if $k eq 'context-switches';
            $k = ' page faults' if $k eq 'page-faults';
            $per{$k} = $f[0] / $reqs if $f[0] > 0;
        }
        push @res, [$label, \%per];
    }
    table("httpd's children, per request under wrk (perf stat, $load s a case, 16 connections)", \@res);
    $env->cleanup;
}
