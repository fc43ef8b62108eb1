# Memory stays bounded while every lookup fails on a live connection: the
# lookup's statement is prepared again at each failure, and a pooled
# connection lives as long as it is busy.  httpd's role loses its SELECT on
# bbtoken_lookup (as between `bbtoken db upgrade` and grants.sql: BBT074,
# 503), and one child's resident size is read before and after as many
# requests (a wrong secret for a real id, the cache off) as while the
# lookups were answered.  It may grow no more than 1 MB beyond what it
# grew then: preparing into the connection's own pool kept some 240 bytes
# a request for good, 2.4 MB here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(forge_token);
use BBT::Assert;
use BBT::Util qw(run_cmd one_child_mpm threaded_child rss_kb);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $env = BBT::Env->new(extra_conf => "BBTokenCache off\n", loglevel => 'crit',
                        mpm_conf => one_child_mpm(16) . "MaxConnectionsPerChild 0\n")->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my (undef, $id) = $env->token_create('alice', name => 'memory');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $auth = 'Bearer ' . forge_token($id);
my $N = 10_000;

# $n requests by ab over keep-alive connections, every one answered $want.
sub load {
    my ($n, $want) = @_;
    my ($rc, $out, $err) = run_cmd(cmd => ['ab', '-q', '-k', '-n', $n, '-c', 8, '-H', "Authorization: $auth",
                                           $env->url($UP)], tmp => "$env->{dir}/run", timeout => 600);
    die "ab failed ($rc): $err$out" if $rc;
    my ($done) = $out =~ /Complete requests:\s+(\d+)/;
    my ($non2xx) = $out =~ /Non-2xx responses:\s+(\d+)/;
    die "ab: $done of $n done\n$out" unless ($done // 0) == $n && ($non2xx // 0) == $n;
}

# The child's growth over $N requests, after a warm-up.
sub growth {
    my ($want) = @_;
    is($env->get($UP, { Authorization => $auth })->{status}, $want, "a wrong secret: $want");
    my $pid = threaded_child($env->{httpd_pid});
    load(1000);
    my $before = rss_kb($pid);
    load($N);
    is(threaded_child($env->{httpd_pid}), $pid, '  the same child served them all');
    return rss_kb($pid) - $before;
}

my $answered = growth(401);
$env->psql('REVOKE SELECT ON bbtoken_lookup FROM bbtoken_httpd');
my $failing = growth(503);
cmp_ok($failing, '<', $answered + 1024,
       "$N failing lookups: the child grew $failing kB (answered: $answered kB)");
done_testing;
