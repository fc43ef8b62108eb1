#!/usr/bin/perl
# Benchmark: the same static file behind each way in, in one run, on one
# httpd, each figure also as a ratio to the file served with no auth.
# Prints figures; asserts nothing.
#
#   /raw/...    a repository's files served by httpd alone (no auth)
#   /dumb/...   the same files behind AuthType BBToken: on the main
#               server with the token cache, on a second port (a virtual
#               host with BBTokenCache off) without it
#   /adbd/...   the same files behind mod_authn_dbd (a {SHA} password, one
#               query per request), /adbdc/... with mod_authn_socache too,
#               /adbdz/... with mod_authz_dbd's group query too (two)
#   /afile/...  the same behind mod_authn_file ({SHA}, a one-line file), and
#   /anon/...   behind mod_authn_anon, which checks nothing: the floor, what
#               httpd's own authn and authz phases cost a location
#   /open/...   git-http-backend with no auth; /scm/... behind the module
#
# Then forged tokens (a valid checksum: an unknown id, a known id with a
# wrong secret, and a thousand distinct ones in turn), the revocation
# latency on two httpd servers sharing the database, and what a token
# adds to a git clone.
#
# The measurements run in rounds (BENCH_ROUNDS, default 3), each round
# every case once, in turn, so that a machine busy with something else
# for a while weighs on every case alike; each figure is the median of its
# rounds, each ratio the median of the round's ratios (with their range,
# and where that median lies with 95% confidence).
# A warm-up of BENCH_WARMUP seconds a case (default 2; 0 for none) runs
# first.  BENCH_CASES (a pattern over the labels) keeps a few cases for
# many rounds; BENCH_REVOKES=0 and BENCH_CLONES=0 leave those parts out.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use BBT::Peers;
use HTTP::Tiny;
use List::Util qw(shuffle);
use Time::HiRes qw(time sleep);
use BBT::Env qw(mistype_token forge_token auth_bearer);

my $secs = $ENV{BENCH_SECONDS} || 5;
my $conns = $ENV{BENCH_CONNECTIONS} || 16;
my $clones = $ENV{BENCH_CLONES} // 20;
my $revokes = $ENV{BENCH_REVOKES} // 10;
my $rounds = $ENV{BENCH_ROUNDS} || 3;
my $port2 = BBT::Util::free_port();

my $extra = BBT::Peers::conf() . <<"EOC";
ScriptAlias /open/ $BBT::Env::GIT_BACKEND/
EOC
my %common = (
    loglevel => 'warn',
    modules  => [@BBT::Peers::MODULES],
    mpm_conf => "StartServers 2\nServerLimit 2\nThreadsPerChild 32\n"
              . "ThreadLimit 32\nMaxRequestWorkers 64\n",
);
my $env = BBT::Env->new(
    %common,
    extra_conf => "$extra\nListen 127.0.0.1:$port2\n<VirtualHost 127.0.0.1:$port2>\n"
                . "    BBTokenCache off\n</VirtualHost>\n",
)->start;
# A second server on the same database, for the revocation latency.
my $env2 = BBT::Env->new(%common, extra_conf => $extra, pg_from => $env)->start;
$_->make_repo('PROJ', 'repo') for $env, $env2;
$env->user_add('alice');
$env->grant('alice', 'REPO_READ', 'PROJ/repo');
my ($token, $id) = $env->token_create('alice', name => 'bench', perms => ['REPO_READ']);
my $pw = BBT::Peers::setup($env);
my $base = $env->base_url;
my $base2 = "http://127.0.0.1:$port2";
sleep 1;    # the listeners connect

# The CPU time (user and system, in clock ticks) httpd's children of the
# main server have used so far.  Requests a second are shared with wrk on
# the same processors, and move with whatever else the machine runs; the
# children's CPU time for each request served is httpd's own cost, the
# kernel's work for its sockets and files included.
my $hz = `getconf CLK_TCK` + 0 || 100;
sub httpd_ticks {
    my $t = 0;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my @f = split ' ', ($line =~ s/^.*\) //sr);
        $t += $f[11] + $f[12] if $f[1] == $env->{httpd_pid};
    }
    return $t;
}

