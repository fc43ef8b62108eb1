#!/usr/bin/perl
# What one request costs httpd, counted in instructions (valgrind's
# callgrind), not timed: the count does not move with the machine's load,
# so a change to the module can be judged on a busy machine.
#
#   perl bench/profile.pl [REQUESTS]         (default 200 per case)
#   BENCH_PROFILE_KEEP=1: keep the callgrind files (their directory is
#   printed) for callgrind_annotate
#
# httpd runs as one process (-X, event MPM) under callgrind, collecting
# only inside ap_run_process_connection (each request on a kept-alive
# connection is one call: reading it, the hooks, the handler, the log),
# so the listener's thread and start-up are not counted.  The cases are
# told apart by dumps, and callgrind_control (vgdb) cannot be used for
# them (it stops httpd for good where ptrace is limited): a request for a
# marker page (mod_status's, which calls ap_get_server_built) makes
# callgrind dump and zero its counters (--dump-before).  For each case:
# warm-up requests, the marker, the requests over one kept-alive
# connection, the marker; the dump between the markers, less what two
# markers in a row cost, is the case's.  The figure is instructions per
# request, and the ratio is the static file's count over the case's (what
# the case would get of the static file's speed if instructions were
# time).  The same file is served in every case, as in bench/bench.pl.
#
# PostgreSQL's side of the uncached cases is not here: pg_stat_statements
# counts it (printed at the end: calls, plans and mean time per statement
# of the module's, and of mod_authn_dbd's for comparison).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use BBT::Peers;
use HTTP::Tiny;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);
use BBT::Env qw(mistype_token forge_token);
use BBT::Cache qw(wait_log);

my $n = $ARGV[0] || 200;
my $port2 = BBT::Util::free_port();
my $extra = BBT::Peers::conf() . <<"EOC";
<Location /bbt-profile-marker>
    SetHandler server-status
</Location>
Listen 127.0.0.1:$port2
<VirtualHost 127.0.0.1:$port2>
    BBTokenCache off
</VirtualHost>
EOC
my $env = BBT::Env->new(
    loglevel   => 'warn',
    httpd      => 0,
    modules    => ['status', @BBT::Peers::MODULES],
    extra_conf => $extra,
    pg_conf    => { shared_preload_libraries => "'pg_stat_statements'",
                    'pg_stat_statements.track_planning' => 'on' },
)->start;
$env->stat_statements_on;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'REPO_READ', 'PROJ/repo');
my ($token, $id) = $env->token_create('alice', name => 'profile', perms => ['REPO_READ']);
my $pw = BBT::Peers::setup($env);
my $conf = $env->write_conf;

