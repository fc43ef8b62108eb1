# The cache under every MPM httpd ships: prefork (children of one thread
# each, plus mod_watchdog's thread), worker and event.  Under each, a token
# is answered from the cache, a revocation is refused without a restart,
# and the server holds one listener connection whatever its number of
# children; when the child that holds it exits, another takes over.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::Util qw(exited);
use BBT::Assert;
use BBT::Cache qw(served_from_cache until_status listener_count wait_log log_mark log_since);

my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my @MPMS = qw(prefork worker event);
my %env;

for my $mpm (@MPMS) {
    subtest $mpm => sub {
        my %o = (mpm => $mpm);
        $o{mpm_conf} = "StartServers 5\nMinSpareServers 5\nMaxSpareServers 8\nServerLimit 8\nMaxRequestWorkers 8\n"
            if $mpm eq 'prefork';
        my $env = $env{$mpm} = BBT::Env->new(%o)->start;
        ok(wait_log($env, 0, qr/\[mpm_$mpm:notice\]/), "httpd runs the $mpm MPM");
        $env->make_repo('PROJ', 'repo');
        $env->user_add('alice');
        $env->grant('alice', 'PROJECT_WRITE', 'PROJ');
        my ($tok, $id) = $env->token_create('alice', name => $mpm);
        ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
        # No settle(): the changes' notifications may forget the entry, and
        # served_from_cache asks again until an answer comes from the cache.
        ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'a token answered from the cache');
        my @children = split /\s+/, `pgrep -P $env->{httpd_pid}`;
        cmp_ok(scalar @children, '>=', $mpm eq 'prefork' ? 5 : 2,
               scalar(@children) . ' children (mod_cgid\'s daemon among them)');
        is(listener_count($env), 1, 'one listener connection for all of them');
        my $w = $env->workdir("clone-$mpm");
        my ($rc) = $env->git('clone', '-q', $env->clone_url('alice', $tok, 'PROJ', 'repo'), $w);
        is($rc, 0, 'git clone');
        $env->cli_ok('revoke', $id);
        my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
        ok($ok, "revoked: refused without a restart ($tries requests)") or diag $seen;
    };
}

# Children that exit after a few connections: the one holding the listener
# goes too, and another takes over.  mod_watchdog lets the child that gets
# its lock after another held it wait ten seconds first: the three servers
# (each with its own PostgreSQL, whose listeners are counted) wait at once.
subtest 'when the child that holds the listener exits, another takes over' => sub {
    my (%mark, %holder);
    my @up = grep { $env{$_} } @MPMS;
    is_deeply(\@up, \@MPMS, 'every server started');
    for my $mpm (@up) {
        $mark{$mpm} = log_mark($env{$mpm});
        $env{$mpm}->httpd_restart(graceful => 1, extra_conf => "MaxConnectionsPerChild 5\n");
    }
    for my $mpm (@up) {
        my $env = $env{$mpm};
        ok(wait_log($env, $mark{$mpm}, qr/BBT309: /), "$mpm: the listener is up");
        my ($holder) = log_since($env, $mark{$mpm}) =~ /\[pid (\d+)[^\]]*\] BBT309: /;
        $holder{$mpm} = $holder;
        my $ua = HTTP::Tiny->new(keep_alive => 0, timeout => 20);
        my $deadline = time + 60;
        # Exited, not reaped: httpd reaps its children once a second, and
        # every request sent meanwhile brings another child nearer its end,
        # the new holder's too.
        $ua->get($env->url('/open-env/x')) while !exited($holder) && time < $deadline;
        ok(exited($holder), "$mpm: the child that held the listener ($holder) exited");
    }
    for my $mpm (@up) {
        my $env = $env{$mpm};
        my $holder = $holder{$mpm};
        ok(wait_log($env, $mark{$mpm}, qr/\[pid (?!$holder\b)\d+[^\]]*\] BBT309: the token cache's listener hears PostgreSQL/),
           "$mpm: another child took the listener over");
        is(listener_count($env), 1, "$mpm: one listener connection");
        is(scalar($env->crash_lines), 0, "$mpm: no httpd child crashed") or diag join "\n", $env->crash_lines;
    }
    $env{$_}->cleanup for @up;
};

done_testing;