sub wrk {
    my ($url, $auth, $script, $for) = @_;
    $for //= $secs;
    my @h = $auth ? ('-H', "Authorization: $auth") : ();
    my @s = $script ? ('-s', $script) : ();
    my $ticks = httpd_ticks();
    my $out = `wrk -t2 -c$conns -d${for}s --latency @{[ map { "'$_'" } @h, @s ]} '$url' 2>&1`;
    $ticks = httpd_ticks() - $ticks;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    # No figure is a failed run (wrk missing, the server gone), not 0 req/s.
    die "bench: wrk measured nothing for $url: $out\n" unless defined $rps;
    my ($n) = $out =~ /(\d+) requests in/;
    my ($p50) = $out =~ /^\s+50%\s+(\S+)/m;
    my ($p99) = $out =~ /^\s+99%\s+(\S+)/m;
    my ($non2xx) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
    return { rps => $rps, p50 => $p50 // '?', p99 => $p99 // '?', non2xx => $non2xx // 0,
             cpu => $n ? $ticks / $hz * 1e6 / $n : 0 };
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return @v ? $v[$#v / 2] : 0;
}

# Where the median of what the rounds measure lies, with 95% confidence,
# from the sorted rounds alone (no assumption about how they spread): the
# k-th smallest and the k-th largest, for the largest k such that fewer
# than k of the rounds fall below the true median with a chance of at
# most 2.5% (each round falls below it with a chance of one half).  Empty
# under six rounds, too few for any k.
sub median_interval {
    my @v = @_;
    my $n = @v;
    my ($k, $p, $below) = (0, 0.5**$n, 0);
    for my $j (0 .. $n) {
        $below += $p;    # the chance that at most j rounds fall below it
        last if $below > 0.025;
        $k = $j + 1;
        $p *= ($n - $j) / ($j + 1);
    }
    return $k ? ($v[$k - 1], $v[$n - $k]) : ();
}

my $file = '/PROJ/repo.git/HEAD';
my $lua = $env->dir . '/forged.lua';
open my $lh, '>', $lua or die "$lua: $!";
print $lh "local t = {\n", (map { '"Bearer ' . forge_token(sprintf '%012d', 500000000000 + $_) . "\",\n" } 1 .. 1000),
    "}\nlocal i = 0\nrequest = function()\n  i = i % #t + 1\n"
  . "  return wrk.format(nil, nil, { Authorization = t[i] })\nend\n";
close $lh;
# label, URL, Authorization, refused?, wrk script
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
    ['forged: unknown id (401)', "$base/dumb$file", 'Bearer ' . forge_token('000000000042'), 1],
    ['forged: known id, wrong secret (401)', "$base/dumb$file", 'Bearer ' . forge_token($id), 1],
    ['forged: 1000 distinct, in turn (401)', "$base/dumb$file", undef, 1, $lua],
    ['mistyped token (401, no lookup)', "$base/dumb$file", 'Bearer ' . mistype_token($token), 1],
);
# BENCH_CASES (a Perl pattern over the labels) keeps only the cases it
# matches, and the static file, the reference: a few cases over many
# rounds, each measured nearer in time to the static file its ratio is
# taken to, narrow those cases' medians in the time the whole list takes.
if (defined $ENV{BENCH_CASES}) {
    my $only = qr/$ENV{BENCH_CASES}/;
    @cases = ($cases[0], grep { $_->[0] =~ $only } @cases[1 .. $#cases]);
}
# Every case once before the rounds, not counted: the first requests of a
# run fill what a steady stream finds filled (httpd's threads and pools,
# the cache and each thread's copies of its entries, mod_dbd's
# connections), and in the first round they fell on whichever case came
# first.  Then each round takes the cases in an order of its own (the same
# orders in every run), so that no case always comes first, or after the
# same one.
my $warm = $ENV{BENCH_WARMUP} // 2;
if ($warm) {
    wrk(@{$_}[1, 2, 4], $warm) for @cases;
}
my @runs;    # [case][round]
srand(1);
for my $round (1 .. $rounds) {
    for my $i (shuffle(0 .. $#cases)) {
        my (undef, $url, $auth, undef, $script) = @{ $cases[$i] };
        push @{ $runs[$i] }, wrk($url, $auth, $script);
    }
}
srand();

print "mod_bbtoken benchmark: wrk -t2 -c$conns -d${secs}s on 127.0.0.1, httpd event MPM, ",
      "PostgreSQL 15 on loopback; median of $rounds rounds\n\n";
# A round's ratios move by several hundredths on a busy or slow machine:
# their range is printed beside their median.  "cpu us" is the median of
# the rounds' httpd CPU time (its main server's children, user and system)
# for each request served, in microseconds: what wrk's share of the
# processors and the machine's other work do not move as much as they move
# requests a second.  PostgreSQL's work for an uncached case is not in it.
printf "%-38s %10s %8s %11s %11s   %8s %8s %7s\n", '', 'req/s', 'x static', 'rounds', 'median 95%',
    'p50', 'p99', 'cpu us';
for my $i (0 .. $#cases) {
    my ($label, undef, undef, $refused) = @{ $cases[$i] };
    my @r = @{ $runs[$i] };
    my $rps = median(map { $_->{rps} } @r);
    my @ratios = sort { $a <=> $b }
        map { $runs[0][$_]{rps} ? $r[$_]{rps} / $runs[0][$_]{rps} : 0 } 0 .. $#r;
    my $ratio = median(@ratios);
    my $range = sprintf '%.2f-%.2f', $ratios[0], $ratios[-1];
    my @in = median_interval(@ratios);
    my $interval = @in ? sprintf('%.2f-%.2f', @in) : '-';
    my ($mid) = grep { $_->{rps} == $rps } @r;
    my $non2xx = 0;
    $non2xx += $_->{non2xx} for @r;
    my $note = $refused ? ($non2xx ? '   (refused, as it should be)' : '   (NOT refused!)')
             : ($non2xx ? "   ($non2xx failed!)" : '');
    printf "%-38s %10.0f %7.2fx %11s %11s   %8s %8s %7.1f%s\n", $label, $rps, $ratio, $range,
        $interval, $mid->{p50}, $mid->{p99}, median(map { $_->{cpu} } @r), $note;
}

# Revocation: a token both servers answer from their caches is revoked
# (a plain UPDATE, which the trigger notifies); each server is asked until
# it refuses.  Measured from the commit (PostgreSQL's clock, the same
# host's), to the first 401.
if ($revokes) {
    print "\nrevocation latency, two httpd servers on one database ($revokes tokens):\n";
    my %lat;
    my @ua = map { HTTP::Tiny->new(keep_alive => 1, timeout => 10) } 1 .. 2;
    my @url = ($env->url("/dumb$file"), $env2->url("/dumb$file"));
    for my $n (1 .. $revokes) {
        my ($tok, $tid) = $env->token_create('alice', name => "revoke $n", perms => ['REPO_READ']);
        sleep 0.6;    # past the notification of its creation
        for my $i (0, 1) {
            $ua[$i]->get($url[$i], { headers => auth_bearer($tok) }) for 1 .. 3;
        }
        my $t0 = $env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$tid'; "
                            . "SELECT extract(epoch FROM clock_timestamp())");
        for my $i (0, 1) {
            my $deadline = time + 5;
            my $st;
            do { $st = $ua[$i]->get($url[$i], { headers => auth_bearer($tok) })->{status} }
                while $st == 200 && time < $deadline;
            push @{ $lat{$i} }, $st == 401 ? (time - $t0) * 1000 : 5000;
        }
    }
    for my $i (0, 1) {
        my @l = sort { $a <=> $b } @{ $lat{$i} };
        printf "  server %s: median %.0f ms, max %.0f ms (%s)\n", $i ? 'B' : 'A', $l[$#l / 2], $l[-1],
            join(' ', map { sprintf '%.0f', $_ } @{ $lat{$i} });
    }
}

sub clones {
    my ($label, $url) = @_;
    my $t0 = time;
    for my $i (1 .. $clones) {
        my $dst = $env->workdir("c");
        my ($rc, undef, $err) = $env->git('clone', '-q', $url, $dst);
        die "clone failed: $err" if $rc;
        system('rm', '-rf', $dst);
    }
    my $ms = (time - $t0) * 1000 / $clones;
    printf "%-38s %10.1f ms per clone (%d clones)\n", $label, $ms, $clones;
    return $ms;
}

if ($clones) {
    print "\n";
    my $c_open = clones('git clone, no auth', "$base/open/PROJ/repo.git");
    my $c_tok = clones('git clone, mod_bbtoken Basic (cached)', $env->clone_url('alice', $token, 'PROJ', 'repo'));
    printf "clone overhead: %+.1f ms (%+.1f%%); %.2fx the clone without auth\n", $c_tok - $c_open,
        100 * ($c_tok - $c_open) / $c_open, $c_open / $c_tok;
}
