#!/usr/bin/perl
# Memory: the resident size of one httpd child before and after a stream of
# malformed and refused requests.  A leak per request shows as growth in
# proportion to their number; the pools' own reuse does not.
#
#   perl bench/memory.pl [REQUESTS]      (default 100000)
#
# One child (event MPM, 16 threads), LogLevel warn, requests by ab (bounded
# in number, not time) over keep-alive connections, in equal parts:
#   no credentials (401), a malformed header (400), a mistyped token (401,
#   no database), an unknown token id (401, one query), a wrong secret for
#   a real id (401, one query), a good token on a path no route covers
#   (403, one query), a wrong password for a password provider (401).
# The last line is for t/72-memory.t:
#   RESULT requests=N warmup=N before_kb=N after_kb=N growth_kb=N same_child=0|1
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use BBT::Env qw(forge_token mistype_token run_cmd b64);

my $requests = $ARGV[0] || 100_000;
my $conc = 8;

my $extra = <<'EOC';
ScriptAlias /pscm/ /usr/lib/git-core/git-http-backend/
<Location /pscm>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd-md5"
    BBTokenRoutes git /pscm
    Require bbtoken
</Location>
EOC
my $one_child = "StartServers 1\nServerLimit 1\nThreadLimit 16\nThreadsPerChild 16\n"
              . "MinSpareThreads 1\nMaxSpareThreads 16\nMaxRequestWorkers 16\nMaxConnectionsPerChild 0\n";
my $env = BBT::Env->new(extra_conf => $extra, loglevel => 'warn', mpm_conf => $one_child, httpd => 0,
                        modules => ['authn_file'])->start;
my $d = $env->dir;
# A fast hash (MD5) for the password users: the point is the module, not
# bcrypt's cost.
my ($rc, $out, $err) = run_cmd(cmd => ['htpasswd', '-b', '-c', '-m', "$d/htpasswd-md5", 'alice', 'right-pw'],
                               tmp => "$d/run");
die "htpasswd: $err" if $rc;
chmod 0644, "$d/htpasswd-md5";
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'memory');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my @kinds = (
    ['no credentials', $UP, undef],
    ['malformed header', $UP, 'Basic !!!!'],
    ['mistyped token', $UP, 'Bearer ' . mistype_token($tok)],
    ['unknown token id', $UP, 'Bearer ' . forge_token('000000000017')],
    ['wrong secret', $UP, 'Bearer ' . forge_token($id)],
    ['no route', '/scm/PROJ/repo.git/config', "Bearer $tok"],
    ['wrong password', '/pscm/PROJ/repo.git/info/refs?service=git-upload-pack',
     'Basic ' . b64('alice:wrong-pw')],
);

sub worker { return BBT::Util::threaded_child($env->{httpd_pid}) }

sub load {
    my ($n) = @_;
    my $each = int($n / @kinds) || 1;
    my $sent = 0;
    for my $k (@kinds) {
        my ($name, $path, $auth) = @$k;
        my @cmd = ('ab', '-q', '-k', '-n', $each, '-c', $conc, ($auth ? ('-H', "Authorization: $auth") : ()),
                   $env->url($path));
        my ($rc, $out, $err) = run_cmd(cmd => \@cmd, tmp => "$d/run", timeout => 600);
        die "ab ($name) failed ($rc): $err$out" if $rc;
        my ($done) = $out =~ /Complete requests:\s+(\d+)/;
        my ($non2xx) = $out =~ /Non-2xx responses:\s+(\d+)/;
        die "ab ($name): $done of $each done\n$out" unless ($done // 0) == $each;
        die "ab ($name): some were not refused\n$out" unless ($non2xx // 0) == $each;
        $sent += $each;
    }
    return $sent;
}

my $warm = int($requests / 10);
my $pid = worker();
print "mod_bbtoken memory: one httpd child, malformed and refused requests (ab -k -c $conc)\n";
my $w = load($warm);
my $before = BBT::Util::rss_kb($pid);
printf "  child RSS after %7d warm-up requests   %8d kB\n", $w, $before;
my $n = load($requests);
my $after = BBT::Util::rss_kb($pid);
my $same = worker() == $pid ? 1 : 0;
printf "  child RSS after %7d more requests      %8d kB\n", $n, $after;
printf "  growth                                    %8d kB (%.1f bytes per request)%s\n", $after - $before,
    ($after - $before) * 1024 / $n, $same ? '' : '   (the child was replaced!)';
print "RESULT requests=$n warmup=$w before_kb=$before after_kb=$after growth_kb=", $after - $before,
    " same_child=$same\n";