my $out = tempdir('bbt-profile-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => !$ENV{BENCH_PROFILE_KEEP});
chmod 0777, $out;
my $pid = fork // die "fork: $!";
if (!$pid) {
    exec('valgrind', '--tool=callgrind', "--callgrind-out-file=$out/cg.%p", '--collect-atstart=no',
         '--toggle-collect=ap_run_process_connection', '--dump-before=ap_get_server_built',
         '/usr/sbin/apache2', '-X', '-f', $conf);
    die "exec valgrind: $!";
}
my $up;
for (1 .. 400) { last if $up = BBT::Env::port_open($env->port); sleep 0.25 }
die "httpd did not come up under callgrind\n" unless $up;
wait_log($env, 0, qr/BBT309: /, 120) or die "the cache's listener did not come up\n";

my $file = '/PROJ/repo.git/HEAD';
my $base = $env->base_url;
my $base2 = "http://127.0.0.1:$port2";
my @cases = (
    ['static file, no auth', "$base/raw$file"],
    ['token, cached (Bearer)', "$base/dumb$file", "Bearer $token"],
    ['token, cached (Basic)', "$base/dumb$file", $env->basic('alice', $token)],
    ['token, BBTokenCache off (Bearer)', "$base2/dumb$file", "Bearer $token"],
    ['mod_authn_dbd, {SHA} password', "$base/adbd$file", $env->basic('alice', $pw)],
    ['mod_authn_dbd + mod_authn_socache', "$base/adbdc$file", $env->basic('alice', $pw)],
    ['mod_authn_dbd + mod_authz_dbd group', "$base/adbdz$file", $env->basic('alice', $pw)],
    ['mod_authn_file, {SHA} password', "$base/afile$file", $env->basic('alice', $pw)],
    ['floor: mod_authn_anon, no check', "$base/anon$file", BBT::Peers::anon($env)],
    ['forged: unknown id (401)', "$base/dumb$file", 'Bearer ' . forge_token('000000000042')],
    ['forged: known id, wrong secret (401)', "$base/dumb$file", 'Bearer ' . forge_token($id)],
    ['mistyped token (401, no lookup)', "$base/dumb$file", 'Bearer ' . mistype_token($token)],
);

# The total of a callgrind file.
sub total {
    my ($f) = @_;
    open my $h, '<', $f or die "$f: $!";
    while (<$h>) { return $1 if /^(?:summary|totals):\s+(\d+)/ }
    return 0;
}

# Ask for the marker page: callgrind dumps as it starts.  Returns the
# largest total of the dumps it made (the page may make more than one).
my %seen;
sub marker {
    my $r = HTTP::Tiny->new(timeout => 120)->get("$base/bbt-profile-marker");
    die "marker: $r->{status}\n" unless $r->{status} == 200;
    my @new = grep { !$seen{$_}++ } glob("$out/cg.$pid.*");
    die "the marker made no dump\n" unless @new;
    my ($max) = sort { $b <=> $a } map { total($_) } @new;
    return $max;
}

# The setup's notifications are in before the entries are made.
sleep 2;
marker();
# What the markers themselves leave in a dump: the end of one, the start
# of the next.
my @base = map { marker() } 1 .. 3;
my ($overhead) = sort { $a <=> $b } @base;
# Warm-up requests a case: the entry made and the connection open, and
# every worker thread used at least once.  The event MPM gives each request
# of a kept-alive connection to whichever of the child's threads (8 here)
# is free, and each thread makes its own copies on its first request (the
# cache's thread block and entries, the route memory), which a steady
# stream has long made: with five, some threads made theirs while
# counted (their allocations showed in the counted requests).
my $warm = 40;
my @res;
for my $c (@cases) {
    my ($label, $url, $auth) = @$c;
    my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
    my %h = $auth ? (headers => { Authorization => $auth }) : ();
    $ua->get($url, \%h) for 1 .. $warm;
    marker();
    my %st;
    $st{ $ua->get($url, \%h)->{status} }++ for 1 .. $n;
    my $ir = marker() - $overhead;
    push @res, [$label, $ir / $n, join(' ', map {"$_ x$st{$_}"} sort keys %st)];
}

kill 'TERM', $pid;
waitpid($pid, 0);

printf "httpd instructions per request (callgrind, %d requests each, one kept-alive connection)\n\n", $n;
printf "%-38s %12s %9s   %s\n", '', 'instr/req', 'static/x', 'statuses';
for my $r (@res) {
    printf "%-38s %12.0f %8.2fx   %s\n", $r->[0], $r->[1], $res[0][1] / $r->[1], $r->[2];
}
print "\nPostgreSQL, the module's statements (pg_stat_statements):\n";
print $env->psql("SELECT rpad(left(regexp_replace(query, '\\s+', ' ', 'g'), 60), 60) || ' calls ' || calls "
                 . "|| ' plans ' || plans || ' exec ' || round(mean_exec_time::numeric * 1000, 1) "
                 . "|| ' us plan ' || round(mean_plan_time::numeric * 1000, 1) || ' us blks ' "
                 . "|| round((shared_blks_hit + shared_blks_read)::numeric / greatest(calls, 1), 1) "
                 . "FROM pg_stat_statements WHERE query ~ 'bbtoken_(lookup|tokens|users)|bench_users' "
                 . "AND userid = 'bbtoken_httpd'::regrole ORDER BY calls DESC", sep => ' '), "\n";
print "callgrind files kept in $out\n" if $ENV{BENCH_PROFILE_KEEP};
