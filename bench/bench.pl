#!/usr/bin/perl
# Benchmark: the same requests with and without mod_bbtoken, in one run, on
# one httpd.  Prints figures; asserts nothing.
#
#   /raw/...   a repository's files served by httpd alone (no auth)
#   /dumb/...  the same files behind AuthType BBToken (Bearer and Basic)
#   /open/...  git-http-backend with no auth
#   /scm/...   git-http-backend behind AuthType BBToken
#
# The static file isolates the module's cost per request (parse, checksum,
# one query, HMAC); the clones show what it adds to real git traffic.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use BBT::Env qw(mistype_token);
use Time::HiRes qw(time);

my $secs = $ENV{BENCH_SECONDS} || 5;
my $conns = $ENV{BENCH_CONNECTIONS} || 16;
my $clones = $ENV{BENCH_CLONES} || 20;

my $extra = <<"EOC";
Alias /raw/ "\@DIR\@/repos/"
Alias /dumb/ "\@DIR\@/repos/"
<Directory "\@DIR\@/repos">
    Require all granted
</Directory>
<Location /dumb>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /dumb
    Require bbtoken
</Location>
ScriptAlias /open/ $BBT::Env::GIT_BACKEND/
EOC

my $env = BBT::Env->new(
    extra_conf => $extra,
    loglevel   => 'warn',
    mpm_conf   => "StartServers 2\nServerLimit 2\nThreadsPerChild 32\n"
                . "ThreadLimit 32\nMaxRequestWorkers 64\n",
)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'REPO_READ', 'PROJ/repo');
my $token = $env->token_create('alice', name => 'bench', perms => ['REPO_READ']);
my $base = $env->base_url;

sub wrk {
    my ($label, $path, $auth, $refused) = @_;
    my @h = $auth ? ('-H', "Authorization: $auth") : ();
    my $out = `wrk -t2 -c$conns -d${secs}s --latency @{[ map { "'$_'" } @h ]} '$base$path' 2>&1`;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my ($p50) = $out =~ /^\s+50%\s+(\S+)/m;
    my ($p99) = $out =~ /^\s+99%\s+(\S+)/m;
    my ($non2xx) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
    my $note = $refused ? ($non2xx ? '   (refused, as it should be)' : '   (NOT refused!)')
             : ($non2xx ? "   ($non2xx failed!)" : '');
    printf "%-38s %10s req/s   p50 %8s   p99 %8s%s\n", $label, $rps // '?', $p50 // '?',
        $p99 // '?', $note;
    return $rps;
}

sub clones {
    my ($label, $url, @cfg) = @_;
    my $t0 = time;
    for my $i (1 .. $clones) {
        my $dst = $env->workdir("c");
        my ($rc, undef, $err) = $env->git(@cfg, 'clone', '-q', $url, $dst);
        die "clone failed: $err" if $rc;
        system('rm', '-rf', $dst);
    }
    my $ms = (time - $t0) * 1000 / $clones;
    printf "%-38s %10.1f ms per clone (%d clones)\n", $label, $ms, $clones;
    return $ms;
}

print "mod_bbtoken benchmark: wrk -t2 -c$conns -d${secs}s on 127.0.0.1, ",
      "httpd event MPM, PostgreSQL 15 on loopback\n\n";
my $file = '/PROJ/repo.git/HEAD';
my $raw = wrk('static file, no auth', "/raw$file");
my $bearer = wrk('static file, mod_bbtoken Bearer', "/dumb$file", "Bearer $token");
my $basic = wrk('static file, mod_bbtoken Basic', "/dumb$file", $env->basic('alice', $token));
my $bad = wrk('static file, mistyped token (401)', "/dumb$file",
              'Bearer ' . mistype_token($token), 1);
if ($raw && $bearer) {
    printf "\nper-request cost of the module at this concurrency: %.0f us "
        . "(1/%.0f - 1/%.0f s x %d connections)\n",
        ($conns / $bearer - $conns / $raw) * 1e6, $bearer, $raw, $conns;
}
print "\n";
my $c_open = clones('git clone, no auth', "$base/open/PROJ/repo.git");
my $c_tok = clones('git clone, mod_bbtoken Basic', $env->clone_url('alice', $token, 'PROJ', 'repo'));
printf "\nclone overhead: %+.1f ms (%+.1f%%)\n", $c_tok - $c_open, 100 * ($c_tok - $c_open) / $c_open;
